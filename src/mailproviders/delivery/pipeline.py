"""The sync pipeline: per message, before_send hooks → redirect → rate-limit token →
send with retries → after_send hooks."""

from __future__ import annotations

import inspect
import threading
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from mailproviders import hooks
from mailproviders.delivery import ratelimit, steps
from mailproviders.delivery.clock import current

if TYPE_CHECKING:
    from mailproviders.backends.base import BaseEmailBackend
    from mailproviders.message import EmailMessage

__all__ = ["Run", "call_hook"]


def _run_awaitable(awaitable: Awaitable[Any]) -> None:
    """Run an async hook's awaitable to completion from sync code: in a new event loop,
    in a helper thread when this thread already runs one."""
    import asyncio

    async def wait() -> None:
        await awaitable

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(wait())
        return
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(wait())
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=run, name="mailproviders-hook")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


def call_hook(hook: Callable[..., Any], *args: Any) -> None:
    """Call ``hook`` from sync code (an async one is run to completion)."""
    result = hook(*args)
    if inspect.isawaitable(result):
        _run_awaitable(result)


class Run:
    """One sync send call through ``backend`` under ``plan``."""

    def __init__(self, backend: BaseEmailBackend, plan: steps.Plan) -> None:
        self.backend = backend
        self.plan = plan

    def send(self, messages: Iterable[EmailMessage]) -> tuple[list[EmailMessage], int]:
        """Send ``messages`` one by one; return those not cancelled and the count sent.

        Stops at the first message that fails (after its retries) and raises its error
        with the call's ``sent_count``/``sent_messages`` (the caller's objects),
        ``possibly_sent_messages`` and ``cancelled_messages``.
        """
        if self.plan.whole_batches:
            batch = list(messages)
            return batch, self.send_whole(batch)
        tally = steps.Tally()
        for message in messages:
            if not message.recipients():  # skipped by every backend: nothing to do
                tally.kept.append(message)
                continue
            outgoing = self.prepared(message)
            if outgoing is None:
                tally.cancelled.append(message)
                continue
            tally.kept.append(message)
            self.one(tally, message, outgoing)
        return tally.kept, tally.count

    def send_whole(self, messages: list[EmailMessage]) -> int:
        """Send ``messages`` in one call, retrying what was certainly not accepted."""
        state = steps.BatchRetry(self.plan, messages)
        while True:
            try:
                count = self.backend.send_messages(state.pending)
            except Exception as exc:
                delay = state.failed(exc)
                if delay is None:
                    raise
                current().sleep(delay)
            else:
                return state.done(count)

    def prepared(self, message: EmailMessage) -> EmailMessage | None:
        """``message`` as the before_send hooks and REDIRECT leave it (a copy), or
        ``None`` when a hook cancelled it."""
        plan, current_message = self.plan, message
        for hook in plan.before:
            candidate = steps.copy_message(current_message)
            try:
                call_hook(hook, plan.alias, candidate)
            except hooks.CancelSend as exc:
                self.after(candidate, self.cancelled(candidate, exc))
                return None
            except Exception as exc:
                steps.hook_failed("before_send", hook, plan.alias, exc)
                continue
            current_message = candidate
        if not current_message.recipients():
            stop = hooks.CancelSend("no recipients left after the before_send hooks")
            self.after(current_message, self.cancelled(current_message, stop))
            return None
        return steps.redirect(plan, current_message)

    def cancelled(self, message: EmailMessage, exc: hooks.CancelSend) -> hooks.SendOutcome:
        """Log that ``message`` was cancelled; its outcome for the after_send hooks."""
        steps.cancelled(self.plan.alias, message, exc.reason)
        return steps.outcome(outgoing=message, sent=False, exception=exc)

    def after(self, message: EmailMessage, outcome: hooks.SendOutcome) -> None:
        for hook in self.plan.after:
            try:
                call_hook(hook, self.plan.alias, message, outcome)
            except Exception as exc:
                steps.hook_failed("after_send", hook, self.plan.alias, exc)

    def one(self, tally: steps.Tally, message: EmailMessage, outgoing: EmailMessage) -> None:
        """Send one message: token, attempts, report; raises what the last attempt raised."""
        plan, clock = self.plan, current()
        start, attempts, trail = clock.monotonic(), 0, list[str]()
        token = steps.trail.set(trail)
        try:
            if plan.rate_limit is not None and plan.alias is not None:
                wait = ratelimit.reserve(plan.alias, plan.rate_limit)
                if wait > 0:
                    clock.sleep(wait)
            while True:
                attempts += 1
                try:
                    count = self.backend.send_messages([outgoing])
                    break
                except Exception as exc:
                    delay = self.retry_delay(exc, outgoing, attempts)
                    if delay is None:
                        raise
                    clock.sleep(delay)
        except Exception as exc:
            steps.report_back(message, outgoing)
            tally.failed(exc, message, outgoing)
            done = steps.outcome(
                outgoing=outgoing,
                sent=False,
                exception=exc,
                duration=clock.monotonic() - start,
                attempts=attempts,
            )
            self.after(outgoing, done)
            raise
        finally:
            steps.trail.reset(token)
        steps.report_back(message, outgoing)
        tally.add(message, count)
        done = steps.outcome(
            outgoing=outgoing,
            sent=count > 0,
            exception=None,
            sent_using=(trail[-1] if trail else plan.alias) if count else None,
            duration=clock.monotonic() - start,
            attempts=attempts,
        )
        self.after(outgoing, done)

    def retry_delay(self, exc: Exception, outgoing: EmailMessage, attempt: int) -> float | None:
        """Seconds to wait before trying again after ``exc`` (logged), or ``None``: no
        retry (no RETRY, attempts used up, or not certainly unsent)."""
        policy = self.plan.retry
        if policy is None or attempt >= policy.attempts or not steps.retryable(exc, outgoing):
            return None
        delay = policy.delay(attempt, current().random())
        steps.log_retry(self.plan.alias, attempt, policy.attempts, exc, delay)
        return delay
