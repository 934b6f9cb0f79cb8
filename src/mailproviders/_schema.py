"""JSON Schema of the whole configuration, generated from the settings and options models.

A provider is a DSN string, a built-in provider (its ``BACKEND`` short name or path, its
typed ``OPTIONS``) or a custom provider (any other dotted path, free-form ``OPTIONS``).
"""

from __future__ import annotations

import json
from typing import Any, Final

from pydantic.json_schema import models_json_schema

from mailproviders._dsn import DSN_SCHEMES
from mailproviders._options import BUILTIN_BACKENDS, OPTIONS_MODELS, BuiltinOptions
from mailproviders._provider import ProviderDefaults

__all__ = ["SCHEMA_ID", "render_schema", "settings_schema"]

SCHEMA_ID: Final = "https://mailproviders.invalid/schemas/email-providers.schema.json"
_REF: Final = "#/$defs/{model}"
# OPTIONS of these backends may be omitted; SMTP and file need theirs (host, file_path).
_OPTIONS_OPTIONAL: Final = frozenset({"console", "locmem", "dummy"})


def _names_of(path: str) -> list[str]:
    return [name for name, target in BUILTIN_BACKENDS.items() if target == path] + [path]


def _builtin_provider(path: str, options: type[BuiltinOptions]) -> dict[str, Any]:
    names = _names_of(path)
    required = [] if names[0] == "smtp" else ["BACKEND"]
    if names[0] not in _OPTIONS_OPTIONAL:
        required.append("OPTIONS")
    return {
        "type": "object",
        "title": f"{names[0]} provider",
        "properties": {
            "BACKEND": {"enum": names},
            "OPTIONS": {"$ref": _REF.format(model=options.__name__)},
            "DEFAULTS": {"$ref": _REF.format(model="ProviderDefaults")},
        },
        "required": required,
        "additionalProperties": False,
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
        },
        "required": ["BACKEND"],
        "additionalProperties": False,
    }


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
    from mailproviders.settings import MailSettings

    models = sorted(set(OPTIONS_MODELS.values()), key=lambda model: model.__name__)
    pairs = [(model, "validation") for model in [*models, ProviderDefaults, MailSettings]]
    _, top = models_json_schema(pairs, ref_template=_REF)  # type: ignore[arg-type]
    defs: dict[str, Any] = top["$defs"]
    root = defs.pop("MailSettings")
    defs.pop("ProviderConfig", None)
    variants = [{"$ref": "#/$defs/ProviderDSN"}]
    for path, options in OPTIONS_MODELS.items():
        name = f"{_names_of(path)[0].capitalize()}Provider"
        defs[name] = _builtin_provider(path, options)
        variants.append({"$ref": _REF.format(model=name)})
    defs["CustomProvider"] = _custom_provider()
    defs["ProviderDSN"] = _dsn()
    defs["Provider"] = {"anyOf": [*variants, {"$ref": "#/$defs/CustomProvider"}]}
    root["properties"]["EMAIL_PROVIDERS"] = {
        "anyOf": [
            {"type": "object", "additionalProperties": {"$ref": "#/$defs/Provider"}},
            {"type": "null"},
        ],
        "default": None,
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
