"""Test helpers: the locmem ``outbox`` and :class:`override_providers`."""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

from mailproviders.backends.locmem import outbox
from mailproviders.config.settings import MailSettings, validate_providers
from mailproviders.handler import providers

__all__ = ["outbox", "override_providers"]

P = ParamSpec("P")
R = TypeVar("R")

_override_lock = threading.RLock()


class override_providers:
    """Replace the whole set of providers for a ``with`` block or a decorated function.

    ``mapping`` is ``EMAIL_PROVIDERS``-shaped (dicts or DSN strings per alias); it is
    validated like any configuration (:class:`InvalidEmailProvider` on errors). Other
    settings are kept. The override is process-wide (every thread sees it); on exit the
    previous configuration is restored and cached backend instances are closed, even when
    the block raised. Works as a decorator on ``def`` and ``async def`` functions.
    """

    def __init__(self, mapping: Mapping[str, Any]) -> None:
        self.mapping = dict(mapping)
        self._saved: list[MailSettings] = []

    def __enter__(self) -> MailSettings:
        with _override_lock:
            current = providers.settings
            validated = validate_providers(self.mapping)
            replaced = current.model_copy(update={"EMAIL_PROVIDERS": validated})
            self._saved.append(current)
            providers.reset(replaced)
            return replaced

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with _override_lock:
            providers.reset(self._saved.pop())

    def __call__(self, func: Callable[P, R]) -> Callable[P, R]:
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                with self:
                    return await func(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with self:
                return func(*args, **kwargs)

        return wrapper
