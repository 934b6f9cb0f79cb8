"""The email message: :class:`EmailMessage`.

Messages are plain containers until serialized; every header is validated and encoded by
:meth:`EmailMessage.message`, so a bad value raises before anything is produced.
"""

from __future__ import annotations

import email.message
import email.policy
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailproviders import _hooks
from mailproviders.message import arguments, serialize
from mailproviders.message.addresses import Envelope, Mailbox, parse_mailbox
from mailproviders.message.deprecated import ConnectionAttribute, check_sendable
from mailproviders.message.headers import extra_header, fold_addresses, fold_unstructured
from mailproviders.message.hostname import DNS_NAME, format_date, make_msgid
from mailproviders.message.mime import (
    AttachmentContent,
    EmailAttachment,
    add_attachment,
    new_attachment,
)
from mailproviders.message.stdlib import build, to_stdlib
from mailproviders.message.wire import SERIALIZE_POLICY

if TYPE_CHECKING:
    from email.policy import Policy

__all__ = ["EmailMessage"]


class EmailMessage:
    """A single email message, sent to any number of recipients.

    ``to``, ``cc``, ``bcc`` and ``reply_to`` are lists of address strings
    (``"a@example.com"`` or ``"Name <a@example.com>"``); ``from_email=None`` means
    the sending provider's default sender, else ``DEFAULT_FROM_EMAIL``. ``headers``
    are extra headers; one named like a generated header (``To``, ``Date``,
    ``Message-ID``...) replaces it, names compared case-insensitively.

    Raises ``TypeError`` naming the argument when one has the wrong type: ``to``, ``cc``,
    ``bcc`` or ``reply_to`` not a list or tuple of strings (a bare string included),
    ``from_email``, ``subject`` or ``body`` not a string, a header name not a string.
    """

    content_subtype = "plain"
    mixed_subtype = "mixed"
    encoding: str | None = None  # None: utf-8
    #: ``Date`` in the process time zone (True) or UTC (False); ``None``: the
    #: ``EMAIL_USE_LOCALTIME`` setting. The send functions set it on what they send.
    use_localtime: bool | None = None
    connection = ConnectionAttribute()
    _connection: Any = None  #: the value of ``connection``, read without a warning

    @arguments.positional_order("bcc", "connection", "attachments", "headers", "cc", "reply_to")
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
        self.to = arguments.address_list("to", to)
        self.cc = arguments.address_list("cc", cc)
        self.bcc = arguments.address_list("bcc", bcc)
        self.reply_to = arguments.address_list("reply_to", reply_to)
        self.from_email = arguments.optional_text("from_email", from_email)
        self.subject = arguments.text("subject", subject)
        self.body = arguments.text("body", body)
        self.extra_headers: dict[str, Any] = dict(headers or {})
        arguments.header_names("headers", self.extra_headers)
        self.attachments: list[EmailAttachment | email.message.MIMEPart] = []
        for attachment in attachments or ():
            if isinstance(attachment, email.message.Message):  # MIMEPart, or email.mime
                self.attach(attachment)
            else:
                self.attach(*attachment)
        self._connection = connection
        if connection is not None:
            _hooks.compat.message_connection(self)
        self.refused_recipients: dict[str, tuple[int, str]] = {}
        self.sent_using: str | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} subject={self.subject!r} to={self.to!r}>"

    def recipients(self) -> list[str]:
        """All recipients (to + cc + bcc) as written, empty entries removed."""
        return [address for address in self.to + self.cc + self.bcc if address]

    def resolved_from_email(self) -> str:
        """``from_email``, or the process default sender (``DEFAULT_FROM_EMAIL``) when it is
        empty. The send functions fill ``from_email`` before a backend sees the message."""
        return self.from_email or _hooks.message_defaults().from_email

    def envelope(self) -> Envelope:
        """The SMTP envelope: sender addr-spec and ``(as written, addr-spec)`` pairs.

        Domains are IDNA-encoded. A non-ASCII local part is kept as is: delivering
        it needs a server that offers SMTPUTF8.

        Raises ``ValueError`` when an address is invalid (the message contains it).
        """
        arguments.check_message(self, EmailMessage)
        sender = self._mailbox(self.resolved_from_email(), "From").addr_spec
        recipients = [
            (address, self._mailbox(address, header).addr_spec)
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

    def _address_header(self, name: str, addresses: Iterable[str]) -> str:
        mailboxes = [self._mailbox(address, name) for address in addresses if address]
        return fold_addresses(name, mailboxes)

    def header_items(self) -> list[tuple[str, str]]:
        """The message's own headers as ``(name, folded wire value)``, in order.

        Raises:
            ValueError: a header is invalid (line break, bad address, Bcc in
                ``headers``...); the message names the header.
        """
        arguments.check_message(self, EmailMessage)
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

    def _use_localtime(self) -> bool:
        if self.use_localtime is not None:
            return self.use_localtime
        return _hooks.message_defaults().use_localtime

    def message(self, *, policy: Policy = email.policy.default) -> email.message.EmailMessage:
        """The message as a standard-library :class:`email.message.EmailMessage`.

        Raises ``ValueError`` when a header or address is invalid; nothing is produced.
        """
        headers = self.header_items()
        tree = serialize.plan(self, headers, policy) if self._fast_path() else None
        if tree is not None:
            return to_stdlib(tree, policy)
        return build(self, headers, policy)

    def _fast_path(self) -> bool:
        """True when this class builds its MIME structure as the fast path assumes."""
        cls = type(self)
        standard = _STANDARD_CLASSES.get(cls)
        if standard is None:
            standard = _STANDARD_CLASSES[cls] = (
                cls.message is EmailMessage.message
                and cls._add_attachments is EmailMessage._add_attachments
                and cls._add_bodies in _STANDARD_BODIES
            )
        return standard

    def as_bytes(self, linesep: str = "\n") -> bytes:
        """The serialized message, lines ending with ``linesep`` (``"\\r\\n"`` for SMTP).

        Raises ``ValueError`` when a header or address is invalid; nothing is produced.
        """
        if self._fast_path():
            tree = serialize.plan(self, self.header_items(), SERIALIZE_POLICY)
            if tree is not None:
                return serialize.render(tree, linesep)
        msg = self.message(policy=SERIALIZE_POLICY)
        utf8 = not all(value.isascii() for _, value in msg.raw_items())
        return msg.as_bytes(policy=SERIALIZE_POLICY.clone(linesep=linesep, utf8=utf8))

    def send(self, fail_silently: bool = False, *, using: str | None = None) -> int:
        """Send through the provider ``using`` (``"default"`` if None); returns 0 or 1.

        A message with no recipients returns 0 without touching any provider. Raises what
        the backend raises unless ``fail_silently``; configuration errors always raise.
        """
        check_sendable(self)
        return _hooks.dispatch.send(self, fail_silently=fail_silently, using=using)

    async def asend(self, fail_silently: bool = False, *, using: str | None = None) -> int:
        """Async :meth:`send`: same arguments, result and exceptions, sending with the
        backend's ``asend_messages``."""
        check_sendable(self)
        return await _hooks.dispatch.asend(self, fail_silently=fail_silently, using=using)

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
                MIME type has no ``/``, or is a message that contains this one (or nests
                more than ``arguments.MAX_NESTING`` deep).
            TypeError: an argument of the wrong type (naming it).
        """
        if isinstance(filename, email.message.Message):  # MIMEPart, or email.mime
            if content is not None or mimetype is not None:
                raise ValueError("content and mimetype must not be given with a MIMEPart")
            self.attachments.append(arguments.mime_part(filename))
            return
        arguments.attachment(filename, content, mimetype, EmailMessage)
        if isinstance(content, EmailMessage):
            arguments.check_nesting(self, content, EmailMessage)
        charset = self.encoding or "utf-8"
        self.attachments.append(new_attachment(filename, content, mimetype, charset))

    def attach_file(self, path: str | os.PathLike[str], mimetype: str | None = None) -> None:
        """Attach the file at ``path`` under its base name (type guessed from it).

        Raises ``OSError`` when the file cannot be read.
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
            if isinstance(attachment, email.message.Message):  # MIMEPart, or email.mime
                # MIMEPart is what attach() needs at run time; the stubs say EmailMessage.
                msg.attach(attachment)  # type: ignore[arg-type]
            else:
                add_attachment(msg, *attachment, charset=self.encoding or "utf-8")
        if self.mixed_subtype != "mixed":  # set last: add_attachment() expects "mixed"
            msg.set_type(f"multipart/{self.mixed_subtype}")


_STANDARD_CLASSES: dict[type[EmailMessage], bool] = {}
#: ``_add_bodies`` implementations whose structure the fast path reproduces.
_STANDARD_BODIES: list[object] = [EmailMessage._add_bodies]
