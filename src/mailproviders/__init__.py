"""mailproviders: named, typed, configuration-driven email providers.

Configure ``EMAIL_PROVIDERS`` (environment, ``.env`` or :func:`configure`), then send with
``send_mail(..., using="alias")`` or get a backend with ``providers["alias"]``.
"""

from mailproviders.backends.locmem import outbox
from mailproviders.deprecation import MailProvidersDeprecationWarning, get_connection
from mailproviders.exceptions import (
    EmailProviderDoesNotExist,
    ImproperlyConfigured,
    InvalidEmailProvider,
    sent_messages_of,
)
from mailproviders.handler import ProvidersHandler, configure, providers
from mailproviders.message import (
    DNS_NAME,
    EmailAlternative,
    EmailAttachment,
    EmailMessage,
    EmailMultiAlternatives,
    make_msgid,
)
from mailproviders.sending import mail_admins, mail_managers, send_mail, send_mass_mail
from mailproviders.settings import MailSettings

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
    # Deprecated, built on first access (see mailproviders.deprecation).
    if name == "SMTPConnection":
        from mailproviders import deprecation

        return deprecation.SMTPConnection
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
