"""OPTIONS models of the HTTP API backends: Amazon SES, Mailgun, Postmark, SendGrid, Resend.

Like :mod:`mailproviders.config.options`, the models describe what each backend's
``__init__`` accepts, so OPTIONS are checked at load time without importing httpx or
boto3. Keys and tokens are ``SecretStr``: masked in ``repr()``, errors and CLI output.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, ClassVar, Literal, Required, TypedDict
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field, SecretStr

from mailproviders.config.options import BuiltinOptions

__all__ = [
    "APIOptions",
    "MailgunOptions",
    "MailgunOptionsDict",
    "PostmarkOptions",
    "PostmarkOptionsDict",
    "ResendOptions",
    "ResendOptionsDict",
    "SESOptions",
    "SESOptionsDict",
    "SendGridOptions",
    "SendGridOptionsDict",
    "endpoint_url",
    "is_loopback",
]

_AWS_REGION = r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$"


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or IP literal, brackets allowed) is this machine."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def endpoint_url(value: str) -> str:
    """``value`` without a trailing ``/`` if it can be an API endpoint; raises ``ValueError``.

    An endpoint is ``https://host[:port][/path]``; ``http://`` only for a loopback host
    (a test server or a local proxy): a key must never travel in clear text.
    """
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise ValueError("expected a URL such as https://api.example.com") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected a URL such as https://api.example.com, got {value!r}")
    if parts.username is not None or parts.password is not None:
        raise ValueError("the endpoint URL takes no user or password; give the key as an option")
    if parts.query or parts.fragment:
        raise ValueError(f"the endpoint URL takes no ?query or #fragment, got {value!r}")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError(
            f"http:// sends the key in clear text: allowed only for a loopback host "
            f"(127.0.0.1, ::1, localhost), got {value!r}; use https://"
        )
    del port  # parsed only to reject a bad one
    return value.rstrip("/")


def _secret(value: Any) -> Any:
    # Never echo the value: a key given with the wrong type is still a key.
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got a value of type {type(value).__name__}")
    if not value.strip():
        raise ValueError("expected a non-empty key, got an empty string")
    return value


Secret = Annotated[SecretStr, BeforeValidator(_secret)]
Endpoint = Annotated[str, AfterValidator(endpoint_url)]


class APIOptions(BuiltinOptions):
    """Options every HTTP API backend has: ``endpoint`` and ``timeout``."""

    EXPECTED: ClassVar[dict[str, str]] = {
        **BuiltinOptions.EXPECTED,
        "endpoint": "an https:// URL (http:// only for a loopback host)",
        "timeout": "a number of seconds > 0",
    }

    endpoint: Endpoint | None = Field(
        None, description="API base URL; default: the provider's public endpoint."
    )
    timeout: float = Field(
        30.0, gt=0, description="Seconds to connect, and for each read and write."
    )


class SESOptions(APIOptions):
    """OPTIONS of ``mailproviders.backends.http.ses.EmailBackend`` (Amazon SES v2)."""

    EXPECTED: ClassVar[dict[str, str]] = {
        **APIOptions.EXPECTED,
        "region": "an AWS region such as eu-west-1",
    }

    access_key_id: str | None = Field(
        None, min_length=1, description="AWS access key id; default: boto3's credential chain."
    )
    secret_access_key: Secret | None = Field(None, description="AWS secret access key.")
    region: Annotated[str, Field(pattern=_AWS_REGION)] | None = Field(
        None, description="AWS region, e.g. eu-west-1; default: boto3's (AWS_REGION...)."
    )
    configuration_set: str | None = Field(
        None, min_length=1, description="SES configuration set to send with."
    )

    def problems(self) -> list[tuple[str, str]]:
        """``access_key_id`` and ``secret_access_key`` go together."""
        if (self.access_key_id is None) != (self.secret_access_key is None):
            return [
                (
                    "secret_access_key",
                    "access_key_id and secret_access_key go together: give both, or "
                    "neither to use boto3's credential chain",
                )
            ]
        return []


class MailgunOptions(APIOptions):
    """OPTIONS of ``mailproviders.backends.http.mailgun.EmailBackend``."""

    EXPECTED: ClassVar[dict[str, str]] = {**APIOptions.EXPECTED, "region": "'us' or 'eu'"}

    api_key: Secret = Field(description="Mailgun API key or domain sending key (required).")
    domain: str = Field(min_length=1, description="Sending domain (required).")
    region: Literal["us", "eu"] = Field("us", description="us (api.mailgun.net) or eu.")


class PostmarkOptions(APIOptions):
    """OPTIONS of ``mailproviders.backends.http.postmark.EmailBackend``."""

    server_token: Secret = Field(description="Postmark server API token (required).")
    message_stream: str | None = Field(
        None, min_length=1, description="Message stream; default: the server's 'outbound'."
    )


class SendGridOptions(APIOptions):
    """OPTIONS of ``mailproviders.backends.http.sendgrid.EmailBackend``."""

    EXPECTED: ClassVar[dict[str, str]] = {**APIOptions.EXPECTED, "region": "'global' or 'eu'"}

    api_key: Secret = Field(description="SendGrid API key (required).")
    region: Literal["global", "eu"] = Field(
        "global", description="global (api.sendgrid.com) or eu (api.eu.sendgrid.com)."
    )


class ResendOptions(APIOptions):
    """OPTIONS of ``mailproviders.backends.http.resend.EmailBackend``."""

    api_key: Secret = Field(description="Resend API key (required).")


# The TypedDicts of these OPTIONS, for mypy (re-exported by mailproviders.typing).


class _APIOptionsDict(TypedDict, total=False):
    endpoint: str | None
    timeout: float
    fail_silently: bool


class SESOptionsDict(_APIOptionsDict, total=False):
    """``OPTIONS`` of the Amazon SES backend (credentials default to boto3's chain)."""

    access_key_id: str | None
    secret_access_key: str | SecretStr | None
    secret_access_key_file: str
    region: str | None
    configuration_set: str | None


class MailgunOptionsDict(_APIOptionsDict, total=False):
    """``OPTIONS`` of the Mailgun backend (``api_key`` or ``api_key_file``, and ``domain``,
    are required)."""

    api_key: str | SecretStr
    api_key_file: str
    domain: Required[str]
    region: Literal["us", "eu"]


class PostmarkOptionsDict(_APIOptionsDict, total=False):
    """``OPTIONS`` of the Postmark backend (``server_token`` or ``server_token_file`` is
    required)."""

    server_token: str | SecretStr
    server_token_file: str
    message_stream: str | None


class SendGridOptionsDict(_APIOptionsDict, total=False):
    """``OPTIONS`` of the SendGrid backend (``api_key`` or ``api_key_file`` is required)."""

    api_key: str | SecretStr
    api_key_file: str
    region: Literal["global", "eu"]


class ResendOptionsDict(_APIOptionsDict, total=False):
    """``OPTIONS`` of the Resend backend (``api_key`` or ``api_key_file`` is required)."""

    api_key: str | SecretStr
    api_key_file: str
