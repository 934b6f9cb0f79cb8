"""The ``providers`` handler: alias → configured backend instance, created lazily."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from mailproviders.backends.base import BaseEmailBackend
from mailproviders.exceptions import EmailProviderDoesNotExist
from mailproviders.settings import (
    MailSettings,
    ProviderConfig,
    get_settings,
    import_backend,
    load_settings,
    set_settings,
)

__all__ = ["DEFAULT_PROVIDER_ALIAS", "ProvidersHandler", "configure", "providers"]

DEFAULT_PROVIDER_ALIAS = "default"

# (owner, generation, cache): the owner is the asyncio task or thread that filled the cache.
# Child tasks inherit their parent's context, so the owner check keeps them from reusing
# the parent's instances.
_CacheEntry = tuple[object, int, dict[str, BaseEmailBackend]]
_task_cache: ContextVar[_CacheEntry | None] = ContextVar("mailproviders_cache", default=None)


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
    reused within a thread or asyncio task (a new task never reuses its parent's), until
    :meth:`close_all`. The configuration is loaded lazily on first use.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = 0
        self._cached: list[BaseEmailBackend] = []
        # Resolved (class, kwargs) per alias, valid for one settings object.
        self._factories: dict[str, tuple[type[BaseEmailBackend], dict[str, Any]]] = {}
        self._factories_for: MailSettings | None = None

    @property
    def settings(self) -> MailSettings:
        """The validated configuration (loads it on first use; raises ImproperlyConfigured)."""
        return get_settings()

    def _configs(self) -> dict[str, ProviderConfig]:
        return self.settings.EMAIL_PROVIDERS or {}

    def config(self, alias: str) -> ProviderConfig:
        """The validated :class:`ProviderConfig` of ``alias``.

        Raises :class:`EmailProviderDoesNotExist` when the alias is not configured.
        """
        configs = self._configs()
        try:
            return configs[alias]
        except KeyError:
            raise EmailProviderDoesNotExist(alias, configured=configs) from None

    def _factory(self, alias: str) -> tuple[type[BaseEmailBackend], dict[str, Any]]:
        settings = self.settings
        if self._factories_for is not settings:
            self._factories = {}
            self._factories_for = settings
        factory = self._factories.get(alias)
        if factory is None:
            config = self.config(alias)
            factory = (import_backend(config.BACKEND, alias), config.backend_kwargs())
            self._factories[alias] = factory
        return factory

    def create_connection(self, alias: str, /, **options: Any) -> BaseEmailBackend:
        """Build a new backend instance for ``alias`` (never cached).

        ``options`` override the configured OPTIONS for this instance only. Raises
        :class:`EmailProviderDoesNotExist` for an unknown alias and
        :class:`InvalidEmailProvider` for any other configuration problem.
        """
        backend_class, kwargs = self._factory(alias)
        if options:
            kwargs = {**kwargs, **options}
        return backend_class(alias=alias, **kwargs)

    def __getitem__(self, alias: str) -> BaseEmailBackend:
        backend_class, kwargs = self._factory(alias)
        if not backend_class.cacheable:
            return backend_class(alias=alias, **kwargs)
        owner, generation = _current_owner(), self._generation
        entry = _task_cache.get()
        if entry is None or entry[0] is not owner or entry[1] != generation:
            entry = (owner, generation, {})
            _task_cache.set(entry)
        cache = entry[2]
        backend = cache.get(alias)
        if backend is None:
            backend = cache[alias] = backend_class(alias=alias, **kwargs)
            with self._lock:
                self._cached.append(backend)
        return backend

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
        return alias in self._configs()

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._configs()))

    def __len__(self) -> int:
        return len(self._configs())

    def _forget_cached(self) -> list[BaseEmailBackend]:
        with self._lock:
            cached, self._cached = self._cached, []
            self._generation += 1
        return cached

    def close_all(self) -> None:
        """Close every cached instance (in all threads and tasks) and forget them.

        Every instance is closed even when one fails; then the first error is raised.
        """
        errors: list[Exception] = []
        for backend in self._forget_cached():
            try:
                backend.close()
            except Exception as exc:  # close the others before reporting
                errors.append(exc)
        if errors:
            raise errors[0]

    async def aclose_all(self) -> None:
        """Async :meth:`close_all`: close every cached instance with ``aclose()`` and
        forget them; the first error is raised after all were closed."""
        errors: list[Exception] = []
        for backend in self._forget_cached():
            try:
                await backend.aclose()
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]

    def reset(self, settings: MailSettings | None) -> None:
        """Install ``settings`` (``None``: re-read on next use) and close cached instances."""
        set_settings(settings)
        self._factories, self._factories_for = {}, None
        self.close_all()

    def __repr__(self) -> str:
        return f"<ProvidersHandler aliases={list(self)!r}>"


providers = ProvidersHandler()


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
