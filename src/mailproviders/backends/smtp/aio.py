"""Native async SMTP for :class:`mailproviders.backends.smtp.EmailBackend`, with aiosmtplib.

Imported only when aiosmtplib is installed (the ``mailproviders[async]`` extra). The
functions here mirror the sync methods of the backend and share :mod:`.session` with them;
aiosmtplib's exceptions are turned into the ones the sync path raises (``smtplib``
exceptions, ``OSError``, ``TimeoutError``), so callers handle one set of errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import smtplib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final, cast

import aiosmtplib

from mailproviders.backends.smtp import session
from mailproviders.backends.smtp.aioerrors import reraise, translated
from mailproviders.backends.smtp.recipients import Recipients
from mailproviders.backends.smtp.session import Prepared

if TYPE_CHECKING:
    from mailproviders.backends.smtp.backend import EmailBackend
    from mailproviders.message import EmailMessage

__all__ = ["close", "open_connection", "send"]

_SERVICE_CLOSING: Final = 421
_START_INPUT: Final = 354


async def open_connection(backend: EmailBackend) -> bool:
    """Open ``backend.async_connection`` if needed; return whether this call opened it."""
    if backend.async_connection is not None:
        return False
    try:
        backend.async_connection = await _connect(backend)
    except BaseException as exc:
        error = translated(exc)
        session.connect_failed(backend, error)
        reraise(error, exc)
    return True


async def _connect(backend: EmailBackend) -> aiosmtplib.SMTP:
    connection = aiosmtplib.SMTP(
        hostname=backend.host,
        port=backend.port,
        local_hostname=await asyncio.to_thread(session.local_hostname),
        timeout=backend.timeout,
        use_tls=backend.use_ssl,
        start_tls=False,  # STARTTLS is negotiated below, never silently skipped
        tls_context=backend.ssl_context if backend.use_ssl or backend.use_tls else None,
    )
    await connection.connect()
    try:
        if backend.use_tls:
            await connection.ehlo()
            if not connection.supports_extension("starttls"):
                raise session.starttls_missing(backend)
            await connection.starttls()
            await connection.ehlo()
        if backend.username and backend.password:
            await connection.login(backend.username, backend.password.get_secret_value())
    except BaseException:
        _abort(connection)
        raise
    return connection


async def close(backend: EmailBackend) -> None:
    """Say QUIT and close ``backend.async_connection``; errors are ignored."""
    connection, backend.async_connection = backend.async_connection, None
    if connection is None:
        return
    try:
        await connection.quit()
    except (aiosmtplib.SMTPException, OSError):  # the server may already have hung up
        pass
    except BaseException:  # cancelled while saying QUIT: hang up at once
        _abort(connection)
        raise
    _abort(connection)


async def send(backend: EmailBackend, messages: Iterable[EmailMessage]) -> int:
    """The body of ``backend.asend_messages`` (the caller holds the async lock)."""
    sent: list[EmailMessage] = []
    opened_here = False
    try:
        for message in messages:
            if not message.recipients():
                continue
            prepared = session.prepare(message)
            if backend.async_connection is None:
                opened_here = await open_connection(backend)
            await _deliver(backend, message, prepared)
            sent.append(message)
    except BaseException as exc:
        error = translated(exc)
        _drop_if_broken(backend, error)
        session.send_failed(backend, error, sent)
        reraise(error, exc)
    finally:
        if opened_here:
            await close(backend)
    return len(sent)


async def _deliver(backend: EmailBackend, message: EmailMessage, prepared: Prepared) -> None:
    connection = backend.async_connection
    assert connection is not None
    if connection.is_ehlo_or_helo_needed:
        await connection.ehlo()
    if prepared.needs_smtputf8 and not connection.supports_extension("smtputf8"):
        raise session.smtputf8_missing(backend, prepared)
    message.refused_recipients = {}
    try:
        refused = await _transaction(connection, message, prepared)
    except smtplib.SMTPRecipientsRefused as exc:
        message.refused_recipients = session.as_written(exc.recipients, prepared.written)
        raise
    if refused:
        session.record_refused(backend, message, refused, prepared)


async def _transaction(
    connection: aiosmtplib.SMTP, message: EmailMessage, prepared: Prepared
) -> dict[str, tuple[int, bytes]]:
    """MAIL, RCPT, DATA, like the sync path (452 replies included); returns the refused
    recipients. What counts as possibly delivered is :func:`.session.after_data`."""
    encoding = "utf-8" if prepared.needs_smtputf8 else "ascii"
    options = ["SMTPUTF8"] if prepared.needs_smtputf8 else []
    if connection.supports_extension("size"):
        options.insert(0, f"size={len(prepared.data)}")
    state = Recipients(prepared.recipients)
    while state.pending:
        try:
            await _one_transaction(
                connection,
                message,
                prepared=prepared,
                state=state,
                options=options,
                encoding=encoding,
            )
        except BaseException as exc:
            error = translated(exc)
            state.failed(error, message)
            reraise(error, exc)
    return state.result()


async def _one_transaction(
    connection: aiosmtplib.SMTP,
    message: EmailMessage,
    *,
    prepared: Prepared,
    state: Recipients,
    options: list[str],
    encoding: str,
) -> None:
    try:
        await connection.mail(prepared.sender, options=options, encoding=encoding)
        for index, address in enumerate(state.pending):
            try:
                await connection.rcpt(address, encoding=encoding)
            except aiosmtplib.SMTPRecipientRefused as exc:
                go_on = state.add(index, exc.code, exc.message.encode())
                if exc.code == _SERVICE_CLOSING or not connection.is_connected:
                    raise smtplib.SMTPRecipientsRefused(state.refused) from exc
                if not go_on:
                    break
            else:
                state.add(index, 250, b"")
    except (aiosmtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused) as exc:
        await _reset(connection, exc)
        reraise(translated(exc), exc)
    if not state.accepted:
        await _reset(connection)
        state.end(delivered=False)
        return
    await _send_data(connection, message, prepared.data)
    state.end(delivered=True)


async def _send_data(connection: aiosmtplib.SMTP, message: EmailMessage, data: bytes) -> None:
    """DATA, then the message from the rendered bytes in slices, as the sync path does."""
    response = await connection.execute_command(b"DATA")
    if response.code != _START_INPUT:
        error = smtplib.SMTPDataError(response.code, response.message.encode())
        await _reset(connection, error)
        raise error
    try:
        protocol = connection.protocol
        if protocol is None:
            raise smtplib.SMTPServerDisconnected("Connection lost")
        if hasattr(protocol, "_response_pending"):  # a reply now belongs to this command
            protocol._response_pending = True
        last: bytes | memoryview | None = None
        for piece in session.stuffed(data):
            if last is not None:
                _write(protocol, last)
                await protocol._drain_helper()  # flow control: at most a slice is buffered
            last = piece
        assert last is not None
        _write(protocol, last)
        reply = await protocol.read_response(timeout=connection.timeout)
        refused = session.end_of_data_error(reply.code, reply.message.encode())
        if refused is not None:
            if session.refusal(refused):
                await _reset(connection, refused)
            else:  # not an answer to trust: the session's state is unknown
                _abort(connection)
            raise refused
    except BaseException as exc:
        failure = translated(exc)
        session.after_data(failure, message)
        reraise(failure, exc)


def _write(protocol: aiosmtplib.protocol.SMTPProtocol, data: bytes | memoryview) -> None:
    transport = protocol.transport
    if transport is None or transport.is_closing():
        raise smtplib.SMTPServerDisconnected("Connection lost")
    cast("asyncio.WriteTransport", transport).write(data)


async def _reset(connection: aiosmtplib.SMTP, error: BaseException | None = None) -> None:
    """End a refused transaction so that the session stays usable (after a 421,
    aiosmtplib has already closed it; after a reply that is not SMTP, nothing is said)."""
    garbage = isinstance(error, aiosmtplib.SMTPResponseException) and error.code < 0
    if connection.is_connected and not garbage:
        with contextlib.suppress(aiosmtplib.SMTPResponseException, ConnectionError):
            await connection.rset()


def _drop_if_broken(backend: EmailBackend, error: BaseException) -> None:
    # As on the sync path: a refusal leaves the session usable (aiosmtplib has sent RSET);
    # anything else - lost connection, timeout, cancellation - hangs up at once, so no
    # half-open connection outlives the call.
    connection = backend.async_connection
    if connection is None:
        return
    refusal = isinstance(error, smtplib.SMTPResponseException | smtplib.SMTPRecipientsRefused)
    if not (refusal and connection.is_connected):
        backend.async_connection = None
        _abort(connection)


def _abort(connection: aiosmtplib.SMTP) -> None:
    # transport.close() on a TLS connection waits for the peer's close_notify, up to 30 s
    # in Python 3.11; abort() releases the socket on the next loop iteration.
    transport = connection.transport
    if isinstance(transport, asyncio.Transport):
        transport.abort()
    connection.close()
