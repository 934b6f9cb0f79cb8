"""Round-robin backend: spread messages across the providers of ``using`` in turn."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from mailproviders.backends.composite import CompositeBackend, Members, Outcome, is_transient

if TYPE_CHECKING:
    from mailproviders.message import EmailMessage

__all__ = ["EmailBackend"]


class EmailBackend(CompositeBackend):
    """Send each message through the next provider of ``using``, in turn.

    The rotation advances by one provider per message. Its position belongs to the
    alias (kept by the handler, restarted when the configuration changes) and is shared
    by every instance, thread and asyncio task of the process, so consecutive sends go
    a, b, a, b... however each one gets its backend. A provider that
    fails at connection level or transiently (as for failover) is skipped for the rest of
    the call, and the message goes to the next provider, with a WARNING naming both
    aliases. A message that may have been delivered is not resent (see
    ``possibly_sent_messages``); a permanent error propagates; when every provider failed
    for a message, the last error propagates with a note naming the aliases tried.

    A provider whose circuit is open (it failed at connection level less than
    ``retry_period`` seconds ago, in any thread or task) loses its turn: the message goes
    to the next provider of the rotation, and the open one is tried only after all
    others failed (see :mod:`mailproviders.backends.circuit`).

    Raises :class:`~mailproviders.exceptions.InvalidEmailProvider` (option ``using``) when
    ``using`` is not a non-empty list of aliases.
    """

    cacheable: ClassVar[bool] = True

    def _rotation(self) -> list[str]:
        """The aliases in the order to try for the next message; advances the rotation."""
        start = self.providers.next_position(self.alias) % len(self.using)
        return self.using[start:] + self.using[:start]

    def _send(self, messages: list[EmailMessage], members: Members, outcome: Outcome) -> None:
        down: set[str] = set()
        last: Exception | None = None
        for message in messages:
            plan = self._plan(self._rotation())
            candidates = [alias for alias in plan.order if alias not in down]
            for position, alias in enumerate(candidates):
                try:
                    outcome.accepted([message], members.send(alias, [message]))
                except Exception as exc:
                    self._answered(plan, alias, exc)
                    left = outcome.failed(exc, [message], alias)
                    if not is_transient(exc):
                        raise
                    down.add(alias)
                    last = exc
                    if not left:
                        break  # it may have been delivered: never resent
                    if position + 1 < len(candidates):
                        outcome.moving(alias, candidates[position + 1], exc, 1)
                else:
                    self._answered(plan, alias)
                    break
            else:
                assert last is not None  # every provider is down only after a failure
                outcome.exhausted(last)
                raise last
