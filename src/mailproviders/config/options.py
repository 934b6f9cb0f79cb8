"""The typed OPTIONS models of the built-in backends, and their validators.

The models describe what each built-in backend's ``__init__`` accepts, so OPTIONS are
checked when the configuration is loaded (and the JSON Schema is generated from them)
without importing the backend modules. A backend built directly (not through
``providers``) runs the same checks: :func:`smtp_problems`, :func:`directory_path`,
:func:`stream_option`. Which model belongs to which backend is said in
:mod:`mailproviders.registry`.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    FiniteFloat,
    SecretStr,
    WithJsonSchema,
)

from mailproviders.config.pool_options import PoolOption
from mailproviders.config.secretfiles import secret_file_schema
from mailproviders.config.values import decode_list, mask_dsn

__all__ = [
    "BuiltinOptions",
    "CompositeOptions",
    "ConsoleOptions",
    "FileOptions",
    "NoOptions",
    "SMTPOptions",
    "directory_path",
    "is_loopback",
    "plaintext_auth_problem",
    "smtp_problems",
    "stream_option",
]


def _fspath(value: Any) -> Any:
    return os.fspath(value) if isinstance(value, os.PathLike) else value


def _readable_file(value: str) -> str:
    path = Path(value)
    if not path.is_file():
        raise ValueError(f"expected an existing readable file, got {value!r} (no such file)")
    if not os.access(path, os.R_OK):
        raise ValueError(f"expected an existing readable file, got {value!r} (not readable)")
    return value


def directory_path(value: str) -> str:
    """``value`` if it can be the file backend's directory; raises ``ValueError``."""
    if not value:
        raise ValueError("expected a directory path, got ''")
    if Path(value).exists() and not Path(value).is_dir():
        raise ValueError(
            f"expected a directory (created if missing); {value!r} exists and is not a directory"
        )
    return value


def stream_option(value: Any) -> Any:
    """``value`` if it is ``"stdout"``, ``"stderr"`` or a text stream; raises ``ValueError``."""
    if isinstance(value, str):
        if value in ("stdout", "stderr"):
            return value
    elif callable(getattr(value, "write", None)):
        return value
    raise ValueError(f"expected 'stdout', 'stderr' or a text stream, got {value!r}")


ReadableFile = Annotated[str, BeforeValidator(_fspath), AfterValidator(_readable_file)]
DirectoryPath = Annotated[str, BeforeValidator(_fspath), AfterValidator(directory_path)]
StreamOption = Annotated[
    Any,
    BeforeValidator(stream_option),
    WithJsonSchema({"enum": ["stdout", "stderr"], "description": "stdout or stderr"}),
]


class BuiltinOptions(BaseModel):
    """Base of the built-in backends' OPTIONS models (unknown keys are errors)."""

    # defer_build: a model is built when first used, so a process pays only for the
    # backends it configures.
    model_config = ConfigDict(
        extra="forbid", frozen=True, hide_input_in_errors=True, defer_build=True
    )

    #: option → what is expected, used in error messages.
    EXPECTED: ClassVar[dict[str, str]] = {"fail_silently": "a boolean (true/false)"}

    fail_silently: bool = Field(
        False, description="Legacy: silence errors in the backend (prefer the send call's)."
    )
    __get_pydantic_json_schema__ = classmethod(secret_file_schema)  # <secret>_file keys

    def problems(self) -> list[tuple[str, str]]:
        """Problems spanning several options, as ``(option, message)`` pairs."""
        return []


class SMTPOptions(BuiltinOptions):
    """OPTIONS of ``mailproviders.backends.smtp.EmailBackend``."""

    EXPECTED: ClassVar[dict[str, str]] = {
        **BuiltinOptions.EXPECTED,
        "host": "a non-empty host name",
        "port": "an integer 1–65535",  # noqa: RUF001
        "username": "a string",
        "password": "a string",
        "use_tls": "a boolean (true/false)",
        "use_ssl": "a boolean (true/false)",
        "timeout": "a number of seconds > 0",
        "allow_plaintext_auth": "a boolean (true/false)",
        "pipelining": "a boolean (true/false)",
        "max_connections": "an integer >= 1",
    }

    host: str = Field(min_length=1, description="SMTP server host name (required).")
    port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="Port; default 465 with use_ssl, 587 with use_tls, else 25.",
    )
    username: str | None = Field(None, description="Login user; login only with a password too.")
    password: SecretStr | None = Field(None, description="Login password (secret).")
    use_tls: bool = Field(False, description="Require STARTTLS (mutually exclusive with use_ssl).")
    use_ssl: bool = Field(False, description="Implicit TLS (mutually exclusive with use_tls).")
    timeout: float = Field(30.0, gt=0, description="Socket timeout in seconds.")
    ssl_certfile: ReadableFile | None = Field(None, description="Client certificate (PEM file).")
    ssl_keyfile: ReadableFile | None = Field(None, description="Client certificate key.")
    ssl_cafile: ReadableFile | None = Field(None, description="CA bundle to verify the server.")
    allow_plaintext_auth: bool = Field(
        False,
        description="Allow login without TLS to a host that is not loopback (the password "
        "travels in clear); prefer use_tls (smtp+starttls://).",
    )
    pipelining: bool = Field(
        True,
        description="Send MAIL, RCPT and DATA together (RFC 2920) when the server "
        "advertises PIPELINING.",
    )
    max_connections: int = Field(
        1,
        ge=1,
        description="Connections one send_messages() call spreads its messages over "
        "(acceptance order may then differ from input order).",
    )
    pool: PoolOption = None

    model_config = ConfigDict(
        json_schema_extra={
            "not": {
                "required": ["use_tls", "use_ssl"],
                "properties": {"use_tls": {"const": True}, "use_ssl": {"const": True}},
            }
        }
    )

    def problems(self) -> list[tuple[str, str]]:
        """See :func:`smtp_problems` and :func:`plaintext_auth_problem`."""
        problems = smtp_problems(
            self.use_tls, self.use_ssl, self.ssl_certfile, self.ssl_keyfile, host=self.host
        )
        if not self.allow_plaintext_auth and self.username and self.password:
            problem = plaintext_auth_problem(self.host, self.use_tls, self.use_ssl)
            if problem is not None:
                problems.append(("allow_plaintext_auth", problem))
        return problems


def is_loopback(host: str) -> bool:
    """Whether ``host`` is ``localhost`` or a loopback address (127.0.0.0/8, ``::1``)."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def plaintext_auth_problem(host: str, use_tls: bool, use_ssl: bool) -> str | None:
    """Why logging in to ``host`` would send the password in clear, or ``None``: neither
    ``use_tls`` nor ``use_ssl`` is set and ``host`` is not loopback. A configuration must
    opt in with ``allow_plaintext_auth`` (the legacy ``EMAIL_*`` settings do, with a
    warning)."""
    if use_tls or use_ssl or is_loopback(host):
        return None
    return (
        f"username and password would be sent in plain text to {host} (neither use_tls nor "
        "use_ssl is set); use STARTTLS (smtp+starttls://user:password@host:587, or "
        "use_tls: true) or implicit TLS (smtps://, use_ssl: true), or set "
        "allow_plaintext_auth: true if this really is wanted"
    )


def smtp_problems(
    use_tls: bool,
    use_ssl: bool,
    ssl_certfile: object,
    ssl_keyfile: object,
    *,
    host: str | None = None,
) -> list[tuple[str, str]]:
    """Problems of SMTP options found by the backend too, as ``(option, message)`` pairs:
    ``use_tls`` and ``use_ssl`` exclude each other; ``ssl_keyfile`` needs ``ssl_certfile``;
    ``host`` is a host name, not a DSN or URL (shown with its password masked)."""
    problems = []
    if host is not None and "://" in host:
        problems.append(
            (
                "host",
                f"expected a host name, got a DSN or URL ({mask_dsn(host)!r}); give the "
                "DSN as the whole provider, or only the host name here",
            )
        )
    if use_tls and use_ssl:
        problems.append(
            (
                "use_ssl",
                "use_tls (STARTTLS) and use_ssl (implicit TLS) are mutually exclusive; "
                "set only one of them",
            )
        )
    if ssl_keyfile is not None and ssl_certfile is None:
        problems.append(("ssl_keyfile", "ssl_keyfile requires ssl_certfile"))
    return problems


class ConsoleOptions(BuiltinOptions):
    """OPTIONS of ``mailproviders.backends.console.EmailBackend``."""

    stream: StreamOption = Field(None, description="'stdout' (default) or 'stderr'.")


class FileOptions(BuiltinOptions):
    """OPTIONS of ``mailproviders.backends.filebased.EmailBackend``."""

    EXPECTED: ClassVar[dict[str, str]] = {
        **BuiltinOptions.EXPECTED,
        "file_path": "a directory path",
    }

    file_path: DirectoryPath = Field(description="Directory for the files (created if missing).")


def _alias_list(value: Any) -> Any:
    return decode_list(value, what="provider aliases", keep_empty=True)


def _distinct(aliases: list[str]) -> list[str]:
    twice = sorted({alias for alias in aliases if aliases.count(alias) > 1})
    if twice:
        raise ValueError(f"alias {twice[0]!r} is listed more than once")
    return aliases


AliasList = Annotated[
    list[Annotated[str, Field(min_length=1, strict=True)]],
    BeforeValidator(_alias_list),
    Field(min_length=1),
    AfterValidator(_distinct),
]


class CompositeOptions(BuiltinOptions):
    """OPTIONS of the ``failover`` and ``roundrobin`` backends.

    ``using`` lists other aliases of ``EMAIL_PROVIDERS``; that they exist and form no
    cycle is checked across providers when the configuration is loaded.
    """

    EXPECTED: ClassVar[dict[str, str]] = {
        **BuiltinOptions.EXPECTED,
        "using": "a non-empty list of provider aliases",
        "retry_period": "a number of seconds >= 0",
    }

    using: AliasList = Field(
        description="Aliases of the providers to send through, in order (required).",
        json_schema_extra={"uniqueItems": True},
    )
    retry_period: FiniteFloat = Field(60.0, ge=0, description="Seconds to skip a failed member.")


class NoOptions(BuiltinOptions):
    """OPTIONS of the locmem and dummy backends: only the legacy ``fail_silently``."""
