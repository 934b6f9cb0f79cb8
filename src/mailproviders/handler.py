"""The ``providers`` handler: alias → configured backend instance, created lazily.

The handler owns the settings in effect (loaded on first use, replaced by
:func:`configure`) and a per-context cache of the backends that ask for one
(``cacheable = True``).
"""

from __future__ import annotations

import sys
import threading
import weakref
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from mailproviders import _hooks
from mailproviders.backends.base import BaseEmailBackend, SharedResource, shared_resources
from mailproviders.backends.circuit import Circuits, MemberHealth
from mailproviders.config.provider import ProviderConfig
from mailproviders.config.settings import MailSettings, load_settings
from mailproviders.exceptions import EmailProviderDoesNotExist
from mailproviders.registry import builtin, import_backend

__all__ = ["DEFAULT_PROVIDER_ALIAS", "ProvidersHandler", "configure", "providers"]

DEFAULT_PROVIDER_ALIAS = "default"


class _Cache:
    """The cached backends of one thread or asyncio task (its owner), for one generation
    of the configuration. Held only by the owner's context: when the thread or task is
    gone, so is this, and the backends with it."""

    __slots__ = ("backends", "generation", "owner")

    def __init__(self, owner: object, generation: int) -> None:
        # A weak reference: the owner's context holds this cache, and a strong reference
        # back to the task or thread would keep all three alive until a GC cycle pass.
        self.owner = weakref.ref(owner)
        self.generation = generation
        self.backends: dict[str, BaseEmailBackend] = {}


_context_cache: ContextVar[_Cache | None] = ContextVar("mailproviders_cache", default=None)


def _current_owner() -> object:
    # Without asyncio imported no event loop can run, and importing it costs ~20 ms.
    asyncio = sys.modules.get("asyncio")
    try:
        task = asyncio.current_task() if asyncio is not None else None
    except RuntimeError:  # no running event loop in this thread
        task = None
    return task if task is not None else threading.current_thread()


class ProvidersHandler:
    """Hands out configured backend instances by alias.

    ``providers[alias]`` builds ``BackendClass(alias=alias, **OPTIONS)``: a new instance on
    every access, unless the class sets ``cacheable = True``; then one instance per alias is
    reused within a thread or asyncio task (a new task never reuses its parent's). A
    finished thread or task leaves nothing behind; :meth:`close_all` closes every live
    cached instance. The configuration is loaded lazily on first use.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._settings: MailSettings | None = None
        self._generation = 0
        self._cached: weakref.WeakSet[BaseEmailBackend] = weakref.WeakSet()
        # Resolved (class, kwargs) per alias, valid for the settings in effect.
        self._factories: dict[str, tuple[type[BaseEmailBackend], dict[str, Any]]] = {}
        self._positions: dict[str | None, int] = {}
        #: Circuit breakers of composite members; emptied when the configuration changes.
        self.circuits = Circuits()

    @property
    def settings(self) -> MailSettings:
        """The validated configuration, loaded on first use (thread-safe).

        Raises :class:`~mailproviders.exceptions.ImproperlyConfigured` when it is invalid
        (and tries again on the next access).
        """
        settings = self._settings
        if settings is None:
            with self._lock:
                if self._settings is None:
                    self._settings = load_settings()
                settings = self._settings
        return settings

    def config(self, alias: str) -> ProviderConfig:
        """The validated :class:`ProviderConfig` of ``alias``.

        Raises :class:`EmailProviderDoesNotExist` when the alias is not configured.
        """
        configs = self.settings.EMAIL_PROVIDERS or {}
        try:
            return configs[alias]
        except KeyError:
            raise EmailProviderDoesNotExist(alias=alias, configured=configs) from None

    def _factory(self, alias: str) -> tuple[type[BaseEmailBackend], dict[str, Any]]:
        factory = self._factories.get(alias)
        if factory is None:
            config = self.config(alias)
            backend_class = import_backend(config.BACKEND, alias)
            kwargs = config.backend_kwargs()
            if backend_class.uses_providers:
                kwargs["providers"] = self
            factory = self._factories[alias] = (backend_class, kwargs)
        return factory

    def create_connection(self, alias: str, /, **options: Any) -> BaseEmailBackend:
        """Build a new backend instance for ``alias`` (never cached).

        ``options`` override the configured OPTIONS for this instance only. Raises
        :class:`EmailProviderDoesNotExist` for an unknown alias and
        :class:`InvalidEmailProvider` for any other configuration problem.
        """
        backend_class, kwargs = self._factory(alias)
        return backend_class(alias=alias, **{**kwargs, **options})

    def __getitem__(self, alias: str) -> BaseEmailBackend:
        backend_class, kwargs = self._factory(alias)
        if not backend_class.cacheable:
            return backend_class(alias=alias, **kwargs)
        owner, cache = _current_owner(), _context_cache.get()
        if cache is None or cache.owner() is not owner or cache.generation != self._generation:
            cache = _Cache(owner, self._generation)
            _context_cache.set(cache)
        backend = cache.backends.get(alias)
        if backend is None:
            backend = cache.backends[alias] = backend_class(alias=alias, **kwargs)
            with self._lock:
                self._cached.add(backend)
        return backend

    def next_position(self, alias: str | None) -> int:
        """The next value (0, 1, 2...) of a counter that every thread, task and backend
        instance of ``alias`` shares, restarted when the configuration changes: the
        rotation of a round-robin provider belongs to its alias, not to an instance."""
        with self._lock:
            position = self._positions.get(alias, 0)
            self._positions[alias] = position + 1
        return position

    def health(self, alias: str | None = None) -> list[MemberHealth]:
        """The circuit state of each member of the composite provider ``alias`` (every
        failover and round-robin provider when ``None``), as this process sees it.

        Raises :class:`EmailProviderDoesNotExist` for an unknown alias.
        """
        configs = self.settings.EMAIL_PROVIDERS or {}
        aliases = list(configs) if alias is None else [alias]
        found: list[MemberHealth] = []
        for name in aliases:
            config = self.config(name)
            row = builtin(config.BACKEND)
            if row is not None and row.composite:
                found += self.circuits.health(name, config.OPTIONS["using"])
        return found

    @property
    def default(self) -> BaseEmailBackend:
        """``self["default"]``."""
        return self[DEFAULT_PROVIDER_ALIAS]

    def get(self, alias: str, default: Any = None) -> Any:
        """``self[alias]``, or ``default`` when ``alias`` is not configured.

        A configured alias whose configuration is broken still raises.
        """
        if alias not in self:
            return default
        return self[alias]

    def __contains__(self, alias: object) -> bool:
        return alias in (self.settings.EMAIL_PROVIDERS or {})

    def __iter__(self) -> Iterator[str]:
        return iter(list(self.settings.EMAIL_PROVIDERS or {}))

    def __len__(self) -> int:
        return len(self.settings.EMAIL_PROVIDERS or {})

    def _forget_cached(self) -> list[BaseEmailBackend]:
        with self._lock:
            cached = list(self._cached)
            self._cached = weakref.WeakSet()
            self._generation += 1
        return cached

    def close_all(self) -> None:
        """Close every live cached instance (in all threads and tasks) and forget them,
        then the resources backends share (connection pools: ``backends.base.share``).

        Every instance is closed even when one fails; then the first error is raised.
        """
        errors: list[Exception] = []
        closing: list[SharedResource] = [*self._forget_cached(), *shared_resources()]
        for backend in closing:
            try:
                backend.close()
            except Exception as exc:  # close the others before reporting
                errors.append(exc)
        if errors:
            raise errors[0]

    async def aclose_all(self) -> None:
        """Async :meth:`close_all`: close every live cached instance and shared resource
        with ``aclose()``; the first error is raised after all were closed."""
        errors: list[Exception] = []
        closing: list[SharedResource] = [*self._forget_cached(), *shared_resources()]
        for backend in closing:
            try:
                await backend.aclose()
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]

    def reset(self, settings: MailSettings | None) -> None:
        """Install ``settings`` (``None``: re-read on next use) and close cached instances."""
        with self._lock:
            self._settings = settings
            self._factories = {}
            self._positions = {}
            self.circuits.reset()
        self.close_all()

    def __repr__(self) -> str:
        return f"<ProvidersHandler aliases={list(self)!r}>"


providers = ProvidersHandler()


def _message_defaults() -> _hooks.MessageDefaults:
    settings = providers.settings
    return _hooks.MessageDefaults(settings.DEFAULT_FROM_EMAIL, settings.EMAIL_USE_LOCALTIME)


_hooks.message_defaults = _message_defaults


def configure(settings: MailSettings | None = None, /, **overrides: Any) -> MailSettings:
    """Load and install the configuration; returns the validated settings.

    With no arguments, re-reads the environment, the ``.env`` file and the defaults. A
    setting passed here (or in ``settings``) replaces that whole setting; the others still
    come from the environment. Cached backend instances are closed. Raises
    :class:`ImproperlyConfigured` (an :class:`InvalidEmailProvider` when every problem lies
    in ``EMAIL_PROVIDERS``) listing every problem; nothing changes then.
    """
    loaded = load_settings(settings, **overrides)
    providers.reset(loaded)
    return loaded
