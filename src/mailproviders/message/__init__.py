"""Email messages: :class:`EmailMessage`, :class:`EmailMultiAlternatives` and their parts.

The message layer reads no settings: what a message does not set itself (sender, ``Date``
time zone) is filled in by the send functions, or taken from the process defaults when a
message is serialized on its own.

Modules: :mod:`.base` (the message), :mod:`.alternatives`, :mod:`.addresses`,
:mod:`.headers` (validation, encoding, folding), :mod:`.arguments` (argument types and
nesting, checked before anything is sent), :mod:`.mime` (attachments and
alternatives), :mod:`.serialize`, :mod:`.payloads` and :mod:`.stdlib` (the fast
serializer), :mod:`.hostname` (``DNS_NAME``, ``make_msgid``, dates), :mod:`.rendered` (a message
whose bytes are final).
"""

from mailproviders.message.addresses import Envelope
from mailproviders.message.alternatives import EmailMultiAlternatives
from mailproviders.message.base import EmailMessage
from mailproviders.message.hostname import DNS_NAME, make_msgid
from mailproviders.message.mime import (
    DEFAULT_ATTACHMENT_MIME_TYPE,
    EmailAlternative,
    EmailAttachment,
)
from mailproviders.message.rendered import RenderedMessage

__all__ = [
    "DEFAULT_ATTACHMENT_MIME_TYPE",
    "DNS_NAME",
    "EmailAlternative",
    "EmailAttachment",
    "EmailMessage",
    "EmailMultiAlternatives",
    "Envelope",
    "RenderedMessage",
    "make_msgid",
]
