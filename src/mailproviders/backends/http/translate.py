"""From an :class:`~mailproviders.message.EmailMessage` to the parts an email API takes.

Every HTTP API backend sends what :func:`translate` returns; what an API cannot carry is a
``ValueError`` naming the provider alias and the attribute or header, never dropped.
``message.tags`` (a list of strings) and ``message.metadata`` (a mapping of strings) are
plain attributes an application sets on a message; they are read here with ``getattr``.
"""

from __future__ import annotations

import email.message
import email.utils
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from mailproviders.message.addresses import Mailbox, parse_address_list, parse_mailbox
from mailproviders.message.headers import check_header_name, check_no_line_breaks
from mailproviders.message.mime import EmailAttachment

if TYPE_CHECKING:
    from mailproviders.message import EmailMessage

__all__ = ["APIMessage", "Address", "Attachment", "Features", "name_value_tags", "translate"]

_SPECIALS = re.compile(r'[()<>\[\]:;@\\,."]')
#: What SES and Resend accept in a tag name or value.
_TAG_TEXT = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
#: Headers the API builds from fields of its own: setting them as headers cannot work.
_BUILT_BY_API = ("to", "cc", "bcc", "mime-version", "content-")


class Address(NamedTuple):
    """One address: ``email`` (addr-spec) and display ``name`` (may be empty)."""

    email: str
    name: str

    @property
    def formatted(self) -> str:
        """``Name <email>``, the name quoted when it needs to be; the bare address without."""
        if not self.name:
            return self.email
        name = self.name
        if _SPECIALS.search(name):
            name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return f"{name} <{self.email}>"


def _address(mailbox: Mailbox) -> Address:
    return Address(mailbox.addr_spec, mailbox.display_name)


@dataclass(frozen=True)
class Attachment:
    """One attachment; ``content_id`` (without ``<>``) is set for an inline part."""

    filename: str | None
    content: bytes
    mimetype: str
    content_id: str | None = None


@dataclass(frozen=True)
class Features:
    """What an API takes beyond the basics: its name, how many tags, and whether tags and
    metadata travel as name/value pairs limited to ASCII letters, digits, ``_`` and ``-``."""

    api: str
    max_tags: int
    name_value_tags: bool = False


@dataclass
class APIMessage:
    """A message as an email API takes it."""

    sender: Address
    to: list[Address]
    cc: list[Address]
    bcc: list[Address]
    reply_to: list[Address]
    subject: str
    text: str | None
    html: str | None
    attachments: list[Attachment] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)


class _Problem:
    def __init__(self, features: Features, alias: str | None) -> None:
        self.prefix = f"provider {alias!r} ({features.api} API): "

    def __call__(self, text: str) -> ValueError:
        return ValueError(self.prefix + text)


def translate(message: EmailMessage, features: Features, alias: str | None) -> APIMessage:
    """``message`` as ``features.api`` takes it.

    Raises ``ValueError`` naming the provider and the attribute or header for an invalid
    address or header, or a feature the API does not have (an alternative other than one
    text/html, a multipart attachment, a To/Cc/Content-* header, too many tags...).
    """
    problem = _Problem(features, alias)
    sender = _address(parse_mailbox(message.resolved_from_email(), "From"))
    reply_to = [_address(parse_mailbox(str(a), "Reply-To")) for a in message.reply_to if a]
    subject = str(message.subject)
    headers: dict[str, str] = {}
    for name, value in message.extra_headers.items():
        check_header_name(name)
        if isinstance(value, list | tuple):
            text = ", ".join(str(item) for item in value)
        else:
            text = (
                email.utils.format_datetime(value) if isinstance(value, datetime) else str(value)
            )
        check_no_line_breaks(name, text)
        lower = name.lower()
        if lower == "bcc":
            raise ValueError("Bcc must not be given in headers; use bcc=[...]")
        if lower.startswith(_BUILT_BY_API):
            raise problem(f"header {name!r} cannot be set: the API builds it (use to=/cc=)")
        if lower == "from":
            sender = _address(parse_address_list(text, "From")[0])
        elif lower == "reply-to":
            reply_to = [_address(mailbox) for mailbox in parse_address_list(text, "Reply-To")]
        elif lower == "subject":
            subject = text
        else:
            headers[name] = text
    text_body, html = _bodies(message, problem)
    tags, metadata = tags_and_metadata(message, features, problem)
    return APIMessage(
        sender=sender,
        to=_recipients(message.to, "To"),
        cc=_recipients(message.cc, "Cc"),
        bcc=_recipients(message.bcc, "Bcc"),
        reply_to=reply_to,
        subject=subject,
        text=text_body,
        html=html,
        attachments=[_attachment(item, message, problem) for item in message.attachments],
        headers=headers,
        tags=tags,
        metadata=metadata,
    )


def _recipients(addresses: Iterable[str], header: str) -> list[Address]:
    return [_address(parse_mailbox(str(address), header)) for address in addresses if address]


def _bodies(message: EmailMessage, problem: _Problem) -> tuple[str | None, str | None]:
    subtype = message.content_subtype
    if subtype not in ("plain", "html"):
        raise problem(f"content_subtype {subtype!r}: the API takes text/plain and text/html")
    text = message.body if subtype == "plain" else None
    html = message.body if subtype == "html" else None
    for content, mimetype in getattr(message, "alternatives", ()):
        if mimetype.split(";")[0].strip().lower() != "text/html" or html is not None:
            raise problem(
                f"alternative {mimetype!r}: the API takes one text/html alternative to a "
                "text/plain body"
            )
        charset = message.encoding or "utf-8"
        html = content.decode(charset) if isinstance(content, bytes) else content
    if not text and html is not None:
        text = None
    return text, html


def _attachment(
    item: EmailAttachment | email.message.Message, message: EmailMessage, problem: _Problem
) -> Attachment:
    charset = message.encoding or "utf-8"
    if isinstance(item, email.message.Message):
        if item.is_multipart():
            raise problem("a multipart attachment cannot be sent; attach its parts one by one")
        payload = item.get_payload(decode=True)
        cid = item.get("Content-ID")
        return Attachment(
            item.get_filename(),
            payload if isinstance(payload, bytes) else b"",
            item.get_content_type(),
            str(cid).strip().strip("<>") if cid else None,
        )
    filename, content, mimetype = item
    if isinstance(content, str):
        data = content.encode(charset)
    elif isinstance(content, bytes | bytearray | memoryview):
        data = bytes(content)
    else:  # message/rfc822: one of our messages or a standard-library one
        data = content.as_bytes()
    return Attachment(filename, data, mimetype)


def tags_and_metadata(
    message: EmailMessage, features: Features, problem: _Problem | None = None
) -> tuple[list[str], dict[str, str]]:
    """``message.tags`` and ``message.metadata`` checked against ``features``.

    Raises ``ValueError`` naming the attribute: not a list of non-empty strings / not a
    mapping of strings (numbers are turned into strings), more tags than the API takes,
    or a name/value tag with characters the API refuses.
    """
    problem = problem or _Problem(features, None)
    raw_tags = getattr(message, "tags", None) or []
    if isinstance(raw_tags, str) or not all(isinstance(t, str) and t for t in raw_tags):
        raise problem("message.tags must be a list of non-empty strings")
    tags = list(raw_tags)
    if len(tags) > features.max_tags:
        raise problem(f"{len(tags)} tags in message.tags; the API takes {features.max_tags}")
    metadata: dict[str, str] = {}
    for key, value in dict(getattr(message, "metadata", None) or {}).items():
        if not isinstance(key, str) or isinstance(value, bool):
            raise problem(f"message.metadata[{key!r}]: keys and values must be strings")
        if not isinstance(value, str | int | float):
            raise problem(f"message.metadata[{key!r}]: keys and values must be strings")
        metadata[key] = str(value)
    if features.name_value_tags:
        for name, value in name_value_tags(tags, metadata):
            if not (_TAG_TEXT.match(name) and _TAG_TEXT.match(value)):
                raise problem(
                    f"tag {name}={value!r}: the API takes ASCII letters, digits, '_' and '-' "
                    "in tag names and values (from message.tags / message.metadata)"
                )
        if tags and "tag" in metadata:
            raise problem("message.metadata['tag'] clashes with message.tags (sent as 'tag')")
    return tags, metadata


def name_value_tags(tags: list[str], metadata: dict[str, str]) -> list[tuple[str, str]]:
    """Tags and metadata as the name/value tags of SES and Resend: a tag as ``tag=…``."""
    return [("tag", tag) for tag in tags] + list(metadata.items())
