"""mailproviders: named, typed, configuration-driven email providers.

Configure ``EMAIL_PROVIDERS`` (environment, ``.env`` or :func:`configure`), then send with
``send_mail(..., using="alias")`` or get a backend with ``providers["alias"]``.
"""

import importlib
from typing import TYPE_CHECKING

from mailproviders.deprecation import MailProvidersDeprecationWarning, get_connection
from mailproviders.exceptions import (
    EmailProviderDoesNotExist,
    ImproperlyConfigured,
    InvalidEmailProvider,
    sent_messages_of,
)
from mailproviders.handler import ProvidersHandler, configure, providers
from mailproviders.settings import MailSettings

if TYPE_CHECKING:
    from mailproviders.asending import amail_admins, amail_managers, asend_mail, asend_mass_mail
    from mailproviders.backends.locmem import outbox
    from mailproviders.message import (
        DNS_NAME,
        EmailAlternative,
        EmailAttachment,
        EmailMessage,
        EmailMultiAlternatives,
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


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value
        return value
    # Deprecated, built on first access (see mailproviders.deprecation).
    if name == "SMTPConnection":
        from mailproviders import deprecation

        return deprecation.SMTPConnection
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
