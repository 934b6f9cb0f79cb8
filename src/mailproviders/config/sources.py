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
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

from dotenv import dotenv_values  # the .env reader of pydantic-settings
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, DotEnvSettingsSource, EnvSettingsSource

from mailproviders.config.dsn import parse_dsn
from mailproviders.config.values import load_json, looks_like_dsn
from mailproviders.exceptions import ImproperlyConfigured

__all__ = ["DotEnvSource", "EnvSource", "collect_providers", "dotenv_names", "near_misses"]

_FIELD: Final = "EMAIL_PROVIDERS"
_PREFIX: Final = _FIELD + "__"
_NEAR_RE: Final = re.compile(r"(?i)^email_providers?(?P<under>_*)(?P<rest>.*)$", re.DOTALL)


def _expand(value: Any, alias: str, variable: str) -> Any:
    """Decode a JSON object or a DSN into a mapping, so forms can be merged key by key.

    Raises :class:`ImproperlyConfigured` naming ``variable`` for JSON with a duplicate key
    or nested too deeply; other undecodable values are left for validation to report.
    """
    if not isinstance(value, str):
        return value
    try:
        if value.lstrip().startswith("{"):
            return load_json(value)
        if looks_like_dsn(value):
            return parse_dsn(value, alias=alias)
    except json.JSONDecodeError:
        pass  # left as is: validation reports it with the alias
    except ImproperlyConfigured:
        pass  # likewise
    except ValueError as exc:
        raise ImproperlyConfigured(str(exc), option=variable) from None
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
        providers = _expand(top, "?", _FIELD) if top.lstrip().startswith("{") else top
        if isinstance(providers, dict):
            providers = {
                alias: _expand(raw, str(alias), _FIELD) for alias, raw in providers.items()
            }
    names = sorted((n for n in env_vars if n.startswith(_PREFIX)), key=lambda n: n.count("__"))
    for name in names:
        value = env_vars[name]
        alias, *keys = name[len(_PREFIX) :].split("__")
        if value is None or not alias:
            continue
        entry = _expand(value, alias, name) if not keys else _nested(keys, value)
        if providers is None:
            providers = {}
        if isinstance(providers, dict):
            providers[alias] = _merge(providers.get(alias), entry) if alias in providers else entry
    return providers


def near_misses(names: Iterable[str]) -> list[str]:
    """Variable names that look meant for ``EMAIL_PROVIDERS`` but are ignored, each with
    the name probably meant: a wrong number of underscores after ``EMAIL_PROVIDERS``
    (two separate the alias), or the wrong case (names are case-sensitive)."""
    found = []
    for name in names:
        match = _NEAR_RE.match(name)
        if match is None:
            continue
        rest, right_case = match["rest"], name.startswith(_FIELD)
        if right_case and (name == _FIELD or (match["under"] == "__" and rest)):
            continue  # EMAIL_PROVIDERS or EMAIL_PROVIDERS__alias…: read
        meant = _PREFIX + rest if rest else _FIELD
        under = match["under"]
        if right_case and under.startswith("__") and rest:  # read, as an odd alias
            alias = name[len(_PREFIX) :].split("__")[0]
            found.append(f"{name} configures the alias {alias!r}; did you mean {meant}?")
        else:
            found.append(f"{name} is ignored; did you mean {meant}?")
    return found


def dotenv_names(path: str | Path = ".env") -> list[str]:
    """The variable names set in the ``.env`` file at ``path`` (none if there is none)."""
    if not Path(path).is_file():
        return []
    return list(dotenv_values(path, encoding="utf-8", interpolate=False))


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
