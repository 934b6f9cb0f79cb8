"""Settings sources: the environment and the ``.env`` file, read case-sensitively.

``EMAIL_PROVIDERS`` is assembled here from its three environment forms, which may be
mixed across aliases (and, for one alias, refine each other, the more specific winning):

* ``EMAIL_PROVIDERS='{"default": {...}}'`` (JSON),
* ``EMAIL_PROVIDERS__<alias>=smtp://…`` (a DSN, or a JSON object),
* ``EMAIL_PROVIDERS__<alias>__BACKEND=…`` / ``__OPTIONS__<key>=…`` / ``__DEFAULTS__<key>=…``.

Nothing is validated here: a value that cannot be decoded is passed on as it is, so that
validation reports it with its alias (and without echoing secrets).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, DotEnvSettingsSource, EnvSettingsSource

from mailproviders.config.dsn import parse_dsn
from mailproviders.config.values import looks_like_dsn
from mailproviders.exceptions import ImproperlyConfigured

__all__ = ["DotEnvSource", "EnvSource", "collect_providers"]

_FIELD: Final = "EMAIL_PROVIDERS"
_PREFIX: Final = _FIELD + "__"


def _expand(value: Any, alias: str) -> Any:
    """Decode a JSON object or a DSN into a mapping, so forms can be merged key by key."""
    if not isinstance(value, str):
        return value
    try:
        if value.lstrip().startswith("{"):
            return json.loads(value)
        if looks_like_dsn(value):
            return parse_dsn(value, alias=alias)
    except (ValueError, ImproperlyConfigured):
        pass  # left as is: validation reports it with the alias
    return value


def _merge(base: Any, update: Any) -> Any:
    if isinstance(base, dict) and isinstance(update, dict):
        merged = dict(base)
        for key, value in update.items():
            merged[key] = _merge(merged.get(key), value) if key in merged else value
        return merged
    if isinstance(base, str) and isinstance(update, dict):
        return base  # an undecodable value stays, so that its error is not hidden
    return update


def _nested(keys: list[str], value: str) -> Any:
    for key in reversed(keys):
        value = {key: value}  # type: ignore[assignment]
    return value


def collect_providers(top: str | None, env_vars: Mapping[str, str | None]) -> Any:
    """Build the raw ``EMAIL_PROVIDERS`` value from one source's variables (``None``: unset).

    ``top`` is the value of ``EMAIL_PROVIDERS`` itself. Alias and key names keep their case.
    """
    providers: Any = None
    if top is not None:
        providers = _expand(top, "?") if top.lstrip().startswith("{") else top
        if isinstance(providers, dict):
            providers = {alias: _expand(raw, str(alias)) for alias, raw in providers.items()}
    names = sorted((n for n in env_vars if n.startswith(_PREFIX)), key=lambda n: n.count("__"))
    for name in names:
        value = env_vars[name]
        alias, *keys = name[len(_PREFIX) :].split("__")
        if value is None or not alias:
            continue
        entry = _expand(value, alias) if not keys else _nested(keys, value)
        if providers is None:
            providers = {}
        if isinstance(providers, dict):
            providers[alias] = _merge(providers.get(alias), entry) if alias in providers else entry
    return providers


class _Excluding(EnvSettingsSource):
    """Shared behaviour: EMAIL_PROVIDERS assembly and settings given in code left out.

    (DotEnvSettingsSource is an EnvSettingsSource, so this mixin serves both.)
    """

    def __init__(self, settings_cls: type[BaseSettings], exclude: frozenset[str]) -> None:
        super().__init__(settings_cls)
        self.exclude = exclude

    def prepare_field_value(
        self, field_name: str, field: FieldInfo, value: Any, value_is_complex: bool
    ) -> Any:
        if field_name == _FIELD:
            return collect_providers(value, self.env_vars)
        return super().prepare_field_value(field_name, field, value, value_is_complex)

    def _drop_excluded(self, data: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in data.items() if key not in self.exclude}


class EnvSource(_Excluding):
    """Environment variables (case-sensitive), skipping the settings in ``exclude``."""

    def __call__(self) -> dict[str, Any]:
        return self._drop_excluded(super().__call__())


class DotEnvSource(_Excluding, DotEnvSettingsSource):
    """The ``.env`` file of the working directory, skipping the settings in ``exclude``.

    Keys that are not settings are ignored (a shared ``.env`` holds other things too).
    """

    def __call__(self) -> dict[str, Any]:
        fields = self.settings_cls.model_fields
        return self._drop_excluded(
            {key: value for key, value in super().__call__().items() if key in fields}
        )
