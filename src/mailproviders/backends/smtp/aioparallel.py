"""``max_connections`` > 1, native async: one ``asend_messages`` call over several
connections, one task each - the async twin of :mod:`.parallel`, with the same rules.

The calling task reads the messages and hands them through a bounded queue to the
worker tasks; each opens its connection on its first message; the first failure stops
the call with every message accepted on any connection recorded on the exception.
Cancelling the calling task cancels the workers and hangs up all their connections.

Imported only when aiosmtplib is installed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING

import aiosmtplib

from mailproviders.backends.smtp import aio, session
from mailproviders.backends.smtp.aioerrors import translated
from mailproviders.backends.smtp.aiowire import abort
from mailproviders.backends.smtp.parallel import Run

if TYPE_CHECKING:
    from mailproviders.backends.smtp.backend import EmailBackend
    from mailproviders.message import EmailMessage

__all__ = ["send"]

_Slots = list[aiosmtplib.SMTP | None]


async def send(backend: EmailBackend, messages: Iterable[EmailMessage]) -> int:
    """The body of ``backend.asend_messages`` with ``max_connections`` > 1 (the caller
    holds the async lock of the running loop)."""
    keep = backend.async_connection is not None
    extra = backend.async_extra_connections
    connections: _Slots = [backend.async_connection, *extra]
    connections += [None] * (backend.max_connections - len(connections))
    run = Run()
    work: asyncio.Queue[EmailMessage | None] = asyncio.Queue(maxsize=len(connections))
    workers = [
        asyncio.create_task(_worker(backend, run, work, connections, slot))
        for slot in range(len(connections))
    ]
    try:
        try:
            for message in messages:
                if run.stop:
                    break
                if message.recipients():
                    await work.put(message)
        except Exception as exc:  # the input itself failed
            run.failed(exc)
        for _ in workers:
            await work.put(None)
        await asyncio.gather(*workers)
    except BaseException:  # cancelled (or interrupted): hang up every connection at once
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        _abort_all(backend, connections)
        raise
    await _settle(backend, connections, keep=keep)
    error = run.error(backend)
    if error is not None:
        raise error
    return len(run.sent)


async def _worker(
    backend: EmailBackend,
    run: Run,
    work: asyncio.Queue[EmailMessage | None],
    connections: _Slots,
    slot: int,
) -> None:
    while (message := await work.get()) is not None:
        if run.stop:
            continue  # drain: the reading task must never wait on a full queue
        try:
            prepared = session.prepare(message)
            connection = connections[slot]
            if connection is None:
                connection = connections[slot] = await aio.connect(backend)
            await aio.deliver(backend, connection, message, prepared)
        except Exception as exc:
            error = translated(exc)
            run.failed(error)
            connection = connections[slot]
            if connection is not None and aio.broken(connection, error):
                connections[slot] = None
                abort(connection)
            continue
        run.accepted(message)


def _abort_all(backend: EmailBackend, connections: _Slots) -> None:
    for connection in connections:
        if connection is not None:
            abort(connection)
    backend.async_connection = None
    backend.async_extra_connections.clear()


async def _settle(backend: EmailBackend, connections: _Slots, *, keep: bool) -> None:
    """Keep the connections on the backend (it was opened before the call), or close them."""
    live = [connection for connection in connections if connection is not None]
    if keep and live:
        backend.async_connection = live[0]
        backend.async_extra_connections[:] = live[1:]
        return
    backend.async_connection = None
    backend.async_extra_connections.clear()
    for connection in live:
        await aio.quit_quietly(connection)
