"""The SMTP connection pool, native async side (aiosmtplib), with the rules of :mod:`.pool`.

An aiosmtplib connection belongs to the event loop that opened it, so every event loop
has its own pool per alias (``size`` counts per loop), shared by its tasks. A pool is
closed with QUIT by ``aclose_all()`` in its loop, by ``close_all()``/``aclose_all()``
elsewhere (scheduled on its loop while that runs), and when its loop shuts down
(``asyncio.run`` finalizes async generators; each pool keeps one). Needs aiosmtplib.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Final, cast

import aiosmtplib

from mailproviders.backends.base import share
from mailproviders.backends.smtp import aio, session
from mailproviders.backends.smtp.aioerrors import reraise, translated
from mailproviders.backends.smtp.aiowire import abort
from mailproviders.backends.smtp.leases import (
    QUIT_WAIT,
    Entry,
    PoolState,
    busy_error,
    entry_of,
    key_of,
    lend,
    log_replaced,
    readable,
    replaceable,
    reusable,
    take_back,
)

if TYPE_CHECKING:
    from mailproviders.backends.smtp.backend import EmailBackend
    from mailproviders.config.pool_options import SMTPPoolOptions
    from mailproviders.message import EmailMessage

__all__ = ["POOLS", "AsyncPool", "close", "give_back", "open_connection", "send"]


async def _quit(connection: aiosmtplib.SMTP) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(aio.quit_quietly(connection), QUIT_WAIT)


class AsyncPool:
    """The async connections of one alias in one event loop (:attr:`loop`)."""

    def __init__(self, settings: SMTPPoolOptions, loop: asyncio.AbstractEventLoop) -> None:
        self.state, self.loop = PoolState(settings), loop
        self._cond = asyncio.Condition()
        self._keeper: AsyncIterator[None] | None = None

    async def start(self) -> None:
        """Have the loop close this pool when it shuts down (see the module)."""
        self._keeper = _keeper(self)
        await anext(self._keeper)

    async def borrow(self, backend: EmailBackend, *, fresh: bool = False) -> aiosmtplib.SMTP:
        """As :meth:`.pool.Pool.borrow`."""
        deadline = time.monotonic() + backend.timeout
        while True:
            entry = await self._reserve(backend, deadline, fresh=fresh)
            if entry is None:
                try:
                    connection = await aio.connect(backend)
                except BaseException:
                    await self._release()
                    raise
                return cast("aiosmtplib.SMTP", lend(Entry(connection, self)))
            usable = False
            try:
                usable = await self._usable(entry)
            finally:
                if not usable:
                    abort(entry.connection)  # dead (or cancelled while probing)
                    await self._release()
            if usable:
                return cast("aiosmtplib.SMTP", lend(entry))

    async def _reserve(self, backend: EmailBackend, end: float, *, fresh: bool) -> Entry | None:
        stale: list[Entry] = []
        try:
            async with self._cond:
                while (found := self.state.take(fresh=fresh, stale=stale)) is False:
                    remaining = end - time.monotonic()
                    if remaining <= 0:
                        raise busy_error(backend, self.state.settings.size)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._cond.wait(), remaining)
                if stale:
                    self._cond.notify(len(stale))
        finally:
            for old in stale:
                await _quit(old.connection)
        return None if found is True else found

    async def _usable(self, entry: Entry) -> bool:
        connection: aiosmtplib.SMTP = entry.connection
        transport = connection.transport
        if not connection.is_connected or transport is None:
            return False
        sock = transport.get_extra_info("socket")
        if sock is not None and readable(sock):  # before the loop has seen it
            return False
        if entry.needs_probe(self.state.settings):
            try:
                return (await connection.noop()).code == 250
            except Exception:  # any failure: the connection is not to be trusted
                return False
        return True

    async def put(self, entry: Entry, *, alive: bool) -> None:
        """Take ``entry`` back: idle again, or closed (QUIT unless not ``alive``)."""
        async with self._cond:
            if alive and self.state.keep(entry):
                self._cond.notify()
                return
        try:
            if alive:
                await _quit(entry.connection)
        finally:
            abort(entry.connection)
            await self._release()

    async def _release(self) -> None:
        self.state.count -= 1  # at once: no await first, so a cancellation cannot lose it
        async with self._cond:
            self._cond.notify()

    async def aclose(self) -> None:
        """Close the idle connections (QUIT); those lent out are closed when returned."""
        async with self._cond:
            idle = self.state.drain()
            self._cond.notify_all()
        for entry in idle:
            await _quit(entry.connection)

    def close_from_elsewhere(self) -> None:
        """Close from outside a coroutine of this pool's loop: on the loop when it runs."""
        if self.loop.is_closed():
            return
        running = None
        with contextlib.suppress(RuntimeError):
            running = asyncio.get_running_loop()
        if running is self.loop:
            task = self.loop.create_task(self.aclose())
            _closing.add(task)
            task.add_done_callback(_closing.discard)
        elif self.loop.is_running():
            asyncio.run_coroutine_threadsafe(self.aclose(), self.loop)
        else:  # a loop that is not running now: hang up without QUIT
            for entry in self.state.drain():
                abort(entry.connection)


_closing: set[asyncio.Task[None]] = set()


async def _keeper(pool: AsyncPool) -> AsyncIterator[None]:
    try:
        yield
    finally:
        await pool.aclose()


class _AsyncPools:
    """Every async pool, by :func:`.leases.key_of` and event loop: one shared resource."""

    def __init__(self) -> None:
        self.forget()

    def forget(self) -> None:
        """Start empty (also in a forked child: the parent's pools are not its own)."""
        self.pools: dict[tuple[object, ...], AsyncPool] = {}
        self.lock = threading.Lock()

    async def get(self, backend: EmailBackend) -> AsyncPool:
        """The pool of ``backend`` in the running event loop (created on first use)."""
        loop = asyncio.get_running_loop()
        key = (*key_of(backend), id(loop))
        with self.lock:
            pool = self.pools.get(key)
            if pool is not None and pool.loop is loop:
                return pool
            self.pools = {k: p for k, p in self.pools.items() if not p.loop.is_closed()}
            assert backend.pool is not None
            pool = self.pools[key] = AsyncPool(backend.pool, loop)
        await pool.start()
        return pool

    def _take_all(self) -> list[AsyncPool]:
        with self.lock:
            pools, self.pools = list(self.pools.values()), {}
        return pools

    def close(self) -> None:
        for pool in self._take_all():
            pool.close_from_elsewhere()

    async def aclose(self) -> None:
        running = asyncio.get_running_loop()
        for pool in self._take_all():
            if pool.loop is running:
                await pool.aclose()
            else:
                pool.close_from_elsewhere()


POOLS: Final = _AsyncPools()
share(POOLS)
if hasattr(os, "register_at_fork"):  # a forked child drops the parent's (see .pool)
    os.register_at_fork(after_in_child=POOLS.forget)


async def give_back(connection: aiosmtplib.SMTP, *, reusable: bool = True) -> None:
    """Return a borrowed ``connection`` to its pool (``reusable=False``: broken, no QUIT),
    shielded (a cancelled caller still frees its slot); one not from a pool gets QUIT."""
    entry = take_back(connection)
    alive = reusable and connection.is_connected
    if entry is not None:
        await asyncio.shield(cast("AsyncPool", entry.pool).put(entry, alive=alive))
    elif alive:
        await _quit(connection)
    else:
        abort(connection)


async def open_connection(backend: EmailBackend) -> None:
    """``aopen()`` with a pool: borrow the connection of the running loop, if none yet."""
    if backend.async_connection is None:
        backend.async_connection = await (await POOLS.get(backend)).borrow(backend)


async def close(backend: EmailBackend) -> None:
    """``aclose()`` with a pool: give the connection of the running loop back."""
    connection, backend.async_connection = backend.async_connection, None
    if connection is not None:
        await give_back(connection)


async def send(backend: EmailBackend, messages: Iterable[EmailMessage]) -> int:
    """The body of ``backend.asend_messages`` with a pool (the caller holds the async lock):
    the connection opened with ``aopen()``, else one borrowed for the call."""
    sent: list[EmailMessage] = []
    borrowed_here = backend.async_connection is None
    try:
        for message in messages:
            if not message.recipients():
                continue
            prepared = session.prepare(message)
            await _deliver(backend, message, prepared)
            sent.append(message)
    except BaseException as exc:
        error = translated(exc)
        session.send_failed(backend, error, sent)
        reraise(error, exc)
    finally:
        if borrowed_here:
            await close(backend)
    return len(sent)


async def _deliver(
    backend: EmailBackend, message: EmailMessage, prepared: session.Prepared
) -> None:
    retried, held = False, backend.async_connection is not None  # not opened for it
    while True:
        connection = backend.async_connection
        if connection is None:
            pool = await POOLS.get(backend)
            connection = backend.async_connection = await pool.borrow(backend, fresh=retried)
        entry = entry_of(connection)
        try:
            await aio.deliver(backend, connection, message, prepared)
        except BaseException as exc:
            error = translated(exc)
            if reusable(connection.is_connected, error):
                reraise(error, exc)
            backend.async_connection = None
            await give_back(connection, reusable=False)
            if retried or entry is None or not (entry.proven or held) or not replaceable(error):
                reraise(error, exc)
            retried = True
            log_replaced(backend, error)
            continue
        if entry is not None:
            entry.served, entry.proven = entry.served + 1, True
            if entry.spent(entry.pool.state.settings):
                backend.async_connection = None
                await give_back(connection)
        return
