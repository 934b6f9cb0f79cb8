"""The plan shared by the sync and async send functions, and the one fail_silently rule.

A :class:`Plan` says which backend sends what, under which alias, and whether failures
are silenced. Building it resolves the provider (never silenced) and fills in what the
messages leave open: the sender (the provider's DEFAULTS, else ``DEFAULT_FROM_EMAIL``),
DEFAULTS' reply-to and headers, and the ``Date`` time zone, so that backends and messages
read no settings. ``connection=`` and ``auth_user``/``auth_password`` are older calling
conventions, resolved by the compatibility layer (``_hooks.compat``).

:func:`on_failure` is the ``fail_silently`` rule: any exception raised while sending is,
when asked for, logged on the ``mailproviders`` logger (one WARNING line, the traceback at
DEBUG) and the call returns how many messages were really accepted. Wrong arguments
(:mod:`mailproviders.message.arguments`) are bugs of the caller, not send failures: they
raise before any provider is touched, and are never silenced.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, NamedTuple

from mailproviders import _hooks
from mailproviders.delivery.steps import report_back
from mailproviders.exceptions import possibly_sent_messages_of, record_sent, sent_messages_of
from mailproviders.handler import DEFAULT_PROVIDER_ALIAS, providers
from mailproviders.message import EmailMessage, EmailMultiAlternatives, RenderedMessage, arguments

if TYPE_CHECKING:
    from mailproviders.backends.base import BaseEmailBackend
    from mailproviders.config.provider import ProviderDefaults

__all__ = [
    "MASS_MAIL_BATCH",
    "DatatupleType",
    "Plan",
    "Tally",
    "batches",
    "build_mail",
    "built_plan",
    "check_message",
    "mass_plan",
    "message_plan",
    "on_failure",
    "reported_on",
    "staff_plan",
]

logger = logging.getLogger("mailproviders")

#: send_mass_mail hands messages to the backend in batches of this size, over one
#: connection, so that a generator of any length is streamed.
MASS_MAIL_BATCH = 200

DatatupleType = tuple[str, str, str | None, Sequence[str]]


class Plan(NamedTuple):
    """What one send call does: the backend, its alias (``None`` for a backend given
    directly by older code), the messages, and whether failures are silenced."""

    backend: BaseEmailBackend
    alias: str | None
    messages: Iterable[EmailMessage]
    fail_silently: bool


class _Fill(NamedTuple):
    """What the plan fills into messages: DEFAULTS of the provider and process settings."""

    from_email: str
    use_localtime: bool
    defaults: ProviderDefaults | None

    def apply(self, message: EmailMessage) -> None:
        defaults = None if isinstance(message, RenderedMessage) else self.defaults  # final
        if not message.from_email:
            message.from_email = (defaults and defaults.from_email) or self.from_email
        if message.use_localtime is None:
            message.use_localtime = self.use_localtime
        if defaults is None:
            return
        if not message.reply_to and defaults.reply_to:
            message.reply_to = list(defaults.reply_to)
        if defaults.headers:
            own = {name.lower() for name in message.extra_headers}
            extra = {k: v for k, v in defaults.headers.items() if k.lower() not in own}
            if extra:
                message.extra_headers = {**extra, **message.extra_headers}


def _target(
    using: str | None,
    connection: BaseEmailBackend | None,
    auth: tuple[str | None, str | None],
    fail_silently: bool,
) -> tuple[BaseEmailBackend, str | None, bool]:
    """The backend, its alias and the effective ``fail_silently`` of a send call."""
    if connection is not None or auth != (None, None):
        backend, alias, silenced = _hooks.compat.send_target(using, connection, auth)
        return backend, alias, fail_silently or silenced
    alias = using if using is not None else DEFAULT_PROVIDER_ALIAS
    backend = providers[alias]
    return backend, alias, fail_silently or _hooks.compat.backend_silenced(backend)


def _fill_for(alias: str | None) -> _Fill:
    settings = providers.settings
    defaults = providers.config(alias).DEFAULTS if alias is not None else None
    return _Fill(settings.DEFAULT_FROM_EMAIL, settings.EMAIL_USE_LOCALTIME, defaults)


_ARGUMENT_ERRORS = (arguments.ArgumentTypeError, arguments.ArgumentValueError)
_SUMMARY_LENGTH = 300


def on_failure(exc: Exception, *, alias: str | None, fail_silently: bool) -> int:
    """The ``fail_silently`` rule, for the sync and async paths alike: re-raise ``exc``
    unless silenced (an argument error always); else log one WARNING line (the exception
    on the record as ``exception``), the traceback at DEBUG, and return its
    ``sent_count``."""
    if not hasattr(exc, "sent_count"):
        record_sent(exc, [])
    if not fail_silently or isinstance(exc, _ARGUMENT_ERRORS):
        raise exc
    sent_count: int = exc.sent_count  # type: ignore[attr-defined]
    summary = next(iter(str(exc).splitlines()), "")
    if len(summary) > _SUMMARY_LENGTH:
        summary = summary[:_SUMMARY_LENGTH] + "..."
    logger.warning(
        "sending through provider %r failed (fail_silently=True), %d message(s) accepted: %s",
        alias,
        sent_count,
        f"{type(exc).__name__}: {summary}" if summary else type(exc).__name__,
        extra={"exception": exc},
    )
    logger.debug("traceback of the failure silenced above", exc_info=exc)
    return sent_count


def check_message(message: EmailMessage) -> None:
    """``message``'s arguments as they are now (see :mod:`mailproviders.message.arguments`).

    Raises:
        TypeError, ValueError: naming the argument; never silenced.
    """
    arguments.check_message(message, EmailMessage)


def message_plan(message: EmailMessage, using: str | None, fail_silently: bool) -> Plan:
    """The plan of ``message.send()``: the message handed over is a copy with what it
    leaves open filled in, so the caller's object is not changed."""
    check_message(message)
    backend, alias, silenced = _target(using, message._connection, (None, None), fail_silently)
    outgoing = copy.copy(message)
    outgoing.extra_headers = dict(message.extra_headers)
    _fill_for(alias).apply(outgoing)
    return Plan(backend, alias, [outgoing], silenced)


@contextlib.contextmanager
def reported_on(message: EmailMessage, outgoing: EmailMessage) -> Iterator[None]:
    """Report the outcome of sending the copy ``outgoing`` on the caller's ``message``."""
    try:
        yield
    except Exception as exc:
        if outgoing is not message and sent_messages_of(exc):
            record_sent(exc, [message])
        if outgoing is not message and possibly_sent_messages_of(exc):  # the caller's, too
            exc.possibly_sent_messages = [message]  # type: ignore[attr-defined]
        raise
    finally:
        report_back(message, outgoing)


def built_plan(
    messages: Iterable[EmailMessage],
    *,
    using: str | None,
    fail_silently: bool,
    connection: BaseEmailBackend | None = None,
    auth: tuple[str | None, str | None] = (None, None),
) -> Plan:
    """The plan for messages this module built itself (so they are filled in place)."""
    backend, alias, silenced = _target(using, connection, auth, fail_silently)
    return Plan(backend, alias, _filled(messages, _fill_for(alias), connection), silenced)


def _filled(messages: Iterable[EmailMessage], fill: _Fill, conn: object) -> Iterator[EmailMessage]:
    for message in messages:
        fill.apply(message)
        message._connection = conn  # older code's connection=, kept as message.connection
        yield message


def build_mail(
    subject: str,
    body: str,
    from_email: str | None,
    recipients: Sequence[str],
    html_message: str | None,
) -> EmailMultiAlternatives:
    """The message of send_mail/mail_admins.

    Raises:
        TypeError: an argument of the wrong type (a bare string as ``recipient_list``...),
            naming it.
    """
    to = arguments.send_mail_arguments(subject, body, from_email, recipients, html_message)
    mail = EmailMultiAlternatives(subject, body, from_email, to)
    if html_message is not None:
        mail.attach_alternative(html_message, "text/html")
    return mail


def mass_messages(datatuple: Iterable[DatatupleType]) -> Iterator[EmailMessage]:
    """The messages of ``send_mass_mail``'s tuples, built (and checked) one at a time."""
    for index, item in enumerate(datatuple):
        yield EmailMessage(*arguments.datatuple_item(index, item))


class Tally:
    """Messages accepted so far over several batches, for the partial-failure report."""

    def __init__(self, *, keep: bool) -> None:
        self.keep = keep
        self.total = 0
        self.accepted: list[EmailMessage] = []

    def add(self, batch: list[EmailMessage], count: int) -> None:
        """``batch`` was sent and ``count`` of its messages were accepted."""
        self.total += count
        if self.keep:
            self.accepted.extend(m for m in batch if m.recipients())

    def failed(self, exc: Exception) -> None:
        """Record on ``exc`` what was accepted before it, across batches."""
        in_batch = sent_messages_of(exc)
        count = getattr(exc, "sent_count", len(in_batch))
        record_sent(exc, self.accepted + in_batch if self.keep else in_batch, self.total + count)


def batches(messages: Iterable[EmailMessage]) -> Iterator[list[EmailMessage]]:
    """``messages`` in lists of at most :data:`MASS_MAIL_BATCH`."""
    iterator = iter(messages)
    while batch := list(itertools.islice(iterator, MASS_MAIL_BATCH)):
        yield batch


def mass_plan(
    datatuple: Iterable[DatatupleType],
    *,
    fail_silently: bool,
    auth: tuple[str | None, str | None],
    connection: BaseEmailBackend | None,
    using: str | None,
) -> tuple[Plan, bool]:
    """The plan of ``send_mass_mail``, and whether accepted messages are listed on failure
    (for a sequence; an iterator may be too long to keep). A sequence is checked whole
    first, before any provider is touched; an iterator item by item as it is consumed."""
    keep = isinstance(datatuple, Sequence)
    if keep:
        for index, item in enumerate(datatuple):
            arguments.datatuple_item(index, item)
    plan = built_plan(
        mass_messages(datatuple),
        using=using,
        fail_silently=fail_silently,
        connection=connection,
        auth=auth,
    )
    return plan, keep


def staff_plan(  # noqa: PLR0917 - the six arguments of mail_admins, in order
    setting: str,
    subject: str,
    message: str,
    fail_silently: bool,
    connection: BaseEmailBackend | None,
    html_message: str | None,
    using: str | None,
) -> Plan | None:
    """What mail_admins/mail_managers send to the addresses of ``setting`` (``ADMINS`` or
    ``MANAGERS``), or ``None`` (no provider resolved) when there are none."""
    arguments.send_mail_arguments(subject, message, None, [], html_message)
    settings = providers.settings
    recipients: list[str] = getattr(settings, setting)
    if not recipients:
        return None
    subject = f"{settings.EMAIL_SUBJECT_PREFIX}{subject}"
    mail = build_mail(subject, message, settings.SERVER_EMAIL, recipients, html_message)
    return built_plan([mail], using=using, fail_silently=fail_silently, connection=connection)
