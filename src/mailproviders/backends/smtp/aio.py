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
from typing import TYPE_CHECKING, Final, NoReturn

import aiosmtplib

from mailproviders.backends.smtp import session
from mailproviders.backends.smtp.session import Prepared
from mailproviders.exceptions import record_possibly_sent

if TYPE_CHECKING:
    from mailproviders.backends.smtp.backend import EmailBackend
    from mailproviders.message import EmailMessage

__all__ = ["close", "open_connection", "send"]

_SERVICE_CLOSING: Final = 421


async def open_connection(backend: EmailBackend) -> bool:
    """Open ``backend.async_connection`` if needed; return whether this call opened it."""
    if backend.async_connection is not None:
        return False
    try:
        backend.async_connection = await _connect(backend)
    except BaseException as exc:
        error = _translated(exc)
        session.connect_failed(backend, error)
        _reraise(error, exc)
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
        error = _translated(exc)
        _drop_if_broken(backend, error)
        session.send_failed(backend, error, sent)
        _reraise(error, exc)
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
    """MAIL, RCPT, DATA, like the sync path; returns the refused recipients.

    A failure other than a refusal reply once DATA has begun (lost connection, timeout,
    cancellation) marks ``message`` as possibly delivered.
    """
    encoding = "utf-8" if prepared.needs_smtputf8 else "ascii"
    options = ["SMTPUTF8"] if prepared.needs_smtputf8 else []
    if connection.supports_extension("size"):
        options.insert(0, f"size={len(prepared.data)}")
    refused: dict[str, tuple[int, bytes]] = {}
    try:
        await connection.mail(prepared.sender, options=options, encoding=encoding)
        for address in prepared.recipients:
            try:
                await connection.rcpt(address, encoding=encoding)
            except aiosmtplib.SMTPRecipientRefused as exc:
                refused[address] = (exc.code, exc.message.encode())
                if exc.code == _SERVICE_CLOSING:
                    break
        if len(refused) == len(prepared.recipients) or not connection.is_connected:
            raise smtplib.SMTPRecipientsRefused(refused)
    except (aiosmtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused) as exc:
        await _reset(connection)
        raise _translated(exc) from exc
    try:
        await connection.data(prepared.data)
    except aiosmtplib.SMTPResponseException as exc:
        await _reset(connection)
        raise _translated(exc) from exc
    except BaseException as exc:
        error = _translated(exc)
        record_possibly_sent(error, [message])
        _reraise(error, exc)
    return refused


async def _reset(connection: aiosmtplib.SMTP) -> None:
    """End a refused transaction so that the session stays usable (after a 421,
    aiosmtplib has already closed it)."""
    if connection.is_connected:
        with contextlib.suppress(aiosmtplib.SMTPResponseException, ConnectionError):
            await connection.rset()


def _replies(
    refused: dict[str, aiosmtplib.SMTPResponse] | list[aiosmtplib.SMTPRecipientRefused],
) -> dict[str, tuple[int, bytes]]:
    if isinstance(refused, dict):
        return {address: (r.code, r.message.encode()) for address, r in refused.items()}
    return {r.recipient: (r.code, r.message.encode()) for r in refused}


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


def _reraise(error: BaseException, original: BaseException) -> NoReturn:
    if error is original:
        raise original
    raise error from original


def _translated(exc: BaseException) -> BaseException:
    """The exception the sync path raises for aiosmtplib's ``exc`` (``exc`` when not
    aiosmtplib's), chained to it already, as it will be when raised."""
    error = _mapped(exc) if isinstance(exc, aiosmtplib.SMTPException) else exc
    if error is not exc and error.__context__ is None:
        error.__context__ = exc
    return error


def _mapped(exc: aiosmtplib.SMTPException) -> BaseException:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return smtplib.SMTPRecipientsRefused(_replies(exc.recipients))
    if isinstance(exc, aiosmtplib.SMTPReadTimeoutError):
        # What smtplib raises for a reply that never came (chained to the timeout).
        return smtplib.SMTPServerDisconnected("Connection unexpectedly closed: timed out")
    if isinstance(exc, aiosmtplib.SMTPTimeoutError):
        return TimeoutError(exc.message)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return _response_error(exc)
    if isinstance(exc, aiosmtplib.SMTPConnectError):
        cause = exc.__cause__
        return cause if isinstance(cause, OSError) else ConnectionError(exc.message)
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected):
        return smtplib.SMTPServerDisconnected(exc.message)
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return smtplib.SMTPNotSupportedError(exc.message)
    return smtplib.SMTPException(exc.message)


def _response_error(exc: aiosmtplib.SMTPResponseException) -> smtplib.SMTPResponseException:
    reply = exc.message.encode()
    if isinstance(exc, aiosmtplib.SMTPSenderRefused):
        return smtplib.SMTPSenderRefused(exc.code, reply, exc.sender)
    kinds: list[tuple[type[aiosmtplib.SMTPResponseException], type[smtplib.SMTPResponseException]]]
    kinds = [
        (aiosmtplib.SMTPAuthenticationError, smtplib.SMTPAuthenticationError),
        (aiosmtplib.SMTPDataError, smtplib.SMTPDataError),
        (aiosmtplib.SMTPHeloError, smtplib.SMTPHeloError),
        (aiosmtplib.SMTPConnectResponseError, smtplib.SMTPConnectError),
    ]
    for theirs, ours in kinds:
        if isinstance(exc, theirs):
            return ours(exc.code, reply)
    return smtplib.SMTPResponseException(exc.code, reply)
