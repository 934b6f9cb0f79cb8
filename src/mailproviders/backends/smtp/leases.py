"""What the sync (:mod:`.pool`) and async (:mod:`.aiopool`) SMTP pools share: the state of
a pool and its bookkeeping (:class:`PoolState`, no I/O, no locking), the table of lent
connections, what keys a pool, and the rules for a connection after a failure."""

from __future__ import annotations

import logging
import os
import select
import smtplib
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, Final

from mailproviders.backends.smtp import session
from mailproviders.exceptions import possibly_sent_messages_of

if TYPE_CHECKING:
    from mailproviders.backends.smtp.backend import EmailBackend
    from mailproviders.config.pool_options import SMTPPoolOptions

__all__ = [
    "QUIT_WAIT",
    "Entry",
    "PoolState",
    "busy_error",
    "entry_of",
    "key_of",
    "lend",
    "log_replaced",
    "readable",
    "replaceable",
    "reusable",
    "take_back",
]

logger = logging.getLogger("mailproviders")

#: How long closing an idle connection waits for the reply to QUIT (a half-open
#: connection would otherwise hold up the borrower, or interpreter exit, for ``timeout``).
QUIT_WAIT: Final = 2.0
_SERVICE_CLOSING: Final = 421


class Entry:
    """A pooled connection and what its pool knows of it."""

    __slots__ = ("connection", "pool", "proven", "served", "since")

    def __init__(self, connection: Any, pool: Any) -> None:
        self.connection = connection
        self.pool = pool
        self.served = 0  # messages sent over it
        self.since = time.monotonic()  # when it was opened or last returned
        self.proven = False  # it served a message or sat in the pool: not new

    def needs_probe(self, settings: SMTPPoolOptions) -> bool:
        return time.monotonic() - self.since >= settings.probe_after

    def spent(self, settings: SMTPPoolOptions) -> bool:
        return settings.max_messages is not None and self.served >= settings.max_messages


class PoolState:
    """The idle connections of a pool and how many it has open; the caller holds the
    pool's lock around every method and does the I/O (QUIT, connect) outside it."""

    def __init__(self, settings: SMTPPoolOptions) -> None:
        self.settings = settings
        self.closed = False
        self.idle: list[Entry] = []  # the last returned at the end
        self.count = 0  # connections open, or being opened, by this pool

    def take(self, *, fresh: bool, stale: list[Entry]) -> Entry | bool:
        """An idle entry to reuse (not with ``fresh``), ``True``: a slot is reserved for a
        new connection, ``False``: wait. Entries idle too long (and, for ``fresh`` in a
        full pool, the oldest idle one) are moved to ``stale``, their slots freed."""
        now = time.monotonic()
        while self.idle and now - self.idle[0].since > self.settings.max_idle:
            stale.append(self._drop_oldest())
        if self.idle and not fresh:
            return self.idle.pop()
        if self.idle and self.count >= self.settings.size:
            stale.append(self._drop_oldest())
        if self.count < self.settings.size:
            self.count += 1
            return True
        return False

    def _drop_oldest(self) -> Entry:
        self.count -= 1
        return self.idle.pop(0)

    def keep(self, entry: Entry) -> bool:
        """Make ``entry`` idle again, unless it is spent or the pool closed."""
        if entry.spent(self.settings) or self.closed:
            return False
        entry.since, entry.proven = time.monotonic(), True
        self.idle.append(entry)
        return True

    def drain(self) -> list[Entry]:
        """Close the pool: the idle entries, their slots freed, for the caller to close."""
        self.closed = True
        idle, self.idle = self.idle, []
        self.count -= len(idle)
        return idle


_lent: weakref.WeakKeyDictionary[Any, Entry] = weakref.WeakKeyDictionary()
_LENT_LOCK = threading.Lock()


def _forget_lent() -> None:
    """In a forked child: the parent's pools are gone (``pool.POOLS.forget``), so are
    their loans; a new lock, the parent's may have been held at the fork."""
    global _LENT_LOCK
    _LENT_LOCK = threading.Lock()
    _lent.clear()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_forget_lent)


def lend(entry: Entry) -> Any:
    """Record ``entry`` as lent out; return its connection."""
    with _LENT_LOCK:
        _lent[entry.connection] = entry
    return entry.connection


def entry_of(connection: Any) -> Entry | None:
    """The entry of a lent connection (``None``: not from a pool)."""
    with _LENT_LOCK:
        return _lent.get(connection)


def take_back(connection: Any) -> Entry | None:
    """Forget that ``connection`` is lent; its entry, or ``None`` if it was not."""
    with _LENT_LOCK:
        return _lent.pop(connection, None)


def key_of(backend: EmailBackend) -> tuple[object, ...]:
    """What makes two backends share a pool: the alias and every connection setting."""
    return (
        backend.alias,
        backend.host,
        backend.port,
        backend.username,
        backend.password,
        backend.use_tls,
        backend.use_ssl,
        backend.ssl_certfile,
        backend.ssl_keyfile,
        backend.ssl_cafile,
        backend.timeout,
        backend.pool,
    )


def busy_error(backend: EmailBackend, size: int) -> TimeoutError:
    """The error for a borrower that waited ``timeout`` for a free connection."""
    return TimeoutError(
        f"all {size} connections of the SMTP pool of provider {backend.alias!r} "
        f"({backend.host}:{backend.port}) stayed busy for timeout={backend.timeout:g} s; "
        "nothing was sent (raise pool.size, or send from fewer threads/tasks at once)"
    )


def reusable(alive: bool, exc: BaseException) -> bool:
    """Whether a connection may serve again after ``exc``: it is still connected and
    ``exc`` is a refusal reply (the transaction was reset) or an invalid message."""
    if not alive or possibly_sent_messages_of(exc):
        return False
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return True
    if isinstance(exc, smtplib.SMTPResponseException):
        return session.refusal(exc) and exc.smtp_code != _SERVICE_CLOSING
    return isinstance(exc, ValueError)


def replaceable(exc: BaseException) -> bool:
    """Whether ``exc`` says the connection was gone before the message's data went out
    (lost, reset, or a 421 reply; not a timeout): the message was certainly not sent."""
    if possibly_sent_messages_of(exc) or isinstance(exc.__context__, TimeoutError):
        return False
    if isinstance(exc, smtplib.SMTPServerDisconnected | ConnectionError):
        return not isinstance(exc, TimeoutError)
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code == _SERVICE_CLOSING
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return any(code == _SERVICE_CLOSING for code, _ in exc.recipients.values())
    return False


def readable(sock: Any) -> bool:
    """Whether an idle connection's socket (or anything with ``fileno()``) has something
    to read: the server hung up, or sent what an idle session never gets (say, a 421
    before hanging up). An error checking counts as yes."""
    try:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


def log_replaced(backend: session.Endpoint, exc: BaseException) -> None:
    """Log (INFO) that a message goes out again over a new connection, and why."""
    logger.info(
        "%s: the pooled connection to %s:%s was lost before the message went out (%s); "
        "sending it over a new connection",
        backend.alias or "smtp",
        backend.host,
        backend.port,
        " ".join(str(exc).split()) or type(exc).__name__,
    )
