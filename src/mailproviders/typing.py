"""Static types of the configuration: TypedDicts and the :func:`provider` builder.

Annotate a configuration with :data:`EmailProvidersDict` and mypy checks each built-in
provider's ``BACKEND`` (a ``Literal`` of its names) and ``OPTIONS`` (a TypedDict)::

    EMAIL_PROVIDERS: EmailProvidersDict = {
        "default": {"BACKEND": "smtp", "OPTIONS": {"host": "smtp.example.com", "port": 587}},
        "log": "console://",
    }

For any other backend, :func:`provider` checks the options against the backend's own
``__init__`` (via ``ParamSpec``); a custom provider written as a dict names the class
itself as ``BACKEND`` (a string path would be indistinguishable from a misspelt
built-in, so mypy could check nothing).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from os import PathLike
from typing import (
    TYPE_CHECKING,
    Any,
    Literal,
    NotRequired,
    ParamSpec,
    Required,
    TextIO,
    TypeAlias,
    TypedDict,
    cast,
)

from pydantic import SecretStr

from mailproviders.config.api_options import (
    MailgunOptionsDict,
    PostmarkOptionsDict,
    ResendOptionsDict,
    SendGridOptionsDict,
    SESOptionsDict,
)
from mailproviders.config.policies import RateLimitDict, RedirectDict, RetryDict
from mailproviders.config.pool_options import SMTPPoolOptions, SMTPPoolOptionsDict
from mailproviders.config.queue_options import CeleryOptionsDict

if TYPE_CHECKING:
    from mailproviders.backends.base import BaseEmailBackend

__all__ = [
    "CeleryOptionsDict",
    "CeleryProviderDict",
    "CompositeOptionsDict",
    "ConsoleOptionsDict",
    "ConsoleProviderDict",
    "CustomProviderDict",
    "DummyProviderDict",
    "EmailProvidersDict",
    "FailoverProviderDict",
    "FileOptionsDict",
    "FileProviderDict",
    "LocmemProviderDict",
    "MailgunOptionsDict",
    "MailgunProviderDict",
    "NoOptionsDict",
    "PostmarkOptionsDict",
    "PostmarkProviderDict",
    "ProviderDefaultsDict",
    "ProviderDict",
    "ProviderKeysDict",
    "RateLimitDict",
    "RedirectDict",
    "ResendOptionsDict",
    "ResendProviderDict",
    "RetryDict",
    "RoundRobinProviderDict",
    "SESOptionsDict",
    "SESProviderDict",
    "SMTPOptionsDict",
    "SMTPPoolOptionsDict",
    "SMTPProviderDict",
    "SendGridOptionsDict",
    "SendGridProviderDict",
    "provider",
]

P = ParamSpec("P")

_Path: TypeAlias = str | PathLike[str]


class ProviderDefaultsDict(TypedDict, total=False):
    """``DEFAULTS`` of a provider: message defaults applied at send time."""

    from_email: str
    reply_to: list[str]
    headers: dict[str, str]


class ProviderKeysDict(TypedDict, total=False):
    """What every provider dict may have besides ``BACKEND`` and ``OPTIONS``."""

    DEFAULTS: ProviderDefaultsDict
    RETRY: RetryDict | int
    RATE_LIMIT: RateLimitDict | str
    REDIRECT: RedirectDict


class SMTPOptionsDict(TypedDict, total=False):
    """``OPTIONS`` of the SMTP backend (``host`` is required)."""

    host: Required[str]
    port: int | None
    username: str | None
    password: str | SecretStr | None
    password_file: str
    use_tls: bool
    use_ssl: bool
    timeout: float
    ssl_certfile: _Path | None
    ssl_keyfile: _Path | None
    ssl_cafile: _Path | None
    allow_plaintext_auth: bool
    pipelining: bool
    max_connections: int
    pool: SMTPPoolOptionsDict | SMTPPoolOptions | bool | None
    fail_silently: bool


class ConsoleOptionsDict(TypedDict, total=False):
    """``OPTIONS`` of the console backend."""

    stream: TextIO | Literal["stdout", "stderr"]
    fail_silently: bool


class FileOptionsDict(TypedDict, total=False):
    """``OPTIONS`` of the file backend (``file_path`` is required)."""

    file_path: Required[_Path]
    fail_silently: bool


class NoOptionsDict(TypedDict, total=False):
    """``OPTIONS`` of the locmem and dummy backends."""

    fail_silently: bool


class SMTPProviderDict(ProviderKeysDict):
    """An SMTP provider (``BACKEND`` may be omitted: SMTP is the default)."""

    BACKEND: NotRequired[Literal["smtp", "mailproviders.backends.smtp.EmailBackend"]]
    OPTIONS: SMTPOptionsDict


class ConsoleProviderDict(ProviderKeysDict):
    """A console provider."""

    BACKEND: Literal["console", "mailproviders.backends.console.EmailBackend"]
    OPTIONS: NotRequired[ConsoleOptionsDict]


class FileProviderDict(ProviderKeysDict):
    """A file provider."""

    BACKEND: Literal["filebased", "file", "mailproviders.backends.filebased.EmailBackend"]
    OPTIONS: FileOptionsDict


class LocmemProviderDict(ProviderKeysDict):
    """A locmem provider (messages go to ``mailproviders.outbox``)."""

    BACKEND: Literal["locmem", "mailproviders.backends.locmem.EmailBackend"]
    OPTIONS: NotRequired[NoOptionsDict]


class DummyProviderDict(ProviderKeysDict):
    """A dummy provider (sends nothing)."""

    BACKEND: Literal["dummy", "mailproviders.backends.dummy.EmailBackend"]
    OPTIONS: NotRequired[NoOptionsDict]


class CompositeOptionsDict(TypedDict, total=False):
    """``OPTIONS`` of the failover and round-robin backends (``using`` is required)."""

    using: Required[list[str]]
    retry_period: float
    fail_silently: bool


class FailoverProviderDict(ProviderKeysDict):
    """A failover provider: ``using`` lists the aliases to try, in order."""

    BACKEND: Literal["failover", "mailproviders.backends.failover.EmailBackend"]
    OPTIONS: CompositeOptionsDict


class RoundRobinProviderDict(ProviderKeysDict):
    """A round-robin provider: messages are spread over the aliases in ``using``."""

    BACKEND: Literal["roundrobin", "mailproviders.backends.roundrobin.EmailBackend"]
    OPTIONS: CompositeOptionsDict


class SESProviderDict(ProviderKeysDict):
    """An Amazon SES provider (SES v2 API through boto3)."""

    BACKEND: Literal["ses", "mailproviders.backends.http.ses.EmailBackend"]
    OPTIONS: NotRequired[SESOptionsDict]


class MailgunProviderDict(ProviderKeysDict):
    """A Mailgun provider."""

    BACKEND: Literal["mailgun", "mailproviders.backends.http.mailgun.EmailBackend"]
    OPTIONS: MailgunOptionsDict


class PostmarkProviderDict(ProviderKeysDict):
    """A Postmark provider."""

    BACKEND: Literal["postmark", "mailproviders.backends.http.postmark.EmailBackend"]
    OPTIONS: PostmarkOptionsDict


class SendGridProviderDict(ProviderKeysDict):
    """A SendGrid provider."""

    BACKEND: Literal["sendgrid", "mailproviders.backends.http.sendgrid.EmailBackend"]
    OPTIONS: SendGridOptionsDict


class ResendProviderDict(ProviderKeysDict):
    """A Resend provider."""

    BACKEND: Literal["resend", "mailproviders.backends.http.resend.EmailBackend"]
    OPTIONS: ResendOptionsDict


class CeleryProviderDict(ProviderKeysDict):
    """A Celery queue provider: a worker delivers through ``deliver_with``."""

    BACKEND: Literal["celery", "mailproviders.backends.celery.EmailBackend"]
    OPTIONS: CeleryOptionsDict


class CustomProviderDict(ProviderKeysDict):
    """A provider of any backend class, as returned by :func:`provider`."""

    BACKEND: type[BaseEmailBackend]
    OPTIONS: NotRequired[Mapping[str, Any]]


#: Any provider written as a dict.
ProviderDict: TypeAlias = (
    SMTPProviderDict
    | ConsoleProviderDict
    | FileProviderDict
    | LocmemProviderDict
    | DummyProviderDict
    | FailoverProviderDict
    | RoundRobinProviderDict
    | SESProviderDict
    | MailgunProviderDict
    | PostmarkProviderDict
    | SendGridProviderDict
    | ResendProviderDict
    | CeleryProviderDict
    | CustomProviderDict
)

#: The type of ``EMAIL_PROVIDERS``: alias → provider dict or DSN string.
EmailProvidersDict: TypeAlias = dict[str, ProviderDict | str]


def provider(
    backend: Callable[P, BaseEmailBackend], /, *args: P.args, **options: P.kwargs
) -> CustomProviderDict:
    """A provider dict for ``backend`` with ``options``, checked by mypy against its ``__init__``.

    ``provider(SMTPBackend, host="smtp.example.com", port=587)``. Raises ``TypeError`` at
    run time for positional options, for ``alias`` (set from the provider's name) and when
    ``backend`` is not a ``BaseEmailBackend`` subclass.
    """
    from mailproviders.backends.base import BaseEmailBackend

    if args:
        raise TypeError("provider() takes the backend options as keyword arguments only")
    if not (isinstance(backend, type) and issubclass(backend, BaseEmailBackend)):
        raise TypeError(f"provider() needs a BaseEmailBackend subclass, got {backend!r}")
    if "alias" in options:
        raise TypeError("alias is reserved: it is set from the provider's name")
    return cast(CustomProviderDict, {"BACKEND": backend, "OPTIONS": dict(options)})
