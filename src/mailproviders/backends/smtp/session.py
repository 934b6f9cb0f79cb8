"""What the sync and async SMTP paths share: preparing a message, the errors they raise,
what counts as possibly delivered, and the report of refused recipients.

Functions here take the backend as an :class:`Endpoint` (its public connection
settings), never its private state.
"""

from __future__ import annotations

import functools
import logging
import smtplib
import socket
from typing import TYPE_CHECKING, Final, NamedTuple, Protocol

from pydantic import SecretStr

from mailproviders.exceptions import record_possibly_sent, record_sent

if TYPE_CHECKING:
    from collections.abc import Iterator

    from mailproviders.message import EmailMessage

__all__ = [
    "Endpoint",
    "Password",
    "Prepared",
    "SMTPProtocolError",
    "add_note",
    "after_data",
    "as_written",
    "connect_failed",
    "end_of_data_error",
    "local_hostname",
    "prepare",
    "protocol_error",
    "record_refused",
    "refusal",
    "reply_line_ok",
    "send_failed",
    "smtputf8_missing",
    "starttls_missing",
    "stuffed",
]

logger = logging.getLogger("mailproviders")

#: How many refused recipients a WARNING names (the rest are counted).
LOGGED_REFUSALS: Final = 5


class Endpoint(Protocol):
    """The connection settings of an SMTP backend, as the shared code reads them."""

    alias: str | None
    host: str
    port: int
    timeout: float


@functools.cache
def local_hostname() -> str:
    # smtplib would otherwise look up the FQDN (a DNS query) on every connection.
    return socket.getfqdn()


class Prepared(NamedTuple):
    """What one message needs on the wire, computed before any connection is made."""

    sender: str
    recipients: list[str]  # SMTP form (IDNA domains), without duplicates
    written: dict[str, list[str]]  # SMTP form -> the addresses as the caller wrote them
    data: bytes
    needs_smtputf8: bool


class Password(SecretStr):
    """The SMTP password: masked like any ``SecretStr`` in ``str()``/``repr()``, yet equal
    to the plain string it holds, as legacy code comparing ``backend.password`` expects."""

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SecretStr):
            other = other.get_secret_value()
        return isinstance(other, str) and self.get_secret_value() == other

    def __hash__(self) -> int:
        return hash(self.get_secret_value())


def prepare(message: EmailMessage) -> Prepared:
    """Validate addresses and serialize ``message``; raises ``ValueError`` when invalid."""
    envelope = message.envelope()
    written: dict[str, list[str]] = {}
    for as_written, smtp_address in envelope.recipients:
        written.setdefault(smtp_address, []).append(as_written)
    recipients = list(written)
    return Prepared(
        sender=envelope.sender,
        recipients=recipients,
        written=written,
        data=message.as_bytes(linesep="\r\n"),
        needs_smtputf8=not all(a.isascii() for a in [envelope.sender, *recipients]),
    )


def as_written(
    refused: dict[str, tuple[int, bytes]], written: dict[str, list[str]]
) -> dict[str, tuple[int, str]]:
    result: dict[str, tuple[int, str]] = {}
    for smtp_address, (code, reply) in refused.items():
        for address in written.get(smtp_address, [smtp_address]):
            result[address] = (code, reply.decode("utf-8", "replace"))
    return result


class SMTPProtocolError(smtplib.SMTPServerDisconnected):
    """The server sent something that is not an SMTP reply (no three-digit code, or a line
    longer than 8192 bytes); the connection was closed. Raised the same by the sync and
    async paths."""


def reply_line_ok(line: bytes) -> bool:
    """Whether ``line`` starts like a reply line: a code 100-599, then space, ``-`` or EOL."""
    return line[:3].isdigit() and line[:1] in b"12345" and line[3:4] in (b" ", b"-", b"\r", b"\n")


def protocol_error(what: str, line: bytes | bytearray | str) -> SMTPProtocolError:
    """The error for a reply that ``what`` (e.g. "cannot be parsed"), quoting its start."""
    start = bytes(line[:60]) if isinstance(line, bytes | bytearray) else line[:60]
    more = "..." if len(line) > 60 else ""
    return SMTPProtocolError(
        f"the SMTP server's reply {what}: {start!r}{more}; the connection was closed"
    )


def refusal(exc: BaseException) -> bool:
    """Whether ``exc`` is a server's well-formed 4xx/5xx reply: the server said "no"."""
    return (
        isinstance(exc, smtplib.SMTPResponseException)
        and not isinstance(exc, SMTPProtocolError)
        and 400 <= exc.smtp_code <= 599
    )


def after_data(exc: BaseException, message: EmailMessage) -> None:
    """Classify ``exc``, raised once the message's data began to go out (after the 354
    reply): unless it is a refusal reply, the server may have accepted the message, so
    ``exc`` is marked as possibly having delivered it. Before the 354 reply nothing of the
    message went out, and callers do not call this."""
    if not refusal(exc):
        record_possibly_sent(exc, [message])


def end_of_data_error(
    code: int, reply: bytes, message: EmailMessage | None = None
) -> smtplib.SMTPDataError | None:
    """The error for the reply to the end of the data, ``None`` for 250 (recorded on
    ``message`` as ``server_reply``, e.g. ``"250 2.0.0 Ok: queued as 4F2B1"``). A 4xx/5xx
    is a refusal; any other code is not an answer the client can trust, so the error is
    marked as possibly delivered by :func:`after_data`."""
    if code != 250:
        return smtplib.SMTPDataError(code, reply)
    if message is not None:
        text = " ".join(reply.decode("utf-8", "replace").split())
        message.server_reply = f"{code} {text}".rstrip()  # type: ignore[attr-defined]
    return None


def stuffed(data: bytes, chunk: int = 1 << 16) -> Iterator[bytes | memoryview]:
    """``data`` as the DATA command sends it - dot-stuffed, ending in CRLF.CRLF - in pieces of
    about ``chunk`` bytes: slices of ``data`` where possible, never a copy of the whole."""
    view = memoryview(data)
    pending = bytearray(b"." if data.startswith(b".") else b"")
    start = 0
    while True:
        dot = data.find(b"\n.", start)
        end = len(data) if dot < 0 else dot + 1
        for piece in range(start, end, chunk):
            part = view[piece : min(end, piece + chunk)]
            if len(pending) + len(part) > chunk and pending:
                yield bytes(pending)
                pending.clear()
            if len(part) >= chunk:
                yield part
            else:
                pending += part
        if dot < 0:
            break
        pending += b"."  # the stuffed dot before the line's own
        start = end
    pending += b".\r\n" if data.endswith(b"\r\n") else b"\r\n.\r\n"
    yield bytes(pending)


def _timed_out(exc: BaseException) -> bool:
    # smtplib turns a read timeout into SMTPServerDisconnected("... timed out"), chained.
    return isinstance(exc, TimeoutError) or (
        isinstance(exc, smtplib.SMTPServerDisconnected)
        and isinstance(exc.__context__, TimeoutError)
    )


def add_note(exc: BaseException, note: str) -> None:
    # Not prefixed "mailproviders:": record_sent() replaces the notes that start so.
    if note not in getattr(exc, "__notes__", ()):
        exc.add_note(note)


def _where(endpoint: Endpoint) -> str:
    return f"{endpoint.host}:{endpoint.port} (provider {endpoint.alias!r})"


def starttls_missing(endpoint: Endpoint) -> smtplib.SMTPNotSupportedError:
    """The error for a server that does not offer STARTTLS when ``use_tls`` requires it."""
    return smtplib.SMTPNotSupportedError(
        f"the SMTP server {endpoint.host}:{endpoint.port} does not offer STARTTLS, which "
        "use_tls requires; nothing was sent in plain text (use use_ssl for "
        "implicit TLS, or talk to a server that offers STARTTLS)"
    )


def smtputf8_missing(endpoint: Endpoint, prepared: Prepared) -> ValueError:
    """The error for a non-ASCII local part when the server lacks SMTPUTF8."""
    address = next(a for a in [prepared.sender, *prepared.recipients] if not a.isascii())
    return ValueError(
        f"address {address!r} has a non-ASCII local part and the SMTP server "
        f"{endpoint.host}:{endpoint.port} does not support SMTPUTF8"
    )


def record_refused(
    endpoint: Endpoint,
    message: EmailMessage,
    refused: dict[str, tuple[int, bytes]],
    prepared: Prepared,
) -> None:
    """Record the recipients refused by a server that accepted the message; log them."""
    message.refused_recipients = as_written(refused, prepared.written)
    listed = list(message.refused_recipients.items())[:LOGGED_REFUSALS]
    more = len(message.refused_recipients) - len(listed)
    logger.warning(
        "%s: the SMTP server %s:%s accepted the message but refused %d recipient(s): %s%s",
        endpoint.alias or "smtp",
        endpoint.host,
        endpoint.port,
        len(message.refused_recipients),
        "; ".join(f"{address} ({code} {reply})" for address, (code, reply) in listed),
        f"; and {more} more" if more else "",
    )


def connect_failed(endpoint: Endpoint, exc: BaseException) -> None:
    """Note on ``exc`` which server the connection failed to."""
    add_note(exc, f"raised while connecting to the SMTP server {_where(endpoint)}")


def send_failed(endpoint: Endpoint, exc: BaseException, sent: list[EmailMessage]) -> None:
    """Attach ``sent`` (and, for a timeout, a note) to ``exc`` before it propagates."""
    record_sent(exc, sent)
    if isinstance(exc, SMTPProtocolError):
        add_note(exc, f"raised by the SMTP server {_where(endpoint)}")
    if _timed_out(exc):
        add_note(
            exc,
            f"no reply from the SMTP server {_where(endpoint)} within "
            f"timeout={endpoint.timeout:g} s",
        )
