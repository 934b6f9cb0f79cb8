"""What the sync and async SMTP paths share: preparing a message, the errors they raise,
and the report of refused recipients.

Functions here take the backend as an :class:`Endpoint` (its public connection
settings), never its private state.
"""

from __future__ import annotations

import functools
import logging
import smtplib
import socket
from typing import TYPE_CHECKING, NamedTuple, Protocol

from pydantic import SecretStr

from mailproviders.exceptions import record_sent

if TYPE_CHECKING:
    from mailproviders.message import EmailMessage

__all__ = [
    "Endpoint",
    "Password",
    "Prepared",
    "as_written",
    "connect_failed",
    "local_hostname",
    "prepare",
    "record_refused",
    "send_failed",
    "smtputf8_missing",
    "starttls_missing",
]

logger = logging.getLogger("mailproviders")


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


def _timed_out(exc: BaseException) -> bool:
    # smtplib turns a read timeout into SMTPServerDisconnected("... timed out"), chained.
    return isinstance(exc, TimeoutError) or (
        isinstance(exc, smtplib.SMTPServerDisconnected)
        and isinstance(exc.__context__, TimeoutError)
    )


def _add_note(exc: BaseException, note: str) -> None:
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
    logger.warning(
        "%s: the SMTP server %s:%s accepted the message but refused %d recipient(s): %s",
        endpoint.alias or "smtp",
        endpoint.host,
        endpoint.port,
        len(message.refused_recipients),
        "; ".join(
            f"{address} ({code} {reply})"
            for address, (code, reply) in message.refused_recipients.items()
        ),
    )


def connect_failed(endpoint: Endpoint, exc: BaseException) -> None:
    """Note on ``exc`` which server the connection failed to."""
    _add_note(exc, f"raised while connecting to the SMTP server {_where(endpoint)}")


def send_failed(endpoint: Endpoint, exc: BaseException, sent: list[EmailMessage]) -> None:
    """Attach ``sent`` (and, for a timeout, a note) to ``exc`` before it propagates."""
    record_sent(exc, sent)
    if _timed_out(exc):
        _add_note(
            exc,
            f"no reply from the SMTP server {_where(endpoint)} within "
            f"timeout={endpoint.timeout:g} s",
        )
