"""Email messages: :class:`EmailMessage`, :class:`EmailMultiAlternatives` and helpers.

Messages are plain containers until serialized; every header is validated and
encoded by :meth:`EmailMessage.message`, so a bad value raises before anything
is produced.
"""

from __future__ import annotations

import email.message
import email.policy
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from mailproviders import _serialize
from mailproviders._addresses import Mailbox, parse_mailbox
from mailproviders._headers import extra_header, fold_addresses, fold_unstructured
from mailproviders._hostname import DNS_NAME, format_date, make_msgid
from mailproviders._mime import (
    DEFAULT_ATTACHMENT_MIME_TYPE,
    AttachmentContent,
    EmailAlternative,
    EmailAttachment,
    add_alternative,
    add_attachment,
    new_attachment,
)
from mailproviders.deprecation import warn_deprecated

if TYPE_CHECKING:
    from email.policy import Policy

__all__ = [
    "DEFAULT_ATTACHMENT_MIME_TYPE",
    "DNS_NAME",
    "EmailAlternative",
    "EmailAttachment",
    "EmailMessage",
    "EmailMultiAlternatives",
    "Envelope",
    "make_msgid",
]

_CONTENT_HEADERS = ("content-", "mime-version")
# Serializing never lets the standard library refold the pre-folded headers.
_SERIALIZE_POLICY = email.policy.default.clone(refold_source="none")


class Envelope(NamedTuple):
    """The SMTP envelope of a message.

    ``sender`` is the addr-spec of the resolved ``from_email``; ``recipients`` pairs
    each recipient as the caller wrote it with its addr-spec (domain IDNA-encoded).
    """

    sender: str
    recipients: list[tuple[str, str]]


def _address_list(argument: str, value: Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        raise TypeError(f'"{argument}" argument must be a list or tuple, not a string')
    return list(value)


def _check_content_type(value: str, *, multipart: bool) -> None:
    """A Content-Type given in ``headers`` must keep the structure built from the parts."""
    if value.strip().lower().startswith("multipart/") != multipart:
        kind = "multipart/*" if multipart else "a non-multipart type"
        raise ValueError(
            f"header 'Content-Type' {value.strip()!r} does not fit this message, whose "
            f"body and attachments need {kind}; remove it from headers"
        )


class EmailMessage:
    """A single email message, sent to any number of recipients.

    ``to``, ``cc``, ``bcc`` and ``reply_to`` are lists of address strings
    (``"a@example.com"`` or ``"Name <a@example.com>"``); ``from_email=None`` means
    the sending provider's default sender, else ``DEFAULT_FROM_EMAIL``. ``headers``
    are extra headers; one named like a generated header (``To``, ``Date``,
    ``Message-ID``...) replaces it, names compared case-insensitively.

    Raises:
        TypeError: ``to``, ``cc``, ``bcc`` or ``reply_to`` is a bare string.
    """

    content_subtype = "plain"
    mixed_subtype = "mixed"
    encoding: str | None = None  # None: utf-8

    def __init__(
        self,
        subject: str = "",
        body: str = "",
        from_email: str | None = None,
        to: Sequence[str] | None = None,
        *,
        bcc: Sequence[str] | None = None,
        connection: Any = None,
        attachments: Iterable[EmailAttachment | tuple[Any, ...] | email.message.MIMEPart]
        | None = None,
        headers: Mapping[str, Any] | None = None,
        cc: Sequence[str] | None = None,
        reply_to: Sequence[str] | None = None,
    ) -> None:
        self.to = _address_list("to", to)
        self.cc = _address_list("cc", cc)
        self.bcc = _address_list("bcc", bcc)
        self.reply_to = _address_list("reply_to", reply_to)
        self.from_email = from_email
        self.subject = subject
        self.body = body or ""
        self.extra_headers: dict[str, Any] = dict(headers or {})
        self.attachments: list[EmailAttachment | email.message.MIMEPart] = []
        for attachment in attachments or ():
            if isinstance(attachment, email.message.MIMEPart):
                self.attach(attachment)
            else:
                self.attach(*attachment)
        if connection is not None:
            warn_deprecated(
                "EmailMessage(connection=...) is deprecated; use message.send(using='<alias>')"
                " with an EMAIL_PROVIDERS alias instead."
            )
        self.connection = connection
        self.refused_recipients: dict[str, tuple[int, str]] = {}
        self.sent_using: str | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} subject={self.subject!r} to={self.to!r}>"

    def recipients(self) -> list[str]:
        """All recipients (to + cc + bcc) as written, empty entries removed."""
        return [address for address in self.to + self.cc + self.bcc if address]

    def resolved_from_email(self) -> str:
        """``from_email``, or ``DEFAULT_FROM_EMAIL`` from the settings when it is empty."""
        if self.from_email:
            return self.from_email
        from mailproviders.settings import get_settings

        return get_settings().DEFAULT_FROM_EMAIL

    def envelope(self) -> Envelope:
        """The SMTP envelope: sender addr-spec and ``(as written, addr-spec)`` pairs.

        Domains are IDNA-encoded. A non-ASCII local part is kept as is: delivering
        it needs a server that offers SMTPUTF8.

        Raises:
            ValueError: an address is invalid (the message contains it).
        """
        sender = self._mailbox(self.resolved_from_email(), "From").addr_spec
        recipients = [
            (address, self._mailbox(str(address), header).addr_spec)
            for header, addresses in (("To", self.to), ("Cc", self.cc), ("Bcc", self.bcc))
            for address in addresses
            if address
        ]
        return Envelope(sender, recipients)

    def _mailbox(self, address: str, header: str) -> Mailbox:
        # Each address is parsed once per message: the envelope and the headers share it.
        memo: dict[str, Mailbox] = self.__dict__.setdefault("_parsed_mailboxes", {})
        mailbox = memo.get(address)
        if mailbox is None:
            mailbox = memo[address] = parse_mailbox(address, header)
        return mailbox

    def _address_header(self, name: str, addresses: Iterable[object]) -> str:
        mailboxes = [self._mailbox(str(address), name) for address in addresses if address]
        return fold_addresses(name, mailboxes)

    def header_items(self) -> list[tuple[str, str]]:
        """The message's own headers as ``(name, folded wire value)``, in order.

        Raises:
            ValueError: a header is invalid (line break, bad address, Bcc in
                ``headers``...); the message names the header.
        """
        extra = {name.lower(): name for name in self.extra_headers}
        if "bcc" in extra:
            raise ValueError(
                "Bcc must not be given in headers (it would disclose the blind copies); "
                "use bcc=[...] to add blind-copy recipients."
            )
        generated: list[tuple[str, Callable[[], str]]] = [
            ("Subject", lambda: fold_unstructured("Subject", str(self.subject))),
            ("From", lambda: self._address_header("From", [self.resolved_from_email()])),
            ("To", lambda: self._address_header("To", self.to)),
            ("Cc", lambda: self._address_header("Cc", self.cc)),
            ("Reply-To", lambda: self._address_header("Reply-To", self.reply_to)),
            ("Date", lambda: format_date(self._use_localtime())),
            ("Message-ID", lambda: make_msgid(domain=str(DNS_NAME))),
        ]
        items = [(name, build()) for name, build in generated if name.lower() not in extra]
        items = [(name, value) for name, value in items if value or name == "Subject"]
        items += [(name, extra_header(name, value)) for name, value in self.extra_headers.items()]
        return items

    @staticmethod
    def _use_localtime() -> bool:
        from mailproviders.settings import get_settings

        return bool(get_settings().EMAIL_USE_LOCALTIME)

    def message(self, *, policy: Policy = email.policy.default) -> email.message.EmailMessage:
        """The message as a standard-library :class:`email.message.EmailMessage`.

        Raises:
            ValueError: a header or address is invalid; nothing is produced.
        """
        headers = self.header_items()
        tree = _serialize.plan(self, headers, policy) if self._fast_path() else None
        if tree is not None:
            return _serialize.to_stdlib(tree, policy)
        msg = email.message.EmailMessage(policy=policy)
        # Content headers go after the body is built (which creates them); the
        # others first, so the message reads Subject, From, To... then MIME.
        content = [(n, v) for n, v in headers if n.lower().startswith(_CONTENT_HEADERS)]
        for name, value in headers:
            if (name, value) not in content:
                msg.set_raw(name, value)
        self._add_bodies(msg)
        self._add_attachments(msg)
        for name, value in content:
            if name.lower() == "content-type":
                _check_content_type(value, multipart=msg.is_multipart())
            del msg[name]
            msg.set_raw(name, value)
        if "MIME-Version" not in msg:  # no body part: set_content() never ran on msg
            msg["MIME-Version"] = "1.0"
        return msg

    def _fast_path(self) -> bool:
        """True when this class builds its MIME structure as the fast path assumes."""
        cls = type(self)
        standard = _STANDARD_CLASSES.get(cls)
        if standard is None:
            standard = _STANDARD_CLASSES[cls] = (
                cls.message is EmailMessage.message
                and cls._add_attachments is EmailMessage._add_attachments
                and cls._add_bodies
                in (EmailMessage._add_bodies, EmailMultiAlternatives._add_bodies)
            )
        return standard

    def as_bytes(self, linesep: str = "\n") -> bytes:
        """The serialized message, lines ending with ``linesep`` (``"\\r\\n"`` for SMTP).

        Raises:
            ValueError: a header or address is invalid; nothing is produced.
        """
        if self._fast_path():
            tree = _serialize.plan(self, self.header_items(), _SERIALIZE_POLICY)
            if tree is not None:
                return _serialize.render(tree, linesep)
        msg = self.message(policy=_SERIALIZE_POLICY)
        utf8 = not all(value.isascii() for _, value in msg.raw_items())
        return msg.as_bytes(policy=_SERIALIZE_POLICY.clone(linesep=linesep, utf8=utf8))

    def send(self, fail_silently: bool = False, *, using: str | None = None) -> int:
        """Send through the provider ``using`` (default provider if None); see §6."""
        from mailproviders.sending import send_email_message

        return send_email_message(self, fail_silently=fail_silently, using=using)

    async def asend(self, fail_silently: bool = False, *, using: str | None = None) -> int:
        """Async :meth:`send`: same arguments, result and exceptions, sending with the
        backend's ``asend_messages``."""
        from mailproviders.asending import asend_email_message

        return await asend_email_message(self, fail_silently=fail_silently, using=using)

    def attach(
        self,
        filename: str | email.message.MIMEPart | None = None,
        content: AttachmentContent | None = None,
        mimetype: str | None = None,
    ) -> None:
        """Attach ``content`` under ``filename``, guessing ``mimetype`` from the name.

        A :class:`email.message.MIMEPart` may be given instead, alone. text/* bytes
        are decoded; bytes invalid in the charset become application/octet-stream.

        Raises:
            ValueError: content is missing, or given alongside a MIMEPart, or the
                MIME type has no ``/``.
        """
        if isinstance(filename, email.message.MIMEPart):
            if content is not None or mimetype is not None:
                raise ValueError("content and mimetype must not be given with a MIMEPart")
            self.attachments.append(filename)
            return
        charset = self.encoding or "utf-8"
        self.attachments.append(new_attachment(filename, content, mimetype, charset))

    def attach_file(self, path: str | os.PathLike[str], mimetype: str | None = None) -> None:
        """Attach the file at ``path`` under its base name (type guessed from it).

        Raises:
            OSError: the file cannot be read.
        """
        file = Path(path)
        self.attach(file.name, file.read_bytes(), mimetype)

    def _add_bodies(self, msg: email.message.EmailMessage) -> None:
        if self.body or not self.attachments:
            msg.set_content(
                self.body or "", subtype=self.content_subtype, charset=self.encoding or "utf-8"
            )

    def _add_attachments(self, msg: email.message.EmailMessage) -> None:
        if not self.attachments:
            return
        msg.make_mixed()
        for attachment in self.attachments:
            if isinstance(attachment, email.message.MIMEPart):
                # MIMEPart is what attach() needs at run time; the stubs say EmailMessage.
                msg.attach(attachment)  # type: ignore[arg-type]
            else:
                add_attachment(msg, *attachment, charset=self.encoding or "utf-8")
        if self.mixed_subtype != "mixed":  # set last: add_attachment() expects "mixed"
            msg.set_type(f"multipart/{self.mixed_subtype}")


_STANDARD_CLASSES: dict[type[EmailMessage], bool] = {}


class EmailMultiAlternatives(EmailMessage):
    """An :class:`EmailMessage` with alternative bodies (e.g. HTML next to text).

    Raises:
        TypeError: as :class:`EmailMessage`.
    """

    alternative_subtype = "alternative"

    def __init__(
        self,
        subject: str = "",
        body: str = "",
        from_email: str | None = None,
        to: Sequence[str] | None = None,
        *,
        bcc: Sequence[str] | None = None,
        connection: Any = None,
        attachments: Iterable[EmailAttachment | tuple[Any, ...] | email.message.MIMEPart]
        | None = None,
        headers: Mapping[str, Any] | None = None,
        alternatives: Iterable[EmailAlternative | tuple[str | bytes, str]] | None = None,
        cc: Sequence[str] | None = None,
        reply_to: Sequence[str] | None = None,
    ) -> None:
        super().__init__(
            subject,
            body,
            from_email,
            to,
            bcc=bcc,
            connection=connection,
            attachments=attachments,
            headers=headers,
            cc=cc,
            reply_to=reply_to,
        )
        self.alternatives = [EmailAlternative(*alternative) for alternative in alternatives or ()]

    def attach_alternative(self, content: str | bytes, mimetype: str) -> None:
        """Add an alternative representation of the body.

        Raises:
            ValueError: ``content`` or ``mimetype`` is missing, or the type has no ``/``.
        """
        if content is None or mimetype is None:
            raise ValueError("attach_alternative() needs both content and mimetype")
        if "/" not in mimetype:
            raise ValueError(f"Invalid MIME type {mimetype!r} (expected type/subtype)")
        self.alternatives.append(EmailAlternative(content, mimetype))

    def body_contains(self, text: str) -> bool:
        """True when ``text`` is in the body and in every text/* alternative."""
        if text not in self.body:
            return False
        for content, mimetype in self.alternatives:
            if mimetype.startswith("text/"):
                decoded = (
                    content.decode(errors="replace") if isinstance(content, bytes) else content
                )
                if text not in decoded:
                    return False
        return True

    def _add_bodies(self, msg: email.message.EmailMessage) -> None:
        if self.body or not self.alternatives:
            super()._add_bodies(msg)
        if not self.alternatives:
            return
        msg.make_alternative()
        for content, mimetype in self.alternatives:
            add_alternative(msg, content, mimetype, self.encoding or "utf-8")
        if self.alternative_subtype != "alternative":  # set last, as for mixed_subtype
            msg.set_type(f"multipart/{self.alternative_subtype}")
