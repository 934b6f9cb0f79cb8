"""Async twins of the send functions: same arguments, results and exceptions.

They share everything but the awaiting with :mod:`mailproviders.sending`: the plan
(provider resolution, DEFAULTS, the partial-failure report) and the one ``fail_silently``
rule, both from :mod:`mailproviders.sendplan`. Backends send with ``asend_messages``:
natively where a backend implements it (SMTP with ``aiosmtplib`` installed), else in a
worker thread.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from mailproviders import delivery
from mailproviders.message.arguments import positional_order
from mailproviders.sendplan import (
    DatatupleType,
    Plan,
    Tally,
    batches,
    build_mail,
    built_plan,
    check_message,
    mass_plan,
    message_plan,
    on_failure,
    reported_on,
    staff_plan,
)

if TYPE_CHECKING:
    from mailproviders.backends.base import BaseEmailBackend
    from mailproviders.message import EmailMessage

__all__ = [
    "amail_admins",
    "amail_managers",
    "asend_email_message",
    "asend_mail",
    "asend_mass_mail",
]


async def _adeliver(send: Callable[[], Awaitable[int]], plan: Plan) -> int:
    try:
        return await send()
    except Exception as exc:
        return on_failure(exc, alias=plan.alias, fail_silently=plan.fail_silently)


async def _asend_plan(plan: Plan) -> int:
    # A list, as in sending.send_plan: backends written for Django call len() on it.
    return await _adeliver(
        lambda: delivery.asend(plan.backend, plan.alias, list(plan.messages)), plan
    )


async def asend_email_message(
    message: EmailMessage, *, fail_silently: bool = False, using: str | None = None
) -> int:
    """Implementation of :meth:`EmailMessage.asend`: ``send_email_message``, awaited."""
    check_message(message)
    if not message.recipients():
        return 0
    plan = message_plan(message, using, fail_silently)
    (outgoing,) = plan.messages
    with reported_on(message, outgoing):
        return await _adeliver(lambda: delivery.asend(plan.backend, plan.alias, [outgoing]), plan)


@positional_order("fail_silently", "auth_user", "auth_password", "connection", "html_message")
async def asend_mail(
    subject: str,
    message: str,
    from_email: str | None,
    recipient_list: Sequence[str],
    *,
    fail_silently: bool = False,
    auth_user: str | None = None,
    auth_password: str | None = None,
    connection: BaseEmailBackend | None = None,
    html_message: str | None = None,
    using: str | None = None,
) -> int:
    """Async :func:`~mailproviders.sending.send_mail` (same arguments, result and
    exceptions), sending with the backend's ``asend_messages``."""
    mail = build_mail(subject, message, from_email, recipient_list, html_message)
    auth = (auth_user, auth_password)
    return await _asend_plan(
        built_plan(
            [mail], using=using, fail_silently=fail_silently, connection=connection, auth=auth
        )
    )


async def _asend_in_batches(plan: Plan, *, keep: bool) -> int:
    tally = Tally(keep=keep)
    async with plan.backend as backend:
        try:  # around building the batches too: a bad datatuple item fails there
            for batch in batches(plan.messages):
                tally.add(*await delivery.asend_batch(backend, plan.alias, batch))
        except Exception as exc:
            tally.failed(exc)
            raise
    return tally.total


@positional_order("fail_silently", "auth_user", "auth_password", "connection")
async def asend_mass_mail(
    datatuple: Iterable[DatatupleType],
    *,
    fail_silently: bool = False,
    auth_user: str | None = None,
    auth_password: str | None = None,
    connection: BaseEmailBackend | None = None,
    using: str | None = None,
) -> int:
    """Async :func:`~mailproviders.sending.send_mass_mail` (same arguments, result,
    batching and partial-failure report), over one connection opened with ``async with``."""
    plan, keep = mass_plan(
        datatuple,
        fail_silently=fail_silently,
        auth=(auth_user, auth_password),
        connection=connection,
        using=using,
    )
    return await _adeliver(lambda: _asend_in_batches(plan, keep=keep), plan)


@positional_order("fail_silently", "connection", "html_message")
async def amail_admins(
    subject: str,
    message: str,
    *,
    fail_silently: bool = False,
    connection: BaseEmailBackend | None = None,
    html_message: str | None = None,
    using: str | None = None,
) -> int:
    """Async :func:`~mailproviders.sending.mail_admins` (same arguments, result and
    exceptions)."""
    plan = staff_plan("ADMINS", subject, message, fail_silently, connection, html_message, using)
    return 0 if plan is None else await _asend_plan(plan)


@positional_order("fail_silently", "connection", "html_message")
async def amail_managers(
    subject: str,
    message: str,
    *,
    fail_silently: bool = False,
    connection: BaseEmailBackend | None = None,
    html_message: str | None = None,
    using: str | None = None,
) -> int:
    """Async :func:`~mailproviders.sending.mail_managers` (same arguments, result and
    exceptions)."""
    plan = staff_plan("MANAGERS", subject, message, fail_silently, connection, html_message, using)
    return 0 if plan is None else await _asend_plan(plan)
