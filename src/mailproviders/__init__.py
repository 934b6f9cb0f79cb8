"""mailproviders: named, typed, configuration-driven email providers.

Configure ``EMAIL_PROVIDERS`` (environment, ``.env`` or :func:`configure`), then send with
``send_mail(..., using="alias")`` or get a backend with ``providers["alias"]``.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING

from mailproviders import _hooks, config, legacy
from mailproviders import delivery as _delivery  # noqa: F401 - fills _hooks.member_send
from mailproviders.config.settings import MailSettings
from mailproviders.exceptions import (
    EmailProviderDoesNotExist,
    ImproperlyConfigured,
    InvalidEmailProvider,
    sent_messages_of,
)
from mailproviders.handler import ProvidersHandler, configure, providers
from mailproviders.legacy import MailProvidersDeprecationWarning, get_connection

if TYPE_CHECKING:
    from mailproviders.asending import amail_admins, amail_managers, asend_mail, asend_mass_mail
    from mailproviders.backends.locmem import outbox

    # Deprecated, not in __all__:
    from mailproviders.legacy import BadHeaderError, SMTPConnection  # noqa: F401
    from mailproviders.message import (
        DNS_NAME,
        EmailAlternative,
        EmailAttachment,
        EmailMessage,
        EmailMultiAlternatives,
        RenderedMessage,
        make_msgid,
    )
    from mailproviders.sending import mail_admins, mail_managers, send_mail, send_mass_mail

# Imported on first use: a process that only configures and looks up providers does
# not pay for the email package and the message layer.
_LAZY = {
    "outbox": "mailproviders.backends.locmem",
    **dict.fromkeys(
        (
            "DNS_NAME",
            "EmailAlternative",
            "EmailAttachment",
            "EmailMessage",
            "EmailMultiAlternatives",
            "RenderedMessage",
            "make_msgid",
        ),
        "mailproviders.message",
    ),
    **dict.fromkeys(
        ("amail_admins", "amail_managers", "asend_mail", "asend_mass_mail"),
        "mailproviders.asending",
    ),
    **dict.fromkeys(
        ("mail_admins", "mail_managers", "send_mail", "send_mass_mail"),
        "mailproviders.sending",
    ),
}

__all__ = [
    "DNS_NAME",
    "EmailAlternative",
    "EmailAttachment",
    "EmailMessage",
    "EmailMultiAlternatives",
    "EmailProviderDoesNotExist",
    "ImproperlyConfigured",
    "InvalidEmailProvider",
    "MailProvidersDeprecationWarning",
    "MailSettings",
    "ProvidersHandler",
    "RenderedMessage",
    "amail_admins",
    "amail_managers",
    "asend_mail",
    "asend_mass_mail",
    "configure",
    "get_connection",
    "mail_admins",
    "mail_managers",
    "make_msgid",
    "outbox",
    "providers",
    "send_mail",
    "send_mass_mail",
    "sent_messages_of",
]


class _Dispatch:
    """What ``EmailMessage.send()``/``asend()`` call: the send functions, imported on the
    first send (the message layer sits below them and cannot import them)."""

    def send(self, message: EmailMessage, *, fail_silently: bool, using: str | None) -> int:
        from mailproviders.sending import send_email_message

        return send_email_message(message, fail_silently=fail_silently, using=using)

    async def asend(self, message: EmailMessage, *, fail_silently: bool, using: str | None) -> int:
        from mailproviders.asending import asend_email_message

        return await asend_email_message(message, fail_silently=fail_silently, using=using)


_hooks.dispatch = _Dispatch()

# Import paths of earlier releases: mailproviders.deprecation is the legacy layer,
# mailproviders.settings the configuration package.
deprecation = legacy
settings = config
sys.modules.setdefault(f"{__name__}.deprecation", legacy)
sys.modules.setdefault(f"{__name__}.settings", config)


def __getattr__(name: str) -> object:
    if name == "hooks":  # the public hooks API (mailproviders.hooks), on first use
        return importlib.import_module(f"{__name__}.hooks")
    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value
        return value
    # Deprecated, built on first access (see mailproviders.legacy).
    if name == "SMTPConnection":
        return legacy.SMTPConnection
    if name == "BadHeaderError":
        return legacy.bad_header_error()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, "hooks"})
