"""Delivery: what happens around the backend for each message of a send function.

Between the handler and the send functions (:mod:`mailproviders.sending` and
:mod:`mailproviders.asending` call it with the backend, the alias and the messages),
per message: ``before_send`` hooks → ``REDIRECT`` → a ``RATE_LIMIT`` token → the
backend, with ``RETRY`` → ``after_send`` hooks. A provider with none of these policies,
when no hook is registered, gets its messages straight through in one
``send_messages``/``asend_messages`` call, as before; with ``RETRY`` alone the batch
also goes whole, and only what was certainly not accepted is sent again.

Waits (retry backoff, rate limits) go through the clock of
:mod:`mailproviders.delivery.clock` (:func:`set_clock` for tests). Members of failover
and round-robin providers are sent through :func:`members.member_send`, installed here
in ``_hooks.member_send``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailproviders import _hooks
from mailproviders.delivery.clock import Clock, set_clock
from mailproviders.delivery.members import member_send
from mailproviders.delivery.pipeline import Run
from mailproviders.delivery.ratelimit import RateLimitExceeded
from mailproviders.delivery.steps import plan_for

if TYPE_CHECKING:
    from mailproviders.backends.base import BaseEmailBackend
    from mailproviders.message import EmailMessage

__all__ = [
    "Clock",
    "RateLimitExceeded",
    "asend",
    "asend_batch",
    "send",
    "send_batch",
    "set_clock",
]


def _provider(backend: BaseEmailBackend, alias: str | None) -> str | None:
    """The provider whose policies apply: ``alias``, or for a backend given by older code
    as ``connection=``, the provider it came from (``providers[alias]``,
    ``get_connection()``), so that ``REDIRECT``/``RATE_LIMIT`` are not bypassed; ``None``
    for a backend built directly."""
    return alias if alias is not None else getattr(backend, "alias", None)


def send_batch(
    backend: BaseEmailBackend, alias: str | None, messages: list[EmailMessage]
) -> tuple[list[EmailMessage], int]:
    """Send ``messages`` through ``backend`` (provider ``alias``, ``None`` for a backend
    given by older code); return the messages not cancelled by a hook and how many were
    accepted (the policies and hooks are those of ``backend.alias`` when ``alias`` is
    ``None``). On failure the exception carries the call's ``sent_count``,
    ``sent_messages`` (objects of ``messages``), ``possibly_sent_messages`` and
    ``cancelled_messages``."""
    plan = plan_for(_provider(backend, alias))
    if plan is None:
        return messages, backend.send_messages(messages)
    return Run(backend, plan).send(messages)


def send(backend: BaseEmailBackend, alias: str | None, messages: list[EmailMessage]) -> int:
    """:func:`send_batch`, returning only how many were accepted."""
    plan = plan_for(_provider(backend, alias))
    if plan is None:
        return backend.send_messages(messages)
    return Run(backend, plan).send(messages)[1]


async def asend_batch(
    backend: BaseEmailBackend, alias: str | None, messages: list[EmailMessage]
) -> tuple[list[EmailMessage], int]:
    """Async :func:`send_batch`, with ``asend_messages``."""
    plan = plan_for(_provider(backend, alias))
    if plan is None:
        return messages, await backend.asend_messages(messages)
    from mailproviders.delivery.apipeline import ARun

    return await ARun(backend, plan).asend(messages)


async def asend(backend: BaseEmailBackend, alias: str | None, messages: list[EmailMessage]) -> int:
    """Async :func:`send`."""
    return (await asend_batch(backend, alias, messages))[1]


_hooks.member_send = member_send
