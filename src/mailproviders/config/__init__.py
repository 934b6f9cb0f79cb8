"""Configuration: the typed settings, providers, DSNs, sources and the JSON Schema.

Modules: :mod:`.settings` (:class:`MailSettings`, :func:`load_settings`),
:mod:`.provider` (:class:`ProviderConfig`), :mod:`.options` (OPTIONS models of the
built-in backends), :mod:`.validate` (OPTIONS of any backend, secret-safe errors),
:mod:`.dsn`, :mod:`.sources` (environment and ``.env``), :mod:`.values` (list decoding,
secret masks), :mod:`.schema`. Nothing here holds the settings in effect: that is the
handler's job (``mailproviders.providers.settings``).
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mailproviders.config.dsn import parse_dsn
    from mailproviders.config.provider import ProviderConfig, ProviderDefaults
    from mailproviders.config.settings import MailSettings, load_settings, validate_providers
    from mailproviders.registry import BUILTIN_BACKENDS, import_backend

# Loaded on first access: the submodules import each other and the registry, and a
# package __init__ that imported them eagerly would run in the middle of those imports.
_LAZY = {
    "parse_dsn": "mailproviders.config.dsn",
    "ProviderConfig": "mailproviders.config.provider",
    "ProviderDefaults": "mailproviders.config.provider",
    "MailSettings": "mailproviders.config.settings",
    "load_settings": "mailproviders.config.settings",
    "validate_providers": "mailproviders.config.settings",
    "BUILTIN_BACKENDS": "mailproviders.registry",
    "import_backend": "mailproviders.registry",
}

__all__ = [
    "BUILTIN_BACKENDS",
    "MailSettings",
    "ProviderConfig",
    "ProviderDefaults",
    "import_backend",
    "json_schema",
    "load_settings",
    "parse_dsn",
    "validate_providers",
]


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the whole configuration (as in ``schemas/``)."""
    from mailproviders.config.schema import settings_schema  # pydantic's schema code is large

    return settings_schema()


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
