"""Send functions. Every one takes ``using=alias`` and a uniform ``fail_silently``.

Each function has an async twin with the same signature and semantics in
:mod:`mailproviders.asending` (``asend_mail``...). Both build their work with
:mod:`mailproviders.sendplan` and apply its one ``fail_silently`` rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
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
    "mail_admins",
    "mail_managers",
    "send_email_message",
    "send_mail",
    "send_mass_mail",
]


def _deliver(send: Callable[[], int], plan: Plan) -> int:
    try:
        return send()
    except Exception as exc:
        return on_failure(exc, alias=plan.alias, fail_silently=plan.fail_silently)


def send_email_message(
    message: EmailMessage, *, fail_silently: bool = False, using: str | None = None
) -> int:
    """Implementation of :meth:`EmailMessage.send`.

    A message with no recipients returns 0 without touching any provider. The provider's
    DEFAULTS are applied to a copy: the caller's object is not changed, except that
    ``refused_recipients`` is set on it.
    """
    check_message(message)
    if not message.recipients():
        return 0
    plan = message_plan(message, using, fail_silently)
    (outgoing,) = plan.messages
    with reported_on(message, outgoing):
        return _deliver(lambda: delivery.send(plan.backend, plan.alias, [outgoing]), plan)


def send_plan(plan: Plan) -> int:
    """Send ``plan``'s messages in one ``send_messages`` call (or one per message, with
    hooks or pacing: :mod:`mailproviders.delivery`), under the one rule. The backend gets
    a list, as backends written for Django expect.
    """
    return _deliver(lambda: delivery.send(plan.backend, plan.alias, list(plan.messages)), plan)


@positional_order("fail_silently", "auth_user", "auth_password", "connection", "html_message")
def send_mail(
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
    """Send one message to ``recipient_list``; returns the number sent (0 or 1).

    ``from_email=None`` uses the provider's DEFAULTS.from_email, else DEFAULT_FROM_EMAIL.
    ``html_message`` adds a text/html alternative. ``auth_user``/``auth_password`` and
    ``connection`` are deprecated. Raises what the backend raises, unless
    ``fail_silently``; configuration errors always raise.
    """
    mail = build_mail(subject, message, from_email, recipient_list, html_message)
    auth = (auth_user, auth_password)
    return send_plan(
        built_plan(
            [mail], using=using, fail_silently=fail_silently, connection=connection, auth=auth
        )
    )


def _send_in_batches(plan: Plan, *, keep: bool) -> int:
    """Send ``plan``'s messages over one open connection, ``MASS_MAIL_BATCH`` at a time."""
    tally = Tally(keep=keep)
    with plan.backend as backend:
        try:  # around building the batches too: a bad datatuple item fails there
            for batch in batches(plan.messages):
                tally.add(*delivery.send_batch(backend, plan.alias, batch))
        except Exception as exc:
            tally.failed(exc)
            raise
    return tally.total


@positional_order("fail_silently", "auth_user", "auth_password", "connection")
def send_mass_mail(
    datatuple: Iterable[DatatupleType],
    *,
    fail_silently: bool = False,
    auth_user: str | None = None,
    auth_password: str | None = None,
    connection: BaseEmailBackend | None = None,
    using: str | None = None,
) -> int:
    """Send one message per ``(subject, message, from_email, recipient_list)`` tuple.

    Uses one backend instance and one open connection for all of them. ``datatuple`` may
    be any iterable, a generator included: it is consumed in batches and never held whole.
    On failure part-way, the exception's ``sent_count`` is the total accepted so far; its
    ``sent_messages`` lists those messages when ``datatuple`` is a sequence (for an
    iterator, only those of the failing batch are kept: ``sent_count`` is the position in
    the input to resume from).
    """
    plan, keep = mass_plan(
        datatuple,
        fail_silently=fail_silently,
        auth=(auth_user, auth_password),
        connection=connection,
        using=using,
    )
    return _deliver(lambda: _send_in_batches(plan, keep=keep), plan)


@positional_order("fail_silently", "connection", "html_message")
def mail_admins(
    subject: str,
    message: str,
    *,
    fail_silently: bool = False,
    connection: BaseEmailBackend | None = None,
    html_message: str | None = None,
    using: str | None = None,
) -> int:
    """Send a message to ``ADMINS`` from ``SERVER_EMAIL``, the subject prefixed with
    ``EMAIL_SUBJECT_PREFIX``. Returns 0 without resolving any provider when ``ADMINS`` is
    empty."""
    plan = staff_plan("ADMINS", subject, message, fail_silently, connection, html_message, using)
    return 0 if plan is None else send_plan(plan)


@positional_order("fail_silently", "connection", "html_message")
def mail_managers(
    subject: str,
    message: str,
    *,
    fail_silently: bool = False,
    connection: BaseEmailBackend | None = None,
    html_message: str | None = None,
    using: str | None = None,
) -> int:
    """Like :func:`mail_admins`, to ``MANAGERS``."""
    plan = staff_plan("MANAGERS", subject, message, fail_silently, connection, html_message, using)
    return 0 if plan is None else send_plan(plan)
