"""A message whose bytes are already final: :class:`RenderedMessage`.

It is what crosses a task queue, or comes from another framework that renders its own
messages (Django's ``msg.message().as_bytes()``): the RFC 5322 bytes plus the SMTP
envelope. Backends send those bytes as they are; only line endings are normalised.
"""

from __future__ import annotations

import base64
import binascii
import email.message
import email.parser
import email.policy
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, NoReturn

from mailproviders.message import arguments
from mailproviders.message.addresses import Envelope, parse_mailbox
from mailproviders.message.base import EmailMessage

if TYPE_CHECKING:
    import os
    from email.policy import Policy

__all__ = ["RenderedMessage"]

#: The version written by :meth:`RenderedMessage.to_dict` and read by ``from_dict``.
DICT_VERSION: Final = 1
_DICT_KEYS = frozenset({"v", "data", "from_email", "recipients", "message_id", "alias"})
_LINE_END = re.compile(rb"\r\n|\r|\n")
_HEADER_START = re.compile(rb"[!-9;-~]+:")  # a field name (printable ASCII but ':'), ':'


def _problem(argument: str, text: str) -> arguments.ArgumentValueError:
    return arguments.ArgumentValueError(argument, text)


def _address(argument: str, address: object) -> str:
    if not isinstance(address, str):
        raise _problem(argument, f"must hold address strings, not {type(address).__name__}")
    try:
        parse_mailbox(address, argument)
    except ValueError as exc:
        raise _problem(argument, f"holds an invalid address: {exc}") from None
    return address


def _optional_text(argument: str, value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise _problem(argument, f"must be a string or None, not {type(value).__name__}")
    if value is not None and ("\r" in value or "\n" in value):
        raise _problem(argument, f"must not contain a line break: {value!r}")
    return value


class RenderedMessage(EmailMessage):
    """A message already rendered: ``data`` (the exact RFC 5322 bytes, headers and
    body), the envelope sender ``from_email`` and the envelope ``recipients``.

    Every backend sends ``data`` unchanged except for line endings (CRLF on the wire);
    the send functions never add or change a header of it (the provider's ``DEFAULTS``
    do not apply). ``to`` holds the envelope recipients (Bcc included: they are only in
    the envelope); ``cc`` and ``bcc`` are empty. ``subject`` is read from the data, for
    display. ``message_id`` defaults to the data's ``Message-ID`` header; ``alias`` is a
    free label (e.g. the provider that should deliver it, for a queue).

    Raises ``ValueError`` naming the argument: ``data`` not non-empty bytes starting with
    a header field, ``from_email`` empty or not one valid address, a recipient not a
    valid address, a line break in any of them, ``recipients`` a bare string.
    """

    def __init__(
        self,
        data: bytes,
        *,
        from_email: str,
        recipients: Sequence[str],
        message_id: str | None = None,
        alias: str | None = None,
    ) -> None:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise _problem("data", f"must be bytes, not {type(data).__name__}")
        data = bytes(data)
        if not _HEADER_START.match(data):
            raise _problem("data", "must be an RFC 5322 message starting with a header field")
        if not isinstance(from_email, str) or not from_email:
            raise _problem("from_email", "must be a non-empty address string")
        if isinstance(recipients, str | bytes) or not isinstance(recipients, Sequence):
            raise _problem("recipients", f"must be a list of strings, not {recipients!r}")
        _address("from_email", from_email)
        to = [_address("recipients", address) for address in recipients]
        super().__init__(from_email=from_email, to=to)
        self.data = data
        headers = email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(data)
        self.subject = str(headers.get("Subject", ""))
        found = headers.get("Message-ID")
        self.message_id = _optional_text(
            "message_id", message_id if message_id is not None else found and str(found).strip()
        )
        self.alias = _optional_text("alias", alias)

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} message_id={self.message_id!r} "
            f"recipients={len(self.to)} size={len(self.data)}>"
        )

    @classmethod
    def from_message(cls, message: EmailMessage, *, alias: str | None = None) -> RenderedMessage:
        """``message`` rendered once (CRLF line ends); envelope: its sender and
        :meth:`~EmailMessage.recipients`. Raises what serializing ``message`` raises."""
        return cls(
            message.as_bytes(linesep="\r\n"),
            from_email=message.resolved_from_email(),
            recipients=message.recipients(),
            alias=alias,
        )

    def envelope(self) -> Envelope:
        """The envelope: ``from_email`` and the recipients, as addr-specs (IDNA domains)."""
        arguments.check_message(self, EmailMessage)
        sender = parse_mailbox(self.from_email or "", "from_email").addr_spec
        pairs = [(a, parse_mailbox(a, "recipients").addr_spec) for a in self.to if a]
        return Envelope(sender, pairs)

    def header_items(self) -> list[tuple[str, str]]:
        """The headers of ``data``, as ``(name, value)`` in order."""
        return [(name, str(value)) for name, value in self.message().items()]

    def message(self, *, policy: Policy = email.policy.default) -> email.message.EmailMessage:
        """``data`` (LF line ends) parsed into a standard-library message, for reading."""
        parser = email.parser.BytesParser(email.message.EmailMessage, policy=policy)
        parsed = parser.parsebytes(self.as_bytes())
        assert isinstance(parsed, email.message.EmailMessage)
        return parsed

    def as_bytes(self, linesep: str = "\n") -> bytes:
        """``data`` with every line ending (CRLF, LF or a lone CR) made ``linesep``; nothing
        else changes."""
        end, data = linesep.encode("ascii"), self.data
        crlf = data.count(b"\r\n")
        if end == b"\r\n" and data.count(b"\n") == crlf == data.count(b"\r"):
            return data  # already CRLF throughout
        if end == b"\n" and b"\r" not in data:
            return data
        return _LINE_END.sub(end, self.data)

    def attach(self, *args: Any, **kwargs: Any) -> NoReturn:
        """Not possible: the bytes are final (``TypeError``)."""
        raise TypeError("a RenderedMessage's bytes are final: nothing can be attached")

    def attach_file(self, path: str | os.PathLike[str], mimetype: str | None = None) -> NoReturn:
        """Not possible: the bytes are final (``TypeError``)."""
        raise TypeError("a RenderedMessage's bytes are final: nothing can be attached")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe data (``data`` as base64) that :meth:`from_dict` turns back into an
        equal message; versioned (``"v": 1``)."""
        return {
            "v": DICT_VERSION,
            "data": base64.b64encode(self.data).decode("ascii"),
            "from_email": self.from_email,
            "recipients": list(self.to),
            "message_id": self.message_id,
            "alias": self.alias,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RenderedMessage:
        """The message :meth:`to_dict` described.

        Raises ``ValueError`` naming the key: an unknown version ``v``, a missing or
        unknown key, a value of the wrong type, ``data`` not base64, or what
        ``__init__`` refuses.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"expected a mapping from to_dict(), got {type(data).__name__}")
        if type(data.get("v")) is not int or data["v"] != DICT_VERSION:  # not True, not 1.0
            raise ValueError(
                f"key 'v': unsupported RenderedMessage version {data.get('v')!r} "
                f"(this version reads {DICT_VERSION})"
            )
        for key in sorted(map(str, set(data) - _DICT_KEYS)):
            raise ValueError(f"key {key!r}: unknown (expected {sorted(_DICT_KEYS)})")
        for key in ("data", "from_email", "recipients"):
            if key not in data:
                raise ValueError(f"key {key!r}: missing")
        raw = data["data"]
        if not isinstance(raw, str):
            raise ValueError(f"key 'data': expected base64 text, got {type(raw).__name__}")
        try:
            payload = base64.b64decode(raw.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            raise ValueError("key 'data': not valid base64") from None
        recipients = data["recipients"]
        if not isinstance(recipients, list):
            raise ValueError(f"key 'recipients': expected a list, got {recipients!r}")
        return cls(
            payload,
            from_email=data["from_email"],
            recipients=recipients,
            message_id=data.get("message_id"),
            alias=data.get("alias"),
        )
