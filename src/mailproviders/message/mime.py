"""MIME bodies: attachments and alternatives added to a standard-library message."""

from __future__ import annotations

import email
import email.message
import mimetypes
from email.policy import Policy
from typing import TYPE_CHECKING, NamedTuple, Union

from mailproviders.message.headers import check_no_line_breaks

if TYPE_CHECKING:
    from mailproviders.message import EmailMessage

__all__ = [
    "DEFAULT_ATTACHMENT_MIME_TYPE",
    "AttachmentContent",
    "EmailAlternative",
    "EmailAttachment",
    "add_alternative",
    "add_attachment",
    "decode_text",
    "new_attachment",
]

DEFAULT_ATTACHMENT_MIME_TYPE = "application/octet-stream"

AttachmentContent = Union[str, bytes, email.message.Message, "EmailMessage"]


class EmailAttachment(NamedTuple):
    """An attachment: file name (may be ``None``), content, MIME type."""

    filename: str | None
    content: AttachmentContent
    mimetype: str


class EmailAlternative(NamedTuple):
    """An alternative representation of the body (e.g. HTML): content, MIME type."""

    content: str | bytes
    mimetype: str


def decode_text(content: bytes, mimetype: str, charset: str) -> tuple[str | bytes, str]:
    """Decode text/* bytes; bytes not valid in ``charset`` stay bytes, as octet-stream."""
    try:
        return content.decode(charset), mimetype
    except (UnicodeDecodeError, LookupError):
        return content, DEFAULT_ATTACHMENT_MIME_TYPE


def new_attachment(
    filename: str | None, content: AttachmentContent | None, mimetype: str | None, charset: str
) -> EmailAttachment:
    """An attachment, its type guessed from ``filename`` when not given.

    Raises:
        ValueError: ``content`` is None, or the MIME type has no ``/``.
    """
    if content is None:
        raise ValueError("attach() needs content (or a MIMEPart)")
    if mimetype is None:
        guessed = mimetypes.guess_type(filename)[0] if filename else None
        mimetype = guessed or DEFAULT_ATTACHMENT_MIME_TYPE
    if "/" not in mimetype:
        raise ValueError(f"Invalid MIME type {mimetype!r} (expected type/subtype)")
    if mimetype.startswith("text/") and isinstance(content, bytes):
        content, mimetype = decode_text(content, mimetype, charset)
    return EmailAttachment(filename, content, mimetype)


def _as_message(content: object, policy: Policy, charset: str) -> email.message.Message:
    if isinstance(content, email.message.Message):
        return content
    if isinstance(content, str | bytes | bytearray):
        raw = content.encode(charset) if isinstance(content, str) else bytes(content)
        return email.message_from_bytes(raw, policy=policy)
    return content.message(policy=policy)  # type: ignore[attr-defined, no-any-return]


def add_attachment(
    msg: email.message.EmailMessage,
    filename: str | None,
    content: object,
    mimetype: str,
    charset: str,
) -> None:
    """Add one attachment to ``msg`` (made multipart/mixed by the caller).

    message/* content may be one of our messages, a standard-library message, or
    its bytes/str; text/* is encoded in ``charset``; anything else goes as bytes.

    Raises:
        ValueError: ``mimetype`` has no ``/``, or ``filename`` has a line break or another
            control character (it goes into the Content-Disposition header).
    """
    if filename is not None:
        check_no_line_breaks("Content-Disposition", filename)
    if mimetype.startswith("text/") and isinstance(content, bytes):
        content, mimetype = decode_text(content, mimetype, charset)
    maintype, subtype = mimetype.split("/", 1)
    if maintype == "text" and isinstance(content, str):
        msg.add_attachment(content, subtype=subtype, filename=filename, charset=charset)
    elif maintype == "message":
        attached = _as_message(content, msg.policy, charset)
        msg.add_attachment(attached, subtype=subtype, filename=filename)
    else:
        data = _as_bytes(content, charset)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)


def _as_bytes(content: object, charset: str) -> bytes:
    if isinstance(content, str):
        return content.encode(charset)
    if isinstance(content, bytes | bytearray | memoryview):
        return bytes(content)
    if isinstance(content, email.message.Message):
        return content.as_bytes()
    return content.as_bytes()  # type: ignore[attr-defined, no-any-return]


def add_alternative(
    msg: email.message.EmailMessage, content: str | bytes, mimetype: str, charset: str
) -> None:
    """Add one alternative body to ``msg`` (made multipart/alternative by the caller).

    Raises:
        UnicodeDecodeError: text/* bytes not valid in ``charset``.
    """
    maintype, subtype = mimetype.split("/", 1)
    if maintype == "text":
        text = content.decode(charset) if isinstance(content, bytes) else content
        msg.add_alternative(text, subtype=subtype, charset=charset)
    else:
        data = content.encode(charset) if isinstance(content, str) else content
        msg.add_alternative(data, maintype=maintype, subtype=subtype)
