"""Send hooks: functions called before and after each message a send function sends.

Register with :func:`before_send` and :func:`after_send` (both usable as decorators),
remove with :func:`remove`::

    from mailproviders import hooks

    @hooks.before_send
    def tag(alias, message):
        message.extra_headers["X-Sent-By"] = "shop"    # a copy: the caller's is untouched
        if message.to == ["blocked@example.com"]:
            raise hooks.CancelSend("blocked address")

    @hooks.after_send
    def count(alias, message, outcome):
        print(alias, outcome.sent, outcome.duration)

``before_send(alias, message)`` gets a copy of the message, with the provider's DEFAULTS
filled in, and may change it; raising :class:`CancelSend` cancels that message (it is not
sent, not counted, logged at INFO and reported to ``after_send`` hooks and, when the call
fails later, in the exception's ``cancelled_messages``). ``after_send(alias, message,
outcome)`` gets the message as it was handed to the backend and a :class:`SendOutcome`.

Hooks run for every message of the send functions (``send_mail``, ``send_mass_mail``,
``mail_admins``, ``EmailMessage.send()``... and their async twins), in the order of
registration, in the thread or task that sends. ``alias`` is the provider named by the
call, or the one a ``connection=`` backend came from (``None`` for a backend built
directly). Both sync and
``async def`` hooks may be registered: the async send functions await an async hook;
the sync ones run it to completion in a private event loop (in a helper thread when
the calling thread already runs a loop), so an async hook must not use objects bound to
the application's loop. A hook that raises anything else is logged (WARNING, with the
traceback) and ignored: the message is sent (``before_send``: as it was before that hook)
and its outcome is unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

if TYPE_CHECKING:
    from mailproviders.message import EmailMessage

__all__ = [
    "AfterSend",
    "BeforeSend",
    "CancelSend",
    "SendOutcome",
    "after_send",
    "before_send",
    "cancelled_messages_of",
    "clear",
    "remove",
]

#: ``before_send(alias, message)``: change ``message`` (a copy) or raise CancelSend.
BeforeSend: TypeAlias = Callable[[str | None, "EmailMessage"], Awaitable[None] | None]
#: ``after_send(alias, message, outcome)``.
AfterSend: TypeAlias = Callable[
    [str | None, "EmailMessage", "SendOutcome"], Awaitable[None] | None
]
F = TypeVar("F", bound=Callable[..., Any])


class CancelSend(Exception):
    """Raised by a ``before_send`` hook: do not send this message (``reason`` is logged)."""

    def __init__(self, reason: str = "cancelled by a before_send hook") -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SendOutcome:
    """What became of one message, as ``after_send`` hooks see it.

    ``sent``: the provider accepted it. ``exception``: what sending it raised (the
    :class:`CancelSend` of a cancelled message), else ``None``. ``cancelled``: a
    ``before_send`` hook cancelled it. ``sent_using``: the provider that accepted it —
    the alias, or the member of a failover/round-robin alias. ``provider_message_id``
    and ``refused_recipients``: what the backend recorded of the reply (an ESP's message
    id; the recipients an SMTP server refused, address → (code, reply)).
    ``server_reply``: an SMTP server's reply to the end of the message, such as
    ``"250 2.0.0 Ok: queued as 4F2B1"`` (``None`` for other backends). ``duration``:
    seconds spent sending (rate-limit waits and retries included). ``attempts``: how
    many times it was handed to the backend.
    """

    sent: bool
    exception: BaseException | None = None
    cancelled: bool = False
    sent_using: str | None = None
    provider_message_id: str | None = None
    refused_recipients: dict[str, tuple[int, str]] = field(default_factory=dict)
    server_reply: str | None = None
    duration: float = 0.0
    attempts: int = 0


class _Registry:
    """The registered hooks: tuples replaced under a lock, read without one."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.before: tuple[BeforeSend, ...] = ()
        self.after: tuple[AfterSend, ...] = ()


registry = _Registry()


def before_send(func: F) -> F:
    """Register ``func(alias, message)`` to run before each message is sent; returns it
    (usable as a decorator). Registering the same function twice has no effect."""
    _check(func, "before_send")
    with registry.lock:
        if func not in registry.before:
            registry.before = (*registry.before, func)
    return func


def after_send(func: F) -> F:
    """Register ``func(alias, message, outcome)`` to run after each message was sent,
    failed or was cancelled; returns it (usable as a decorator)."""
    _check(func, "after_send")
    with registry.lock:
        if func not in registry.after:
            registry.after = (*registry.after, func)
    return func


def remove(func: Callable[..., Any]) -> bool:
    """Unregister ``func`` (from both lists); ``False`` when it was not registered."""
    with registry.lock:
        before = tuple(hook for hook in registry.before if hook != func)
        after = tuple(hook for hook in registry.after if hook != func)
        found = (before, after) != (registry.before, registry.after)
        registry.before, registry.after = before, after
    return found


def clear() -> None:
    """Unregister every hook."""
    with registry.lock:
        registry.before, registry.after = (), ()


def cancelled_messages_of(exc: BaseException) -> list[EmailMessage]:
    """The messages that hooks cancelled in a send call that then raised ``exc``."""
    messages: Any = getattr(exc, "cancelled_messages", None)
    return list(messages) if messages else []


def _check(func: object, what: str) -> None:
    if not callable(func):
        raise TypeError(f"hooks.{what}() needs a function, got {type(func).__name__}")
