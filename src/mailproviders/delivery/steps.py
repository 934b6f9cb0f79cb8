"""What the sync and async pipelines share: the plan of a call, copies, hook calls, the
retry rule and the partial-failure report."""

from __future__ import annotations

import copy
import email.message
import logging
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, NamedTuple

from mailproviders import hooks
from mailproviders.delivery.clock import current
from mailproviders.exceptions import (
    EmailProviderDoesNotExist,
    possibly_sent_messages_of,
    record_possibly_sent,
    record_sent,
    sent_messages_of,
)
from mailproviders.handler import providers

if TYPE_CHECKING:
    from mailproviders.config.policies import RateLimitPolicy, RedirectPolicy, RetryPolicy
    from mailproviders.message import EmailMessage

__all__ = [
    "BatchRetry",
    "Plan",
    "Tally",
    "cancelled",
    "copy_message",
    "hook_failed",
    "log_retry",
    "outcome",
    "plan_for",
    "redirect",
    "report_back",
    "retryable",
    "trail",
]

logger = logging.getLogger("mailproviders")

#: The members of failover/round-robin providers that accepted messages during the
#: current send (appended by mailproviders.delivery.members): ``sent_using``.
trail: ContextVar[list[str] | None] = ContextVar("mailproviders_trail", default=None)

#: Set by backends on the message they sent; copied back to the caller's message.
_REPORTED = ("provider_message_id", "server_reply")


class Plan(NamedTuple):
    """What happens around the backend for one call: the alias's policies and the hooks
    registered when the call started."""

    alias: str | None
    retry: RetryPolicy | None
    rate_limit: RateLimitPolicy | None
    redirect: RedirectPolicy | None
    before: tuple[hooks.BeforeSend, ...]
    after: tuple[hooks.AfterSend, ...]

    @property
    def whole_batches(self) -> bool:
        """Only RETRY applies: the messages go to the backend together, as without
        policies (one connection, its batch features), and what it did not accept is
        retried (see :class:`BatchRetry`)."""
        return not (self.before or self.after or self.rate_limit or self.redirect)


def plan_for(alias: str | None, *, with_hooks: bool = True) -> Plan | None:
    """The plan of a call through ``alias``, or ``None`` when there is nothing to do but
    call the backend (no policy, no hook)."""
    before, after = (hooks.registry.before, hooks.registry.after) if with_hooks else ((), ())
    retry = rate_limit = redirect_policy = None
    if alias is not None:
        try:
            config = providers.config(alias)
        except EmailProviderDoesNotExist:  # a backend given by older code
            config = None
        if config is not None:
            retry, rate_limit, redirect_policy = config.RETRY, config.RATE_LIMIT, config.REDIRECT
    if not (before or after or retry or rate_limit or redirect_policy):
        return None
    return Plan(alias, retry, rate_limit, redirect_policy, before, after)


def copy_message(message: EmailMessage) -> EmailMessage:
    """A copy of ``message`` whose lists and dicts (recipients, headers, attachments...)
    are its own, so that changing it leaves ``message`` as it was; so are the MIME parts
    among its attachments (changed in place by ``set_content``)."""
    clone = copy.copy(message)
    for name, value in list(vars(clone).items()):
        if isinstance(value, list):
            setattr(clone, name, [_own(item) for item in value])
        elif isinstance(value, dict):
            setattr(clone, name, dict(value))
    return clone


def _own(item: Any) -> Any:
    """``item``, or a copy of it when it is a MIME part (mutable in place)."""
    return copy.deepcopy(item) if isinstance(item, email.message.Message) else item


def redirect(plan: Plan, message: EmailMessage) -> EmailMessage:
    """``message`` as the alias's REDIRECT policy sends it (a copy), or unchanged."""
    policy = plan.redirect
    if policy is None:
        return message
    from mailproviders.delivery.redirect import redirected

    return redirected(message, to=policy.to, allow=policy.allow, alias=plan.alias)


def report_back(message: EmailMessage, outgoing: EmailMessage) -> None:
    """What the backend recorded on the copy ``outgoing``, set on the caller's ``message``."""
    if outgoing is message:
        return
    message.refused_recipients = outgoing.refused_recipients
    for name in _REPORTED:
        if name in vars(outgoing):
            setattr(message, name, getattr(outgoing, name))


def retryable(exc: BaseException, message: EmailMessage) -> bool:
    """Whether sending ``message`` may be tried again after ``exc``: the failure was
    transient (as for failover: connection, timeout, TLS, login, a 4xx reply) and the
    message was certainly not accepted (not sent, not possibly delivered)."""
    from mailproviders.backends.composite import is_transient  # smtplib: on a failure only

    if not is_transient(exc):
        return False
    done = [*sent_messages_of(exc), *possibly_sent_messages_of(exc)]
    return all(sent is not message for sent in done)


def log_retry(
    alias: str | None, attempt: int, attempts: int, exc: Exception, delay: float
) -> None:
    """One WARNING line per retry: alias, attempt and reason."""
    logger.warning(
        "provider %r: attempt %d of %d failed (%s: %s); retrying in %.3g s",
        alias,
        attempt,
        attempts,
        type(exc).__name__,
        " ".join(str(exc).split())[:300],
        delay,
    )


def hook_failed(kind: str, hook: Callable[..., Any], alias: str | None, exc: Exception) -> None:
    """A hook raised: WARNING with the traceback; the message goes on."""
    logger.warning(
        "provider %r: %s hook %s raised %s; ignored",
        alias,
        kind,
        getattr(hook, "__qualname__", repr(hook)),
        type(exc).__name__,
        exc_info=exc,
    )


def cancelled(alias: str | None, message: EmailMessage, reason: str) -> None:
    """A message was cancelled: one INFO line."""
    logger.info(
        "provider %r: message %r to %d recipient(s) cancelled by a before_send hook: %s",
        alias,
        message.subject[:100],
        len(message.recipients()),
        reason,
    )


class Tally:
    """What one call did so far: messages accepted (the caller's objects), their count,
    those hooks cancelled, and those to report as handed over (``kept``)."""

    def __init__(self) -> None:
        self.count = 0
        self.accepted: list[EmailMessage] = []
        self.cancelled: list[EmailMessage] = []
        self.kept: list[EmailMessage] = []

    def add(self, message: EmailMessage, count: int) -> None:
        """``message`` was sent; the backend counted ``count``."""
        self.count += count
        if count:
            self.accepted.append(message)

    def failed(self, exc: BaseException, message: EmailMessage, outgoing: EmailMessage) -> None:
        """Sending ``message`` (as ``outgoing``) raised ``exc``: record on it the whole
        call's accepted messages, possibly delivered ones and cancelled ones."""

        def mapped(found: list[EmailMessage]) -> list[EmailMessage]:
            return [message if each is outgoing else each for each in found]

        in_call = mapped(sent_messages_of(exc))
        count = self.count + getattr(exc, "sent_count", len(in_call))
        record_sent(exc, self.accepted + in_call, count)
        possibly = possibly_sent_messages_of(exc)
        if possibly:
            record_possibly_sent(exc, mapped(possibly))
        if self.cancelled:
            exc.cancelled_messages = list(self.cancelled)  # type: ignore[attr-defined]


class BatchRetry:
    """The state of a batch sent whole under RETRY: the messages still to send, what was
    accepted, and how many attempts in a row failed without progress (a message that is
    accepted starts the count again, so each message gets ``attempts`` tries)."""

    def __init__(self, plan: Plan, messages: list[EmailMessage]) -> None:
        self.plan = plan
        self.pending = messages
        self.tally = Tally()
        self.failures = 0

    def done(self, count: int) -> int:
        """The backend accepted ``pending`` (``count``); the call's total."""
        return self.tally.count + count

    def failed(self, exc: Exception) -> float | None:
        """The backend raised ``exc`` for ``pending``: the seconds to wait before sending
        the messages it certainly did not accept (logged), or ``None`` (the call's totals
        are then recorded on ``exc``, which the caller raises)."""
        from mailproviders.backends.composite import is_transient

        policy = self.plan.retry
        sent, possibly = sent_messages_of(exc), possibly_sent_messages_of(exc)
        count = self.tally.count + getattr(exc, "sent_count", len(sent))
        done = {id(message) for message in [*sent, *possibly]}
        left = [m for m in self.pending if id(m) not in done and m.recipients()]
        self.failures = 1 if sent else self.failures + 1
        if (
            policy is None
            or self.failures >= policy.attempts
            or possibly
            or not left
            or not is_transient(exc)
        ):
            record_sent(exc, self.tally.accepted + sent, count)
            return None
        self.tally.count, self.pending = count, left
        self.tally.accepted += sent
        delay = policy.delay(self.failures, current().random())
        log_retry(self.plan.alias, self.failures, policy.attempts, exc, delay)
        return delay


def outcome(
    *,
    outgoing: EmailMessage,
    sent: bool,
    exception: BaseException | None,
    sent_using: str | None = None,
    duration: float = 0.0,
    attempts: int = 0,
) -> hooks.SendOutcome:
    """The :class:`~mailproviders.hooks.SendOutcome` of one message."""
    return hooks.SendOutcome(
        sent=sent,
        exception=exception,
        cancelled=isinstance(exception, hooks.CancelSend),
        sent_using=sent_using,
        provider_message_id=getattr(outgoing, "provider_message_id", None),
        refused_recipients=dict(outgoing.refused_recipients),
        server_reply=getattr(outgoing, "server_reply", None),
        duration=duration,
        attempts=attempts,
    )
