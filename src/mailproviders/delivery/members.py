"""Sending through a member of a failover or round-robin provider (``_hooks.member_send``).

A member reached through a composite keeps its own ``RATE_LIMIT`` (pacing belongs to
the provider, however it is reached: every path draws from the same bucket) and its own
``REDIRECT`` (a member that must not reach real recipients never does). Its ``RETRY``
does not apply there: the composite moves the message to its next member instead, and
the composite's own ``RETRY`` (if any) retries the whole composite. Hooks run once per
message, for the alias the caller named, not again per member.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailproviders.delivery import ratelimit, steps
from mailproviders.delivery.clock import current

if TYPE_CHECKING:
    from mailproviders.backends.base import BaseEmailBackend
    from mailproviders.message import EmailMessage

__all__ = ["member_send"]


def member_send(backend: BaseEmailBackend, alias: str, messages: list[EmailMessage]) -> int:
    """Send ``messages`` through ``backend``, the member ``alias`` of a composite, under
    that alias's RATE_LIMIT and REDIRECT; return how many it accepted. The exception
    raised names the messages handed in (not copies) as sent or possibly delivered."""
    plan = steps.plan_for(alias, with_hooks=False)
    if plan is None or (plan.rate_limit is None and plan.redirect is None):
        count = backend.send_messages(messages)
    else:
        count = _paced(backend, plan, messages)
    trail = steps.trail.get()
    if trail is not None and count:
        trail.append(alias)
    return count


def _paced(backend: BaseEmailBackend, plan: steps.Plan, messages: list[EmailMessage]) -> int:
    tally = steps.Tally()
    for message in messages:
        if not message.recipients():
            continue
        outgoing = steps.redirect(plan, message)
        try:
            if plan.rate_limit is not None and plan.alias is not None:
                wait = ratelimit.reserve(plan.alias, plan.rate_limit)
                if wait > 0:
                    current().sleep(wait)
            count = backend.send_messages([outgoing])
        except Exception as exc:
            steps.report_back(message, outgoing)
            tally.failed(exc, message, outgoing)
            raise
        steps.report_back(message, outgoing)
        tally.add(message, count)
    return tally.count
