"""The wire of the native async SMTP path: the message's data after 354, reading pipelined
replies, RSET after a refusal, hanging up (shared by :mod:`.aio` and :mod:`.aiopipe`).

Imported only when aiosmtplib is installed. aiosmtplib reads one reply per command it
writes; :func:`read_reply` also reads the replies to commands written together
(PIPELINING), which aiosmtplib keeps in its buffer.
"""

from __future__ import annotations

import asyncio
import contextlib
import smtplib
from collections.abc import Iterator
from typing import TYPE_CHECKING, cast

import aiosmtplib

from mailproviders.backends.smtp import session
from mailproviders.backends.smtp.aioerrors import reraise, translated

if TYPE_CHECKING:
    from mailproviders.message import EmailMessage

__all__ = ["abort", "keeping_replies", "read_reply", "reset", "send_body", "write"]


async def send_body(connection: aiosmtplib.SMTP, message: EmailMessage, data: bytes) -> None:
    """The message after a 354 reply, from the rendered bytes in slices, as the sync path
    sends it; then the reply to its end."""
    try:
        protocol = _protocol(connection)
        last: bytes | memoryview | None = None
        for piece in session.stuffed(data):
            if last is not None:
                write(protocol, last)
                await protocol._drain_helper()  # flow control: at most a slice is buffered
            last = piece
        assert last is not None
        write(protocol, last)
        reply = await protocol.read_response(timeout=connection.timeout)
        refused = session.end_of_data_error(reply.code, reply.message.encode(), message)
        if refused is not None:
            if session.refusal(refused):
                await reset(connection, refused)
            else:  # not an answer to trust: the session's state is unknown
                abort(connection)
            raise refused
    except BaseException as exc:
        failure = translated(exc)
        session.after_data(failure, message)
        reraise(failure, exc)


def write(protocol: aiosmtplib.protocol.SMTPProtocol, data: bytes | memoryview) -> None:
    transport = protocol.transport
    if transport is None or transport.is_closing():
        raise smtplib.SMTPServerDisconnected("Connection lost")
    cast("asyncio.WriteTransport", transport).write(data)


async def reset(connection: aiosmtplib.SMTP, error: BaseException | None = None) -> None:
    """End a refused transaction so that the session stays usable (after a 421,
    aiosmtplib has already closed it; after a reply that is not SMTP, nothing is said)."""
    garbage = isinstance(error, aiosmtplib.SMTPResponseException) and error.code < 0
    if connection.is_connected and not garbage:
        with contextlib.suppress(aiosmtplib.SMTPResponseException, ConnectionError):
            await connection.rset()


def abort(connection: aiosmtplib.SMTP) -> None:
    # transport.close() on a TLS connection waits for the peer's close_notify, up to 30 s
    # in Python 3.11; abort() releases the socket on the next loop iteration.
    transport = connection.transport
    if isinstance(transport, asyncio.Transport):
        transport.abort()
    connection.close()


def _protocol(connection: aiosmtplib.SMTP) -> aiosmtplib.protocol.SMTPProtocol:
    protocol = connection.protocol
    if protocol is None:
        raise smtplib.SMTPServerDisconnected("Connection lost")
    if hasattr(protocol, "_response_pending"):  # a reply now belongs to this command
        protocol._response_pending = True
    return protocol


async def read_reply(connection: aiosmtplib.SMTP) -> tuple[int, bytes]:
    """The next reply, one of several answering commands written together.

    aiosmtplib parses one reply when data arrives and keeps the rest in its buffer; a
    reply already there is taken from it. Otherwise this waits (``timeout`` per reply)
    for data, which aiosmtplib accepts only while a reply is expected: the flag is set
    again before anything else can run on the loop.
    """
    protocol = _protocol(connection)
    waiter = protocol._response_waiter
    buffered = None
    if waiter is None or not waiter.done():  # else the parsed reply waiting is the next
        buffered = protocol._read_response_from_buffer()
    if buffered is None:
        buffered = await protocol.read_response(timeout=connection.timeout)
    if hasattr(protocol, "_response_pending"):
        protocol._response_pending = True
    return buffered.code, buffered.message.encode()


@contextlib.contextmanager
def keeping_replies(connection: aiosmtplib.SMTP) -> Iterator[None]:
    """While the replies to commands written together arrive: aiosmtplib drops data that
    comes while a parsed reply waits to be picked up (its ``wait_for`` takes two loop
    iterations to hand it over); here such data is kept in the buffer, where
    :func:`read_reply` finds it."""
    protocol = _protocol(connection)
    original = type(protocol).data_received

    def data_received(data: bytes) -> None:
        waiter = protocol._response_waiter
        if waiter is not None and waiter.done():
            protocol._buffer.extend(data)
        else:
            original(protocol, data)

    protocol.data_received = data_received  # type: ignore[method-assign]
    try:
        yield
    finally:
        del protocol.data_received
