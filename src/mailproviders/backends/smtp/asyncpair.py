"""The async methods of the SMTP backend: native with aiosmtplib, else a worker thread.

Kept apart from :mod:`.backend` so that the sync backend reads on its own; the native
path itself is :mod:`.aio` (imported only when aiosmtplib is installed).
"""

from __future__ import annotations

import smtplib
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, cast

from mailproviders.backends.base import BaseEmailBackend

if TYPE_CHECKING:
    import asyncio

    import aiosmtplib

    from mailproviders.backends.smtp.backend import EmailBackend
    from mailproviders.message import EmailMessage

__all__ = ["AsyncMethods"]

#: Guards every backend's table of per-loop state (held only to look up or add an entry).
_STATE_LOCK = threading.Lock()


class _LoopState:
    """The async connection of one event loop and the lock that serializes its use."""

    __slots__ = ("connection", "extra", "lock", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        import asyncio

        self.loop = loop
        self.lock = asyncio.Lock()
        self.connection: aiosmtplib.SMTP | None = None
        self.extra: list[aiosmtplib.SMTP] = []


class AsyncMethods(BaseEmailBackend):
    """``aopen``/``aclose``/``asend_messages`` of the SMTP backend (a mixin of it)."""

    #: The sync connection (set by the SMTP backend).
    connection: smtplib.SMTP | None
    _loop_states: dict[int, _LoopState] | None = None

    @property
    def async_connection(self) -> aiosmtplib.SMTP | None:
        """The open native async connection of the running event loop, or ``None`` (also
        outside an event loop). Each loop has its own (see :meth:`aopen`)."""
        state = self._loop_state(create=False)
        return None if state is None else state.connection

    @async_connection.setter
    def async_connection(self, connection: aiosmtplib.SMTP | None) -> None:
        state = self._loop_state(create=connection is not None)
        if state is not None:
            state.connection = connection

    @property
    def async_extra_connections(self) -> list[aiosmtplib.SMTP]:
        """The extra native async connections of the running event loop (``max_connections``
        > 1) that stay open with :meth:`aopen` (a list to change in place; ``[]`` outside
        an event loop)."""
        state = self._loop_state(create=True)
        return [] if state is None else state.extra

    async def aopen(self) -> None:
        """Async :meth:`open` (same exceptions); a no-op when already open."""
        if not _native_async():
            await super().aopen()
            return
        from mailproviders.backends.smtp import aio, aiopool

        backend = cast("EmailBackend", self)
        async with self._async_lock():
            await (aiopool if backend.pool else aio).open_connection(backend)

    async def aclose(self) -> None:
        """Async :meth:`close`: QUIT and close the async connection, and a sync one opened
        by :meth:`open` too; errors are ignored."""
        if not _native_async():
            await super().aclose()
            return
        from mailproviders.backends.smtp import aio, aiopool

        backend = cast("EmailBackend", self)
        async with self._async_lock():
            await (aiopool if backend.pool else aio).close(backend)
        if self.connection is not None:
            import asyncio  # not at module level: sync-only processes never import it

            await asyncio.to_thread(self.close)

    async def asend_messages(self, messages: Iterable[EmailMessage]) -> int:
        """Async :meth:`send_messages`: same result, ``refused_recipients`` and exceptions.

        Cancelling the task mid-send hangs up the connection at once (no half-open
        connection is left); the backend connects afresh on its next use.
        """
        if not _native_async():
            return await super().asend_messages(messages)
        from mailproviders.backends.smtp import aio

        backend = cast("EmailBackend", self)
        async with self._async_lock():
            if backend.pool:
                from mailproviders.backends.smtp import aiopool

                return await aiopool.send(backend, messages)
            if backend.max_connections > 1:
                from mailproviders.backends.smtp import aioparallel

                return await aioparallel.send(backend, messages)
            return await aio.send(backend, messages)

    def _async_lock(self) -> asyncio.Lock:
        state = self._loop_state(create=True)
        assert state is not None
        return state.lock

    def _loop_state(self, *, create: bool) -> _LoopState | None:
        # An asyncio.Lock and an aiosmtplib connection belong to one event loop, so each
        # loop gets its own: threads each running asyncio.run() share the backend without
        # waiting on each other's locks. Entries of closed loops are dropped on the way.
        import asyncio

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        with _STATE_LOCK:
            states = self._loop_states
            if states is None:
                states = self._loop_states = {}
            state = states.get(id(loop))
            if state is not None and state.loop is loop:
                return state
            if not create:
                return None
            for key in [key for key, old in states.items() if old.loop.is_closed()]:
                del states[key]
            state = states[id(loop)] = _LoopState(loop)
            return state


def _native_async() -> bool:
    """Whether aiosmtplib is installed (checked on each call: tests block it on purpose)."""
    try:
        import aiosmtplib  # noqa: F401
    except ImportError:
        return False
    return True
