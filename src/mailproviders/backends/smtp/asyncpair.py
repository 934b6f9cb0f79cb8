"""The async methods of the SMTP backend: native with aiosmtplib, else a worker thread.

Kept apart from :mod:`.backend` so that the sync backend reads on its own; the native
path itself is :mod:`.aio` (imported only when aiosmtplib is installed).
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterable
from typing import TYPE_CHECKING, cast

from mailproviders.backends.base import BaseEmailBackend

if TYPE_CHECKING:
    import asyncio

    import aiosmtplib

    from mailproviders.backends.smtp.backend import EmailBackend
    from mailproviders.message import EmailMessage

__all__ = ["AsyncMethods"]


class AsyncMethods(BaseEmailBackend):
    """``aopen``/``aclose``/``asend_messages`` of the SMTP backend (a mixin of it)."""

    #: The open native async connection, or ``None`` (see :meth:`aopen`).
    async_connection: aiosmtplib.SMTP | None = None
    #: The sync connection (set by the SMTP backend).
    connection: smtplib.SMTP | None
    _async_lock_for: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None

    async def aopen(self) -> None:
        """Async :meth:`open` (same exceptions); a no-op when already open."""
        if not _native_async():
            await super().aopen()
            return
        from mailproviders.backends.smtp import aio

        async with self._async_lock():
            await aio.open_connection(cast("EmailBackend", self))

    async def aclose(self) -> None:
        """Async :meth:`close`: QUIT and close the async connection, and a sync one opened
        by :meth:`open` too; errors are ignored."""
        if not _native_async():
            await super().aclose()
            return
        from mailproviders.backends.smtp import aio

        async with self._async_lock():
            await aio.close(cast("EmailBackend", self))
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

        async with self._async_lock():
            return await aio.send(cast("EmailBackend", self), messages)

    def _async_lock(self) -> asyncio.Lock:
        # An asyncio.Lock belongs to one event loop: a backend used again under a new
        # loop (another asyncio.run) gets a new lock, and its old connection is dropped.
        import asyncio

        loop = asyncio.get_running_loop()
        if self._async_lock_for is None or self._async_lock_for[0] is not loop:
            self._async_lock_for = (loop, asyncio.Lock())
            self.async_connection = None
        return self._async_lock_for[1]


def _native_async() -> bool:
    """Whether aiosmtplib is installed (checked on each call: tests block it on purpose)."""
    try:
        import aiosmtplib  # noqa: F401
    except ImportError:
        return False
    return True
