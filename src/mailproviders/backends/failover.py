"""Failover backend: send through the first provider of ``using`` that works."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailproviders.backends.composite import CompositeBackend, Members, Outcome, is_transient

if TYPE_CHECKING:
    from mailproviders.message import EmailMessage

__all__ = ["EmailBackend"]


class EmailBackend(CompositeBackend):
    """Send each batch through the first provider of ``using``; fail over to the next.

    When a provider fails at connection level or transiently (connection refused,
    timeout, TLS failure, failed login, a 4xx reply), the messages it did not accept move
    to the next provider, with a WARNING on the ``mailproviders`` logger naming both
    aliases. A message is never sent twice: one that may have been delivered (connection
    lost after its data was sent) is not resent; it is listed in
    ``possibly_sent_messages`` of the exception raised once the others were sent. A
    permanent error for a message (a 5xx reply, an invalid address) stops the call and
    propagates. When every provider failed, the last error propagates with a note
    naming the aliases tried. Exceptions carry ``sent_count``/``sent_messages``.

    A provider that failed at connection level is skipped for ``retry_period`` seconds
    (its circuit is open, see :mod:`mailproviders.backends.circuit`): it is tried after
    the others, only when they failed too.

    Raises :class:`~mailproviders.exceptions.InvalidEmailProvider` (option ``using``) when
    ``using`` is not a non-empty list of aliases.
    """

    def _send(self, messages: list[EmailMessage], members: Members, outcome: Outcome) -> None:
        pending = messages
        plan = self._plan(self.using)
        for position, alias in enumerate(plan.order):
            try:
                outcome.accepted(pending, members.send(alias, pending))
            except Exception as exc:
                self._answered(plan, alias, exc)
                pending = outcome.failed(exc, pending, alias)
                if not is_transient(exc):
                    raise
                if not pending:
                    return  # only messages that may have been delivered: never resent
                following = plan.order[position + 1 :]
                if not following:
                    outcome.exhausted(exc)
                    raise
                outcome.moving(alias, following[0], exc, len(pending))
            else:
                self._answered(plan, alias)
                return
