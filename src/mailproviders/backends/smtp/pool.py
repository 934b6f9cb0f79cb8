"""The SMTP connection pool (the ``pool`` option), sync side; what both sides share is in
:mod:`.leases`.

A pool belongs to an alias and its connection settings (:func:`pool_of` keys it by them),
so every backend instance of the alias - ``providers[alias]`` builds a new one on each
access - borrows from the same pool, in every thread. ``open()`` borrows a connection and
``close()`` gives it back; a send without ``open()`` borrows for the call. The rules
(docs/pooling.md):

- at most ``size`` connections are open; a borrower waits up to the backend's
  ``timeout`` for one, then gets a ``TimeoutError`` (nothing was sent);
- the connection returned last is reused first; one unused for longer than ``max_idle``
  is closed (QUIT) instead, one unused for ``probe_after`` seconds is checked with NOOP
  first, one the server hung up on (or sent anything to: an unsolicited 421) is replaced;
- after ``max_messages`` messages a connection is closed (QUIT) and replaced;
- a message that fails on a reused (or held) connection because it was lost (or the
  server answered 421) before any of its data went out was certainly not delivered: it
  is sent again, once, on a new connection;
- after anything but a refusal reply (lost, timed out, interrupted, possibly delivered)
  a connection is closed without QUIT and never returned to the pool.

``providers.close_all()``/``aclose_all()``, ``configure()`` and interpreter exit close the
pools (QUIT); later sends start new ones. A forked child starts without pools (the
parent's connections stay the parent's). :mod:`.aiopool` is the async side.
"""

from __future__ import annotations

import atexit
import os
import smtplib
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final, cast

from mailproviders.backends.base import share
from mailproviders.backends.smtp import session
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

__all__ = ["POOLS", "Pool", "give_back", "pool_of", "quit_quietly", "send"]


def quit_quietly(connection: smtplib.SMTP, *, wait: float | None = None) -> None:
    """Say QUIT (waiting at most ``wait`` seconds for the reply) and close ``connection``;
    errors are ignored (the server may already have hung up)."""
    try:
        if wait is not None and connection.sock is not None:
            connection.timeout = min(float(connection.timeout), wait)
            connection.sock.settimeout(connection.timeout)
        connection.quit()
    except OSError:  # includes SMTPException
        pass
    finally:
        connection.close()


def _hung_up(connection: smtplib.SMTP) -> bool:
    """Whether the server closed an idle ``connection``, or sent something on it (an idle
    session gets nothing but, say, a 421 before the server hangs up)."""
    sock = connection.sock
    if sock is None:
        return True
    pending = getattr(sock, "pending", None)  # TLS: bytes already decrypted
    return bool(pending is not None and pending()) or readable(sock)


class Pool:
    """The sync connections of one alias (see the module's rules)."""

    def __init__(self, settings: SMTPPoolOptions) -> None:
        self.state = PoolState(settings)
        self._cond = threading.Condition(threading.Lock())

    def borrow(self, backend: EmailBackend, *, fresh: bool = False) -> smtplib.SMTP:
        """A connection for ``backend``: an idle one that passes the checks (``fresh``: a
        new one), or a new one while fewer than ``size`` are open; else wait for one."""
        deadline = time.monotonic() + backend.timeout
        while True:
            entry = self._reserve(backend, deadline, fresh=fresh)
            if entry is None:
                try:
                    connection = backend._connect()
                except BaseException as exc:
                    self._release()
                    session.connect_failed(backend, exc)
                    raise
                return cast("smtplib.SMTP", lend(Entry(connection, self)))
            usable = False
            try:
                usable = self._usable(entry)
            finally:
                if not usable:
                    entry.connection.close()  # dead (or interrupted): no QUIT
                    self._release()
            if usable:
                return cast("smtplib.SMTP", lend(entry))

    def _reserve(self, backend: EmailBackend, deadline: float, *, fresh: bool) -> Entry | None:
        """An idle entry, or ``None`` with a slot reserved for a new connection."""
        stale: list[Entry] = []
        try:
            with self._cond:
                while (found := self.state.take(fresh=fresh, stale=stale)) is False:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise busy_error(backend, self.state.settings.size)
                    self._cond.wait(remaining)
                if stale:
                    self._cond.notify(len(stale))
        finally:
            for old in stale:
                quit_quietly(old.connection, wait=QUIT_WAIT)
        return None if found is True else found

    def _usable(self, entry: Entry) -> bool:
        connection: smtplib.SMTP = entry.connection
        if _hung_up(connection):
            return False
        if entry.needs_probe(self.state.settings):
            try:
                return connection.noop()[0] == 250
            except OSError:
                return False
        return True

    def put(self, entry: Entry, *, alive: bool) -> None:
        """Take ``entry`` back: idle again, or closed (QUIT unless not ``alive``)."""
        with self._cond:
            if alive and self.state.keep(entry):
                self._cond.notify()
                return
        try:
            if alive:
                quit_quietly(entry.connection, wait=QUIT_WAIT)
            else:
                entry.connection.close()
        finally:
            self._release()

    def _release(self) -> None:
        with self._cond:
            self.state.count -= 1
            self._cond.notify()

    def close(self) -> None:
        """Close the idle connections (QUIT); those lent out are closed when returned."""
        with self._cond:
            idle = self.state.drain()
            self._cond.notify_all()
        for entry in idle:
            quit_quietly(entry.connection, wait=QUIT_WAIT)


def give_back(connection: smtplib.SMTP, *, reusable: bool = True) -> None:
    """Return a borrowed ``connection`` to its pool (``reusable=False``: it is broken;
    closed without QUIT). A connection not from a pool is closed (QUIT)."""
    entry = take_back(connection)
    alive = reusable and connection.sock is not None
    if entry is not None:
        entry.pool.put(entry, alive=alive)
    elif alive:
        quit_quietly(connection)
    else:
        connection.close()


class _Pools:
    """Every sync pool, by :func:`.leases.key_of`: one shared resource for ``close_all()``."""

    def __init__(self) -> None:
        self.pools: dict[tuple[object, ...], Pool] = {}
        self.lock = threading.Lock()
        self._at_exit = False

    def get(self, backend: EmailBackend) -> Pool:
        key = key_of(backend)
        with self.lock:
            pool = self.pools.get(key)
            if pool is None:
                assert backend.pool is not None
                pool = self.pools[key] = Pool(backend.pool)
                if not self._at_exit:
                    self._at_exit = True
                    atexit.register(self.close)
        return pool

    def close(self) -> None:
        with self.lock:
            pools = list(self.pools.values())
            self.pools.clear()
        for pool in pools:
            pool.close()

    async def aclose(self) -> None:
        if self.pools:
            import asyncio

            await asyncio.to_thread(self.close)

    def forget(self) -> None:
        """In a forked child: drop the parent's pools without a word to the server (their
        connections are the parent's sockets; a QUIT or a message from the child would
        end or corrupt the parent's sessions) and start with a new lock (the parent's
        may have been held by another thread at the fork)."""
        self.lock = threading.Lock()
        self.pools = {}


POOLS: Final = _Pools()
share(POOLS)
if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=POOLS.forget)


def pool_of(backend: EmailBackend) -> Pool:
    """The pool of ``backend`` (created on first use)."""
    return POOLS.get(backend)


def send(backend: EmailBackend, messages: Iterable[EmailMessage]) -> int:
    """The body of ``backend.send_messages`` with a pool (the caller holds its lock): the
    connection opened with ``open()``, else one borrowed for the call."""
    sent: list[EmailMessage] = []
    borrowed_here = backend.connection is None
    try:
        for message in messages:
            if not message.recipients():
                continue
            prepared = session.prepare(message)
            _deliver(backend, message, prepared)
            sent.append(message)
    except BaseException as exc:
        session.send_failed(backend, exc, sent)
        raise
    finally:
        connection = backend.connection
        if borrowed_here and connection is not None:
            backend.connection = None
            give_back(connection)
    return len(sent)


def _deliver(backend: EmailBackend, message: EmailMessage, prepared: session.Prepared) -> None:
    retried, held = False, backend.connection is not None  # not opened for this message
    while True:
        if backend.connection is None:
            backend.connection = pool_of(backend).borrow(backend, fresh=retried)
        connection = backend.connection
        entry = entry_of(connection)
        try:
            backend._deliver(connection, message, prepared)
        except BaseException as exc:
            if reusable(connection.sock is not None, exc):
                raise
            backend.connection = None
            give_back(connection, reusable=False)
            if retried or entry is None or not (entry.proven or held) or not replaceable(exc):
                raise
            retried = True
            log_replaced(backend, exc)
            continue
        if entry is not None:
            entry.served, entry.proven = entry.served + 1, True
            if entry.spent(entry.pool.state.settings):
                backend.connection = None
                give_back(connection)
        return
