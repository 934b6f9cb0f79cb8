"""Send functions. Every one takes ``using=alias`` and a uniform ``fail_silently``.

Each function has an async twin with the same signature and semantics in
:mod:`mailproviders.asending` (``asend_mail``...).

``fail_silently`` is applied in exactly one place, :func:`_on_failure`: resolving the provider
is never silenced; any exception raised while sending is, when asked for, logged on the
``mailproviders`` logger (WARNING, with traceback) and the call returns how many messages
were really accepted.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from mailproviders import deprecation
from mailproviders.exceptions import record_sent, sent_messages_of
from mailproviders.handler import DEFAULT_PROVIDER_ALIAS, providers
from mailproviders.message import EmailMessage, EmailMultiAlternatives

if TYPE_CHECKING:
    from mailproviders.backends.base import BaseEmailBackend
    from mailproviders.settings import ProviderDefaults

__all__ = [
    "mail_admins",
    "mail_managers",
    "send_email_message",
    "send_mail",
    "send_mass_mail",
]

logger = logging.getLogger("mailproviders")

#: send_mass_mail hands messages to the backend in batches of this size, over one
#: connection, so that a generator of any length is streamed.
MASS_MAIL_BATCH = 200

DatatupleType = tuple[str, str, str | None, Sequence[str]]


def _resolve(
    using: str | None,
    connection: BaseEmailBackend | None,
    auth: tuple[str | None, str | None] = (None, None),
) -> tuple[BaseEmailBackend, str | None]:
    """The backend to send with and its alias (``None`` for a legacy ``connection``)."""
    if connection is not None:
        if using is not None:
            raise TypeError("pass either connection= (deprecated) or using=, not both")
        deprecation.warn_deprecated(
            "the connection= argument is deprecated; name a provider instead: using='<alias>'"
        )
        return connection, None
    alias = using if using is not None else DEFAULT_PROVIDER_ALIAS
    if auth != (None, None):
        return deprecation.connection_with_auth(alias, *auth), alias
    return providers[alias], alias


def _defaults_of(alias: str | None) -> ProviderDefaults | None:
    if alias is None:
        return None
    return providers.config(alias).DEFAULTS


def _fill_defaults(message: EmailMessage, defaults: ProviderDefaults) -> None:
    if message.from_email is None and defaults.from_email is not None:
        message.from_email = defaults.from_email
    if not message.reply_to and defaults.reply_to:
        message.reply_to = list(defaults.reply_to)
    if defaults.headers:
        own = {name.lower() for name in message.extra_headers}
        extra = {k: v for k, v in defaults.headers.items() if k.lower() not in own}
        if extra:
            message.extra_headers = {**extra, **message.extra_headers}


def _on_failure(
    exc: Exception, backend: BaseEmailBackend, *, alias: str | None, fail_silently: bool
) -> int:
    """The ``fail_silently`` rule, for the sync and async paths alike: re-raise ``exc``
    unless silenced; else log it (WARNING, traceback) and return its ``sent_count``."""
    if not hasattr(exc, "sent_count"):
        record_sent(exc, [])
    if not (fail_silently or deprecation.legacy_fail_silently(backend)):
        raise exc
    sent_count: int = exc.sent_count  # type: ignore[attr-defined]
    logger.warning(
        "sending through provider %r failed (fail_silently=True); %d message(s) accepted",
        alias,
        sent_count,
        exc_info=exc,
    )
    return sent_count


def _deliver(
    send: Callable[[], int], backend: BaseEmailBackend, *, alias: str | None, fail_silently: bool
) -> int:
    try:
        return send()
    except Exception as exc:
        return _on_failure(exc, backend, alias=alias, fail_silently=fail_silently)


def _message_plan(
    message: EmailMessage, using: str | None
) -> tuple[BaseEmailBackend, str | None, EmailMessage]:
    """The backend, alias and the message to hand over (a copy with DEFAULTS applied)."""
    if message.connection is not None and using is not None:
        raise TypeError("this message has a connection (deprecated); do not also pass using=")
    backend, alias = _resolve(using, message.connection)
    defaults = _defaults_of(alias)
    outgoing = message
    if defaults is not None:
        outgoing = copy.copy(message)
        outgoing.extra_headers = dict(message.extra_headers)
        _fill_defaults(outgoing, defaults)
    return backend, alias, outgoing


@contextlib.contextmanager
def _reported_on(message: EmailMessage, outgoing: EmailMessage) -> Iterator[None]:
    """Report the outcome of sending the copy ``outgoing`` on the caller's ``message``."""
    try:
        yield
    except Exception as exc:
        if outgoing is not message and sent_messages_of(exc):
            record_sent(exc, [message])
        raise
    finally:
        if outgoing is not message:
            message.refused_recipients = outgoing.refused_recipients


def send_email_message(
    message: EmailMessage, *, fail_silently: bool = False, using: str | None = None
) -> int:
    """Implementation of :meth:`EmailMessage.send`.

    A message with no recipients returns 0 without touching any provider. The provider's
    DEFAULTS are applied to a copy: the caller's object is not changed, except that
    ``refused_recipients`` is set on it.
    """
    if not message.recipients():
        return 0
    backend, alias, outgoing = _message_plan(message, using)
    with _reported_on(message, outgoing):
        return _deliver(
            lambda: backend.send_messages([outgoing]),
            backend,
            alias=alias,
            fail_silently=fail_silently,
        )


#: What to send: the backend, its alias (``None`` for a legacy connection), the messages.
_Plan = tuple["BaseEmailBackend", str | None, Iterable[EmailMessage]]


def _send_plan(plan: _Plan, fail_silently: bool) -> int:
    backend, alias, messages = plan
    return _deliver(
        lambda: backend.send_messages(messages),
        backend,
        alias=alias,
        fail_silently=fail_silently,
    )


def _built_plan(
    messages: Iterable[EmailMessage],
    *,
    using: str | None,
    connection: BaseEmailBackend | None,
    auth: tuple[str | None, str | None] = (None, None),
) -> _Plan:
    """Backend, alias and messages for messages this module built itself (so DEFAULTS
    may be filled in place)."""
    backend, alias = _resolve(using, connection, auth)
    defaults = _defaults_of(alias)
    if defaults is not None:
        messages = _filled(messages, defaults)
    return backend, alias, messages


def _filled(
    messages: Iterable[EmailMessage], defaults: ProviderDefaults
) -> Iterator[EmailMessage]:
    for message in messages:
        _fill_defaults(message, defaults)
        yield message


def _mail(
    subject: str,
    body: str,
    from_email: str | None,
    recipients: Sequence[str],
    html_message: str | None,
) -> EmailMultiAlternatives:
    mail = EmailMultiAlternatives(subject, body, from_email, list(recipients))
    if html_message is not None:
        mail.attach_alternative(html_message, "text/html")
    return mail


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
    mail = _mail(subject, message, from_email, recipient_list, html_message)
    plan = _built_plan([mail], using=using, connection=connection, auth=(auth_user, auth_password))
    return _send_plan(plan, fail_silently)


def _mass_messages(datatuple: Iterable[DatatupleType]) -> Iterator[EmailMessage]:
    for subject, body, sender, recipients in datatuple:
        yield EmailMessage(subject, body, sender, recipients)


class _Tally:
    """Messages accepted so far over several batches, for the partial-failure report."""

    def __init__(self, *, keep: bool) -> None:
        self.keep = keep
        self.total = 0
        self.accepted: list[EmailMessage] = []

    def add(self, batch: list[EmailMessage], count: int) -> None:
        self.total += count
        if self.keep:
            self.accepted.extend(m for m in batch if m.recipients())

    def failed(self, exc: Exception) -> None:
        in_batch = sent_messages_of(exc)
        count = getattr(exc, "sent_count", len(in_batch))
        record_sent(exc, self.accepted + in_batch if self.keep else in_batch, self.total + count)


def _batches(messages: Iterable[EmailMessage]) -> Iterator[list[EmailMessage]]:
    iterator = iter(messages)
    while batch := list(itertools.islice(iterator, MASS_MAIL_BATCH)):
        yield batch


def _send_in_batches(
    backend: BaseEmailBackend, messages: Iterable[EmailMessage], *, keep: bool
) -> int:
    """Send ``messages`` over one open connection, ``MASS_MAIL_BATCH`` at a time."""
    tally = _Tally(keep=keep)
    with backend:
        for batch in _batches(messages):
            try:
                tally.add(batch, backend.send_messages(batch))
            except Exception as exc:
                tally.failed(exc)
                raise
    return tally.total


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
    backend, alias, messages = _built_plan(
        _mass_messages(datatuple),
        using=using,
        connection=connection,
        auth=(auth_user, auth_password),
    )
    keep = isinstance(datatuple, Sequence)
    return _deliver(
        lambda: _send_in_batches(backend, messages, keep=keep),
        backend,
        alias=alias,
        fail_silently=fail_silently,
    )


def _admin_plan(
    recipients: Sequence[str],
    subject: str,
    message: str,
    *,
    connection: BaseEmailBackend | None,
    html_message: str | None,
    using: str | None,
) -> _Plan | None:
    """What mail_admins/mail_managers send, or ``None`` (no provider resolved) when
    ``recipients`` is empty."""
    if not recipients:
        return None
    settings = providers.settings
    subject = f"{settings.EMAIL_SUBJECT_PREFIX}{subject}"
    mail = _mail(subject, message, settings.SERVER_EMAIL, recipients, html_message)
    return _built_plan([mail], using=using, connection=connection)


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
    recipients = providers.settings.ADMINS
    plan = _admin_plan(
        recipients, subject, message, connection=connection, html_message=html_message, using=using
    )
    return 0 if plan is None else _send_plan(plan, fail_silently)


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
    recipients = providers.settings.MANAGERS
    plan = _admin_plan(
        recipients, subject, message, connection=connection, html_message=html_message, using=using
    )
    return 0 if plan is None else _send_plan(plan, fail_silently)
