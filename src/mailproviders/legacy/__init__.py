"""Everything that keeps legacy (Django-style) mail code working: the top layer.

Nothing below this package imports it. Importing it (the package ``__init__`` does)
installs :class:`LegacyCompat` as ``mailproviders._hooks.compat``, the one place where the
core hands over older calling conventions:

- legacy ``EMAIL_*`` settings become the ``"default"`` provider (:mod:`.settings`);
- ``get_connection()``, ``SMTPConnection``, ``connection=`` and ``auth_user``/
  ``auth_password`` on the send functions (:mod:`.connections`);
- the backend-level ``fail_silently`` (:mod:`.fail_silently`) and unknown options given to
  a backend built directly;
- ``EmailMessage(connection=...)``.

Each use warns with :class:`MailProvidersDeprecationWarning`, pointing at the caller's
line and naming the replacement.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from typing import TYPE_CHECKING, Any

from mailproviders import _hooks
from mailproviders.backends.base import NOT_GIVEN, BaseEmailBackend
from mailproviders.legacy import fail_silently as backend_flag
from mailproviders.legacy.connections import (
    get_connection,
    prep_address,
    send_target,
    smtp_connection_class,
)
from mailproviders.legacy.settings import LEGACY_SETTINGS, legacy_provider, legacy_values, migrated
from mailproviders.legacy.warnings import (
    CONNECTION_ARGUMENT,
    PROVIDERS_ALIAS,
    MailProvidersDeprecationWarning,
    bad_header_error,
    warn_deprecated,
)

if TYPE_CHECKING:
    from mailproviders.backends.smtp import EmailBackend as SMTPConnection

    BadHeaderError = ValueError
    SafeMIMEText = MIMEText
    SafeMIMEMultipart = MIMEMultipart
    from mailproviders.config.settings import MailSettings
    from mailproviders.message import EmailMessage

__all__ = [
    "LEGACY_SETTINGS",
    "BadHeaderError",
    "LegacyCompat",
    "MailProvidersDeprecationWarning",
    "SMTPConnection",
    "SafeMIMEMultipart",
    "SafeMIMEText",
    "bad_header_error",
    "get_connection",
    "legacy_provider",
    "legacy_values",
    "warn_deprecated",
]


class LegacyCompat(_hooks.Compat):
    """The lenient implementation of the core's compatibility hooks: older calling
    conventions keep working, each with a deprecation warning."""

    def backend_built(
        self, backend: BaseEmailBackend, extra: Mapping[str, Any], fail_silently: object
    ) -> None:
        name = type(backend).__qualname__
        if extra:
            warn_deprecated(
                f"{name} got unknown option(s) {', '.join(sorted(extra))}; they are "
                "ignored. Remove them (in EMAIL_PROVIDERS, unknown options are an error)."
            )
        if fail_silently is not NOT_GIVEN:
            warn_deprecated(
                f"fail_silently given to {name}() is deprecated; pass fail_silently to the "
                "send call instead, e.g. send_mail(..., fail_silently=True) or "
                "message.send(fail_silently=True)."
            )
            backend_flag.install(backend, bool(fail_silently))

    def backend_attribute(self, backend: BaseEmailBackend, name: str) -> Any:
        if name == "prep_address" and backend_flag.is_smtp(backend):
            return prep_address
        if name != "fail_silently":
            return super().backend_attribute(backend, name)
        warn_deprecated(
            f"BaseEmailBackend.fail_silently is deprecated. {type(backend).__qualname__} does "
            "not set it; pass fail_silently to the send call instead."
        )
        return False

    def backend_silenced(self, backend: BaseEmailBackend) -> bool:
        return backend_flag.is_silenced(backend)

    def message_connection(self, message: EmailMessage) -> None:
        warn_deprecated(f"{CONNECTION_ARGUMENT} Send with message.send(using='<alias>').")

    def message_connection_attribute(
        self, message: object, value: object, *, setting: bool
    ) -> None:
        if setting:
            warn_deprecated(
                "The EmailMessage.connection attribute is deprecated. Switch to "
                f"EmailMessage.send(using=...) with {PROVIDERS_ALIAS}."
            )
        else:
            warn_deprecated(
                "The EmailMessage.connection attribute is deprecated. Send with "
                "EmailMessage.send(using='<alias>') instead."
            )

    def send_target(
        self,
        using: str | None,
        connection: BaseEmailBackend | None,
        auth: tuple[str | None, str | None],
    ) -> tuple[BaseEmailBackend, str | None, bool]:
        return send_target(using, connection, auth)

    def positional_arguments(self, function: str, names: tuple[str, ...]) -> None:
        quoted = ", ".join(repr(name) for name in names)
        warn_deprecated(
            f"Passing positional argument(s) {quoted} to {function}() is deprecated. "
            f"Pass them by keyword, e.g. {names[0]}=..."
        )

    def mime_attachment(self, kind: str) -> None:
        warn_deprecated(
            "MIMEBase attachments are deprecated. Use an email.message.MIMEPart instead. "
            f"(This one is a {kind} of email.mime; set a MIMEPart's content with "
            "set_content().)"
        )

    def lazy_text(self, value: object) -> str | None:
        # Django's lazy strings (gettext_lazy, format_lazy) are Promise objects: the text
        # is str() of them, computed now. Nothing else is taken for a string.
        lazy = any(
            cls.__name__ == "Promise" and cls.__module__ == "django.utils.functional"
            for cls in type(value).__mro__
        )
        return str(value) if lazy else None

    def address_pairs(self, setting: str, value: list[Any]) -> list[Any]:
        warn_deprecated(
            f"Using (name, address) pairs in the {setting} setting is deprecated. Give "
            f'a list of address strings instead, e.g. {setting}=["Name <name@example.com>"]'
        )
        return [
            item[1] if isinstance(item, list | tuple) and len(item) == 2 else item
            for item in value
        ]

    def settings_loaded(self, settings: MailSettings) -> MailSettings:
        return migrated(settings)


_hooks.compat = LegacyCompat()

_lazy: dict[str, Any] = {}


#: Django's own MIME classes, deprecated there: the standard-library classes they extended.
_SAFE_MIME = {"SafeMIMEText": MIMEText, "SafeMIMEMultipart": MIMEMultipart}


def __getattr__(name: str) -> Any:
    if name == "BadHeaderError":
        return bad_header_error()
    if name in _SAFE_MIME:
        warn_deprecated(
            f"{name} is deprecated. The return value of EmailMessage.message() is an "
            f"email.message.EmailMessage. (Here {name} is {_SAFE_MIME[name].__qualname__} "
            "of email.mime.)"
        )
        return _SAFE_MIME[name]
    if name == "SMTPConnection":
        if name not in _lazy:
            _lazy[name] = smtp_connection_class()
        return _lazy[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
