"""The clock that retries and rate limits wait on: replaceable, so tests count waits.

:func:`set_clock` installs another :class:`Clock` (a test's fake that records the waits
asked for and advances its own time); every retry delay and rate-limit wait goes through
the clock in effect, the sync ones through :meth:`Clock.sleep`, the async ones through
:meth:`Clock.asleep` (which never blocks the event loop).
"""

from __future__ import annotations

import random
import time

__all__ = ["Clock", "current", "set_clock"]


class Clock:
    """Real time: ``time.monotonic``, ``time.sleep``, ``asyncio.sleep``, ``random``."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """Block the calling thread for ``seconds``."""
        time.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        """Suspend the calling task for ``seconds`` (other tasks run). A clock that
        replaces :meth:`sleep` only (a test's recording clock) gets the async waits
        there too, so the async send functions wait as the sync ones do; override
        ``asleep`` as well for a clock whose ``sleep`` really blocks."""
        import asyncio  # already imported by whoever awaits this

        if type(self).sleep is not Clock.sleep:
            self.sleep(seconds)
            seconds = 0.0
        await asyncio.sleep(seconds)

    def random(self) -> float:
        """A number in [0, 1) for jitter."""
        return random.random()  # jitter, not a secret


_clock = Clock()


def current() -> Clock:
    """The clock in effect."""
    return _clock


def set_clock(clock: Clock | None) -> Clock:
    """Install ``clock`` (``None``: real time) and return the previous one. Rate-limit
    buckets restart full on their next use, since their times came from the previous
    clock."""
    global _clock
    previous, _clock = _clock, clock if clock is not None else Clock()
    return previous
