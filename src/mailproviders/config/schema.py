"""JSON Schema of the whole configuration, generated from the settings and options models.

A provider is a DSN string, a built-in provider (its ``BACKEND`` short name or path, its
typed ``OPTIONS``) or a custom provider (any other dotted path, free-form ``OPTIONS``).
"""

from __future__ import annotations

import json
from typing import Any, Final

from pydantic.json_schema import models_json_schema

from mailproviders.config.dsn import DSN_SCHEMES
from mailproviders.config.policies import POLICY_KEYS
from mailproviders.config.provider import ProviderDefaults
from mailproviders.config.settings import MailSettings
from mailproviders.registry import BUILTIN_BACKENDS, BUILTINS, BuiltinBackend

__all__ = ["SCHEMA_ID", "render_schema", "settings_schema"]

SCHEMA_ID: Final = "https://mailproviders.invalid/schemas/email-providers.schema.json"
_REF: Final = "#/$defs/{model}"
_DEFAULT_BACKEND: Final = "smtp"


def _builtin_provider(row: BuiltinBackend) -> dict[str, Any]:
    required = [] if row.name == _DEFAULT_BACKEND else ["BACKEND"]
    if not row.options_optional:
        required.append("OPTIONS")
    return {
        "type": "object",
        "title": f"{row.name} provider",
        "properties": {
            "BACKEND": {"enum": [*row.names, row.path]},
            "OPTIONS": {"$ref": _REF.format(model=row.options.__name__)},
            "DEFAULTS": {"$ref": _REF.format(model="ProviderDefaults")},
            **_policies(),
        },
        "required": required,
        "additionalProperties": False,
    }


def _policies() -> dict[str, Any]:
    """RETRY (or a number of attempts), RATE_LIMIT (or "N/s"...) and REDIRECT (or the
    addresses to redirect to)."""
    short = {
        "RETRY": {"type": "integer", "minimum": 1},
        "RATE_LIMIT": {"type": "string"},
        "REDIRECT": {"type": ["string", "array"], "minItems": 1, "items": {"type": "string"}},
    }
    return {
        key: {"anyOf": [{"$ref": _REF.format(model=model.__name__)}, short[key]]}
        for key, model in POLICY_KEYS.items()
    }


def _custom_provider() -> dict[str, Any]:
    builtin = sorted({*BUILTIN_BACKENDS, *BUILTIN_BACKENDS.values()})
    return {
        "type": "object",
        "title": "custom provider",
        "properties": {
            "BACKEND": {
                "type": "string",
                "pattern": r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$",
                "not": {"enum": builtin},
                "description": "Dotted path of a BaseEmailBackend subclass.",
            },
            "OPTIONS": {"type": "object", "not": {"required": ["alias"]}},
            "DEFAULTS": {"$ref": _REF.format(model="ProviderDefaults")},
            **_policies(),
        },
        "required": ["BACKEND"],
        "additionalProperties": False,
    }


def _when_backend(names: list[str], model: str, short: str | None) -> dict[str, Any]:
    """``model`` applies when BACKEND is one of ``names`` (``short`` the built-in's name;
    ``None``: when BACKEND is given and is none of them)."""
    backend: dict[str, Any] = {"enum": names} if short is not None else {"not": {"enum": names}}
    condition: dict[str, Any] = {"required": ["BACKEND"], "properties": {"BACKEND": backend}}
    if short == _DEFAULT_BACKEND:  # no BACKEND means smtp
        condition = {"anyOf": [condition, {"not": {"required": ["BACKEND"]}}]}
    return {"if": condition, "then": {"$ref": _REF.format(model=model)}}


def _dsn() -> dict[str, Any]:
    schemes = "|".join(name.replace("+", r"\+") for name in DSN_SCHEMES)
    return {
        "type": "string",
        "title": "provider DSN",
        "pattern": f"^({schemes})://",
        "examples": ["smtp+starttls://user:password@smtp.example.com:587", "console://"],
    }


def settings_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the settings object, root = all settings."""
    models = sorted({row.options for row in BUILTINS}, key=lambda model: model.__name__)
    pairs = [
        (model, "validation")
        for model in [*models, ProviderDefaults, *POLICY_KEYS.values(), MailSettings]
    ]
    _, top = models_json_schema(pairs, ref_template=_REF)  # type: ignore[arg-type]
    defs: dict[str, Any] = top["$defs"]
    root = defs.pop("MailSettings")
    defs.pop("ProviderConfig", None)
    # A provider's BACKEND selects the one schema it is checked against (if/then rather
    # than anyOf), so that a validator's best error names the bad field, not "is not
    # valid under any of the given schemas".
    branches = []
    for row in BUILTINS:
        name = f"{row.name.capitalize()}Provider"
        defs[name] = _builtin_provider(row)
        branches.append(_when_backend([*row.names, row.path], name, row.name))
    defs["CustomProvider"] = _custom_provider()
    builtin = sorted({*BUILTIN_BACKENDS, *BUILTIN_BACKENDS.values()})
    branches.append(_when_backend(builtin, "CustomProvider", None))
    defs["ProviderDSN"] = _dsn()
    defs["Provider"] = {
        "type": ["string", "object"],
        "if": {"type": "string"},
        "then": {"$ref": "#/$defs/ProviderDSN"},
        "else": {"allOf": branches},
    }
    # Not nullable: leaving EMAIL_PROVIDERS out is how "not set" is written in a file.
    root["properties"]["EMAIL_PROVIDERS"] = {
        "type": "object",
        "additionalProperties": {"$ref": "#/$defs/Provider"},
        "description": "Alias → provider: a DSN string or a BACKEND/OPTIONS/DEFAULTS mapping.",
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **root,
        "title": "mailproviders settings",
        "description": "EMAIL_PROVIDERS and the other settings read by mailproviders.",
        "$defs": dict(sorted(defs.items())),
    }


def render_schema() -> str:
    """The schema as the text of ``schemas/email-providers.schema.json``."""
    return json.dumps(settings_schema(), indent=2, ensure_ascii=False) + "\n"
