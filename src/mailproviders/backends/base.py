"""The backend contract: one abstract method, ``send_messages``."""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Final, Protocol, Self

from mailproviders import _hooks
from mailproviders.exceptions import InvalidEmailProvider

if TYPE_CHECKING:
    from mailproviders.message import EmailMessage

__all__ = [
    "NOT_GIVEN",
    "BaseEmailBackend",
    "NotGiven",
    "SharedResource",
    "share",
    "shared_resources",
]


class NotGiven(enum.Enum):
    """Type of :data:`NOT_GIVEN`, the "argument not passed" marker."""

    NOT_GIVEN = "NOT_GIVEN"

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Final = NotGiven.NOT_GIVEN


class SharedResource(Protocol):
    """What backends share beyond one instance, such as the SMTP connection pools: once
    registered with :func:`share`, ``providers.close_all()``/``aclose_all()`` (and so
    ``configure()``) close it. Closing drops what it holds; it stays usable after."""

    def close(self) -> None: ...

    async def aclose(self) -> None: ...


_shared: dict[int, SharedResource] = {}


def share(resource: SharedResource) -> None:
    """Register ``resource`` to be closed with the providers' instances (idempotent)."""
    _shared.setdefault(id(resource), resource)


def shared_resources() -> list[SharedResource]:
    """The resources registered with :func:`share`, in the order they were."""
    return list(_shared.values())


class BaseEmailBackend(ABC):
    """Base class of every email backend.

    A backend receives everything it needs as keyword arguments of ``__init__`` (never
    from global settings). ``alias`` is the provider alias when the instance was created
    by :data:`mailproviders.providers`, else ``None``.

    Subclasses implement :meth:`send_messages` and may override :meth:`open` and
    :meth:`close`. The async pair (:meth:`asend_messages`, :meth:`aopen`,
    :meth:`aclose`, ``async with``) works for every backend: by default it runs the sync
    methods in a worker thread; a backend with a native async client overrides it. Set
    ``cacheable = True`` to have ``providers`` reuse one instance per alias, thread and
    asyncio task.

    Unknown keyword options (reaching this ``__init__`` through a subclass's ``**kwargs``)
    raise :class:`InvalidEmailProvider` naming the alias and the keys when ``alias`` is
    set. A backend built directly (``alias=None``) with unknown options or with the
    backend-level ``fail_silently`` is handed to the compatibility layer
    (:mod:`mailproviders.legacy`), which keeps older code working with a deprecation
    warning; see docs/backends.md.
    """

    cacheable: ClassVar[bool] = False
    #: Whether ``providers`` passes itself to ``__init__`` as ``providers`` (backends that
    #: send through other providers).
    uses_providers: ClassVar[bool] = False

    def __init__(
        self,
        *,
        alias: str | None = None,
        fail_silently: bool | NotGiven = NOT_GIVEN,
        **kwargs: Any,
    ) -> None:
        self.alias = alias
        if kwargs and alias is not None:
            raise InvalidEmailProvider(
                f"unknown option(s) {', '.join(sorted(kwargs))} for {type(self).__qualname__}",
                alias=alias,
                option=",".join(sorted(kwargs)),
            )
        if kwargs or fail_silently is not NOT_GIVEN:
            _hooks.compat.backend_built(self, kwargs, fail_silently)

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails (older code reads attributes that
        # backends no longer define).
        return _hooks.compat.backend_attribute(self, name)

    @property
    def fail_silently(self) -> Any:
        """The backend-level flag of older code (deprecated; see docs/migration.md)."""
        if "fail_silently" in vars(self):
            return vars(self)["fail_silently"]
        return _hooks.compat.backend_attribute(self, "fail_silently")

    @fail_silently.setter
    def fail_silently(self, value: Any) -> None:
        # Setting it true after building is the same as passing it to __init__.
        if value:
            _hooks.compat.backend_built(self, {}, value)
        else:
            vars(self)["fail_silently"] = value

    def open(self) -> bool | None:  # noqa: B027 - optional hook, deliberately not abstract
        """Open a long-lived connection, if the backend has one. Idempotent. A backend that
        has one returns whether this call opened it (False: it was already open)."""

    def close(self) -> None:  # noqa: B027 - optional hook, deliberately not abstract
        """Close the connection opened by :meth:`open`. Safe to call at any time."""

    def __enter__(self) -> Self:
        try:
            self.open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @abstractmethod
    def send_messages(self, messages: Iterable[EmailMessage]) -> int:
        """Send ``messages`` and return how many were accepted (0 for none).

        On failure the original exception propagates with ``sent_count`` and
        ``sent_messages`` attached (:func:`mailproviders.exceptions.record_sent`).
        """

    # The async pair. The defaults run the sync methods in a worker thread, so every
    # backend works from async code; a backend with a native async client overrides them.

    async def aopen(self) -> None:
        """Async :meth:`open`; by default runs it in a worker thread. Raises what it raises."""
        import asyncio  # only async callers pay for it, and they already have it

        await asyncio.to_thread(self.open)

    async def aclose(self) -> None:
        """Async :meth:`close`; by default runs it in a worker thread."""
        import asyncio

        await asyncio.to_thread(self.close)

    async def asend_messages(self, messages: Iterable[EmailMessage]) -> int:
        """Async :meth:`send_messages`, with the same result and exceptions.

        By default runs :meth:`send_messages` in a worker thread: cancelling the awaiting
        task does not stop a send already under way in that thread.
        """
        import asyncio

        return await asyncio.to_thread(self.send_messages, messages)

    async def __aenter__(self) -> Self:
        try:
            await self.aopen()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<{type(self).__module__}.{type(self).__qualname__} alias={self.alias!r}>"
