"""Async twins of the send functions: same arguments, results and exceptions.

They share everything but the awaiting with :mod:`mailproviders.sending`: provider
resolution, DEFAULTS, the partial-failure report and the one ``fail_silently`` rule
(``sending._on_failure``). Backends send with ``asend_messages``: natively where a
backend implements it (SMTP with ``aiosmtplib`` installed), else in a worker thread.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from mailproviders.handler import providers
from mailproviders.message import EmailMessage
from mailproviders.sending import (
    DatatupleType,
    _admin_plan,
    _batches,
    _built_plan,
    _mail,
    _mass_messages,
    _message_plan,
    _on_failure,
    _Plan,
    _reported_on,
    _Tally,
)

if TYPE_CHECKING:
    from mailproviders.backends.base import BaseEmailBackend

__all__ = [
    "amail_admins",
    "amail_managers",
    "asend_email_message",
    "asend_mail",
    "asend_mass_mail",
]


async def _adeliver(
    send: Callable[[], Awaitable[int]],
    backend: BaseEmailBackend,
    *,
    alias: str | None,
    fail_silently: bool,
) -> int:
    try:
        return await send()
    except Exception as exc:
        return _on_failure(exc, backend, alias=alias, fail_silently=fail_silently)


async def asend_email_message(
    message: EmailMessage, *, fail_silently: bool = False, using: str | None = None
) -> int:
    """Implementation of :meth:`EmailMessage.asend`: :func:`send_email_message`, awaited."""
    if not message.recipients():
        return 0
    backend, alias, outgoing = _message_plan(message, using)
    with _reported_on(message, outgoing):
        return await _adeliver(
            lambda: backend.asend_messages([outgoing]),
            backend,
            alias=alias,
            fail_silently=fail_silently,
        )


async def _asend_plan(plan: _Plan, fail_silently: bool) -> int:
    backend, alias, messages = plan
    return await _adeliver(
        lambda: backend.asend_messages(messages),
        backend,
        alias=alias,
        fail_silently=fail_silently,
    )


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
    """Async :func:`send_mail` (same arguments, result and exceptions), sending with the
    backend's ``asend_messages``."""
    mail = _mail(subject, message, from_email, recipient_list, html_message)
    plan = _built_plan([mail], using=using, connection=connection, auth=(auth_user, auth_password))
    return await _asend_plan(plan, fail_silently)


async def _asend_in_batches(
    backend: BaseEmailBackend, messages: Iterable[EmailMessage], *, keep: bool
) -> int:
    tally = _Tally(keep=keep)
    async with backend:
        for batch in _batches(messages):
            try:
                tally.add(batch, await backend.asend_messages(batch))
            except Exception as exc:
                tally.failed(exc)
                raise
    return tally.total


async def asend_mass_mail(
    datatuple: Iterable[DatatupleType],
    *,
    fail_silently: bool = False,
    auth_user: str | None = None,
    auth_password: str | None = None,
    connection: BaseEmailBackend | None = None,
    using: str | None = None,
) -> int:
    """Async :func:`send_mass_mail` (same arguments, result, batching and partial-failure
    report), over one connection opened with ``async with``."""
    backend, alias, messages = _built_plan(
        _mass_messages(datatuple),
        using=using,
        connection=connection,
        auth=(auth_user, auth_password),
    )
    keep = isinstance(datatuple, Sequence)
    return await _adeliver(
        lambda: _asend_in_batches(backend, messages, keep=keep),
        backend,
        alias=alias,
        fail_silently=fail_silently,
    )


async def amail_admins(
    subject: str,
    message: str,
    *,
    fail_silently: bool = False,
    connection: BaseEmailBackend | None = None,
    html_message: str | None = None,
    using: str | None = None,
) -> int:
    """Async :func:`mail_admins` (same arguments, result and exceptions)."""
    recipients = providers.settings.ADMINS
    plan = _admin_plan(
        recipients, subject, message, connection=connection, html_message=html_message, using=using
    )
    return 0 if plan is None else await _asend_plan(plan, fail_silently)


async def amail_managers(
    subject: str,
    message: str,
    *,
    fail_silently: bool = False,
    connection: BaseEmailBackend | None = None,
    html_message: str | None = None,
    using: str | None = None,
) -> int:
    """Async :func:`mail_managers` (same arguments, result and exceptions)."""
    recipients = providers.settings.MANAGERS
    plan = _admin_plan(
        recipients, subject, message, connection=connection, html_message=html_message, using=using
    )
    return 0 if plan is None else await _asend_plan(plan, fail_silently)
