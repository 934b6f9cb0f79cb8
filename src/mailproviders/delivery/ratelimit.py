"""Rate limits: one token bucket per provider alias, shared by the whole process.

Every thread and asyncio task sending through an alias draws from the same bucket. A
caller *reserves* its token under a lock and learns how long to wait for it; it then
waits outside the lock (a thread sleeps, a task awaits), so reservations are served in
order and a burst of callers is spread evenly. A reservation that would wait longer than
the policy's ``max_wait`` is refused with :class:`RateLimitExceeded` (nothing reserved).
A bucket starts full and restarts with a new configuration (a new policy object) or a
new clock.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, ClassVar

from mailproviders.delivery.clock import Clock, current

if TYPE_CHECKING:
    from mailproviders.config.policies import RateLimitPolicy

__all__ = ["Bucket", "RateLimitExceeded", "bucket", "reserve"]


class RateLimitExceeded(Exception):
    """Sending through ``alias`` now would wait ``wait`` seconds for the rate limit, more
    than its ``max_wait``. Nothing was sent. A send error like any other (``fail_silently``
    silences it); ``transient``: a failover/round-robin provider moves the message to its
    next member, without opening that member's circuit (the member is not down)."""

    transient: ClassVar[bool] = True

    def __init__(self, alias: str, wait: float, policy: RateLimitPolicy) -> None:
        self.alias = alias
        self.wait = wait
        super().__init__(
            f"provider {alias!r}: rate limit {policy} reached; the next message could go in "
            f"{wait:.3g} s, longer than max_wait"
        )


class Bucket:
    """A token bucket for one policy (``capacity`` tokens, refilled at ``rate`` per
    second), read from ``clock``."""

    def __init__(self, policy: RateLimitPolicy, clock: Clock) -> None:
        self.policy = policy
        self.clock = clock
        self._lock = threading.Lock()
        self._tokens = float(policy.capacity)
        self._time = clock.monotonic()
        #: Tokens handed out so far (for tests and ``check``).
        self.taken = 0

    def reserve(self, alias: str) -> float:
        """Take one token; return the seconds to wait before using it (``0.0``: now).

        Raises :class:`RateLimitExceeded` when the wait would exceed ``max_wait``.
        """
        policy = self.policy
        with self._lock:
            now = self.clock.monotonic()
            tokens = min(policy.capacity, self._tokens + (now - self._time) * policy.rate)
            self._time = now
            wait = 0.0 if tokens >= 1 else (1 - tokens) / policy.rate
            if wait > policy.max_wait:
                self._tokens = tokens
                raise RateLimitExceeded(alias, wait, policy)
            self._tokens = tokens - 1
            self.taken += 1
        return wait


_buckets: dict[str, Bucket] = {}
_lock = threading.Lock()


def bucket(alias: str, policy: RateLimitPolicy) -> Bucket:
    """The bucket of ``alias`` for ``policy`` (a new, full one when the policy or the
    clock changed)."""
    clock = current()
    found = _buckets.get(alias)
    if found is None or found.policy is not policy or found.clock is not clock:
        with _lock:
            found = _buckets.get(alias)
            if found is None or found.policy is not policy or found.clock is not clock:
                found = _buckets[alias] = Bucket(policy, clock)
    return found


def reserve(alias: str, policy: RateLimitPolicy) -> float:
    """Reserve a token of ``alias``'s bucket; the seconds to wait before sending."""
    return bucket(alias, policy).reserve(alias)
