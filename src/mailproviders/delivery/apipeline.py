"""The async pipeline: the sync one's steps, awaiting the backend, async hooks and waits
(a rate-limit or retry wait suspends the task; it never blocks the event loop)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from mailproviders import hooks
from mailproviders.delivery import ratelimit, steps
from mailproviders.delivery.clock import current
from mailproviders.delivery.pipeline import Run

if TYPE_CHECKING:
    from mailproviders.message import EmailMessage

__all__ = ["ARun", "acall_hook"]


async def acall_hook(hook: Callable[..., Any], *args: Any) -> None:
    """Call ``hook`` from async code, awaiting it when it is async."""
    result = hook(*args)
    if inspect.isawaitable(result):
        await result


class ARun(Run):
    """One async send call through ``backend`` under ``plan``."""

    async def asend(self, messages: Iterable[EmailMessage]) -> tuple[list[EmailMessage], int]:
        """Async :meth:`Run.send`."""
        if self.plan.whole_batches:
            batch = list(messages)
            return batch, await self.asend_whole(batch)
        tally = steps.Tally()
        for message in messages:
            if not message.recipients():
                tally.kept.append(message)
                continue
            outgoing = await self.aprepared(message)
            if outgoing is None:
                tally.cancelled.append(message)
                continue
            tally.kept.append(message)
            await self.aone(tally, message, outgoing)
        return tally.kept, tally.count

    async def asend_whole(self, messages: list[EmailMessage]) -> int:
        """Async :meth:`Run.send_whole`."""
        state = steps.BatchRetry(self.plan, messages)
        while True:
            try:
                count = await self.backend.asend_messages(state.pending)
            except Exception as exc:
                delay = state.failed(exc)
                if delay is None:
                    raise
                await current().asleep(delay)
            else:
                return state.done(count)

    async def aprepared(self, message: EmailMessage) -> EmailMessage | None:
        """Async :meth:`Run.prepared`."""
        plan, current_message = self.plan, message
        for hook in plan.before:
            candidate = steps.copy_message(current_message)
            try:
                await acall_hook(hook, plan.alias, candidate)
            except hooks.CancelSend as exc:
                await self.aafter(candidate, self.cancelled(candidate, exc))
                return None
            except Exception as exc:
                steps.hook_failed("before_send", hook, plan.alias, exc)
                continue
            current_message = candidate
        if not current_message.recipients():
            stop = hooks.CancelSend("no recipients left after the before_send hooks")
            await self.aafter(current_message, self.cancelled(current_message, stop))
            return None
        return steps.redirect(plan, current_message)

    async def aafter(self, message: EmailMessage, outcome: hooks.SendOutcome) -> None:
        """Async :meth:`Run.after`."""
        for hook in self.plan.after:
            try:
                await acall_hook(hook, self.plan.alias, message, outcome)
            except Exception as exc:
                steps.hook_failed("after_send", hook, self.plan.alias, exc)

    async def aone(
        self, tally: steps.Tally, message: EmailMessage, outgoing: EmailMessage
    ) -> None:
        """Async :meth:`Run.one`."""
        plan, clock = self.plan, current()
        start, attempts, trail = clock.monotonic(), 0, list[str]()
        token = steps.trail.set(trail)
        try:
            if plan.rate_limit is not None and plan.alias is not None:
                wait = ratelimit.reserve(plan.alias, plan.rate_limit)
                if wait > 0:
                    await clock.asleep(wait)
            while True:
                attempts += 1
                try:
                    count = await self.backend.asend_messages([outgoing])
                    break
                except Exception as exc:
                    delay = self.retry_delay(exc, outgoing, attempts)
                    if delay is None:
                        raise
                    await clock.asleep(delay)
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
            await self.aafter(outgoing, done)
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
        await self.aafter(outgoing, done)
