"""The backend-level ``fail_silently`` of older code, decided here and nowhere else.

A backend built with ``fail_silently=True`` (directly, through ``get_connection`` or in
its OPTIONS) keeps the historical behaviour of its kind: its ``open``/``aopen`` (so
``with backend:`` too) swallow those errors, and its ``send_messages`` (and
``asend_messages``) return the number of messages accepted instead of raising the
errors listed in :data:`SILENCED` for its class. A send function given such a backend
silences every error, as if called with ``fail_silently=True``.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Final

from mailproviders.registry import BUILTIN_BACKENDS

if TYPE_CHECKING:
    from mailproviders.backends.base import BaseEmailBackend
    from mailproviders.message import EmailMessage

__all__ = ["SILENCED", "install", "is_silenced", "is_smtp"]

#: Built-in backend path → the errors its ``fail_silently=True`` swallowed historically:
#: SMTP the connection and protocol errors (``smtplib.SMTPException`` is an ``OSError``),
#: the console, file and composite backends any error. Other backends (locmem, dummy,
#: custom ones, which read ``self.fail_silently`` themselves) are not wrapped.
SILENCED: Final[dict[str, tuple[type[Exception], ...]]] = {
    BUILTIN_BACKENDS["smtp"]: (OSError,),
    BUILTIN_BACKENDS["console"]: (Exception,),
    BUILTIN_BACKENDS["file"]: (Exception,),
    BUILTIN_BACKENDS["failover"]: (Exception,),
    BUILTIN_BACKENDS["roundrobin"]: (Exception,),
}


def is_silenced(backend: BaseEmailBackend) -> bool:
    """Whether ``backend`` was built with the legacy ``fail_silently=True``."""
    return bool(vars(backend).get("fail_silently", False))


def is_smtp(backend: BaseEmailBackend) -> bool:
    """Whether ``backend`` is the built-in SMTP backend (or a subclass of it)."""
    return _path(backend) == BUILTIN_BACKENDS["smtp"]


def _path(backend: BaseEmailBackend) -> str:
    for cls in type(backend).__mro__:  # SMTPConnection and other subclasses count too
        path = f"{cls.__module__}.{cls.__qualname__}"
        if path in SILENCED:
            return path
    return ""


def install(backend: BaseEmailBackend, value: bool) -> None:
    """Record ``fail_silently=value`` on ``backend`` and, when true, wrap its send methods
    so that the errors of :data:`SILENCED` return the count accepted instead."""
    vars(backend)["fail_silently"] = value
    kinds = SILENCED.get(_path(backend), ())
    if not (value and kinds):
        return
    send = backend.send_messages
    asend = backend.asend_messages
    opener = backend.open
    aopener = backend.aopen

    # open() and ``with backend:`` are silenced too: the historical flag covered the
    # connection itself, not only the sends (a failed open leaves nothing open).
    @functools.wraps(opener)
    def open_silently() -> bool | None:
        try:
            return opener()
        except kinds:
            backend.close()
            return None

    @functools.wraps(aopener)
    async def aopen_silently() -> None:
        try:
            await aopener()
        except kinds:
            await backend.aclose()

    @functools.wraps(send)
    def send_messages(messages: Iterable[EmailMessage]) -> int:
        try:
            return send(messages)
        except kinds as exc:
            return _count(exc)

    @functools.wraps(asend)
    async def asend_messages(messages: Iterable[EmailMessage]) -> int:
        try:
            return await asend(messages)
        except kinds as exc:
            return _count(exc)

    _set(backend, "send_messages", send_messages)
    _set(backend, "asend_messages", asend_messages)
    _set(backend, "open", open_silently)
    _set(backend, "aopen", aopen_silently)


def _count(exc: BaseException) -> int:
    return int(getattr(exc, "sent_count", 0))


def _set(
    backend: BaseEmailBackend,
    name: str,
    method: Callable[..., int | Awaitable[int] | Awaitable[None] | None],
) -> None:
    # An instance attribute shadows the class's method for this instance only.
    setattr(backend, name, method)
