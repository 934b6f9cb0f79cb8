"""Native async SMTP for :class:`mailproviders.backends.smtp.EmailBackend`, with aiosmtplib.

Imported only when aiosmtplib is installed (the ``mailproviders[async]`` extra). The
functions here mirror the sync methods of the backend and share :mod:`.session` with them;
aiosmtplib's exceptions are turned into the ones the sync path raises (``smtplib``
exceptions, ``OSError``, ``TimeoutError``), so callers handle one set of errors.
"""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import Iterable
from typing import TYPE_CHECKING

import aiosmtplib

from mailproviders.backends.smtp import session
from mailproviders.backends.smtp.aioerrors import reraise, translated
from mailproviders.backends.smtp.aiotransaction import transaction
from mailproviders.backends.smtp.aiowire import abort
from mailproviders.backends.smtp.session import Prepared

if TYPE_CHECKING:
    from mailproviders.backends.smtp.backend import EmailBackend
    from mailproviders.message import EmailMessage

__all__ = ["broken", "close", "connect", "deliver", "open_connection", "quit_quietly", "send"]


async def open_connection(backend: EmailBackend) -> bool:
    """Open ``backend.async_connection`` if needed; return whether this call opened it."""
    if backend.async_connection is not None:
        return False
    backend.async_connection = await connect(backend)
    return True


async def connect(backend: EmailBackend) -> aiosmtplib.SMTP:
    """A new connection of ``backend``; raises the errors the sync path raises, noted."""
    try:
        return await _connect(backend)
    except BaseException as exc:
        error = translated(exc)
        session.connect_failed(backend, error)
        reraise(error, exc)


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
        abort(connection)
        raise
    return connection


async def close(backend: EmailBackend) -> None:
    """Say QUIT and close ``backend.async_connection`` (and the extra connections of
    ``max_connections``); errors are ignored."""
    connection, backend.async_connection = backend.async_connection, None
    extra = backend.async_extra_connections
    connections, extra[:] = [connection, *extra], []
    for each in connections:
        if each is not None:
            await quit_quietly(each)


async def quit_quietly(connection: aiosmtplib.SMTP) -> None:
    """Say QUIT and close ``connection``; errors are ignored, cancellation hangs up."""
    try:
        await connection.quit()
    except (aiosmtplib.SMTPException, OSError):  # the server may already have hung up
        pass
    except BaseException:  # cancelled while saying QUIT: hang up at once
        abort(connection)
        raise
    abort(connection)


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
            assert backend.async_connection is not None
            await deliver(backend, backend.async_connection, message, prepared)
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


async def deliver(
    backend: EmailBackend, connection: aiosmtplib.SMTP, message: EmailMessage, prepared: Prepared
) -> None:
    """Send one prepared message over ``connection``."""
    if connection.is_ehlo_or_helo_needed:
        await connection.ehlo()
    if prepared.needs_smtputf8 and not connection.supports_extension("smtputf8"):
        raise session.smtputf8_missing(backend, prepared)
    message.refused_recipients = {}
    try:
        refused = await transaction(connection, message, prepared, backend.pipelining)
    except smtplib.SMTPRecipientsRefused as exc:
        message.refused_recipients = session.as_written(exc.recipients, prepared.written)
        raise
    if refused:
        session.record_refused(backend, message, refused, prepared)


def _drop_if_broken(backend: EmailBackend, error: BaseException) -> None:
    # As on the sync path: a refusal leaves the session usable (aiosmtplib has sent RSET);
    # anything else - lost connection, timeout, cancellation - hangs up at once, so no
    # half-open connection outlives the call.
    connection = backend.async_connection
    if connection is not None and broken(connection, error):
        backend.async_connection = None
        abort(connection)


def broken(connection: aiosmtplib.SMTP, error: BaseException) -> bool:
    """Whether ``connection`` is unusable after ``error`` (anything but a refusal reply)."""
    refusal = isinstance(error, smtplib.SMTPResponseException | smtplib.SMTPRecipientsRefused)
    return not (refusal and connection.is_connected)
