"""The JSON Schema in schemas/ (generated from the models by scripts/generate_schema.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from jsonschema.exceptions import best_match

from mailproviders.config import json_schema

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schemas" / "email-providers.schema.json"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_checked_in_schema_is_current() -> None:
    from mailproviders.config.schema import render_schema

    assert SCHEMA_FILE.read_text(encoding="utf-8") == render_schema(), (
        "schemas/email-providers.schema.json is stale; run: python scripts/generate_schema.py"
    )
    assert json.loads(SCHEMA_FILE.read_text(encoding="utf-8")) == json_schema()


def test_accepts_a_good_configuration(validator: jsonschema.Draft202012Validator) -> None:
    config = {
        "EMAIL_PROVIDERS": {
            "default": {
                "BACKEND": "mailproviders.backends.smtp.EmailBackend",
                "OPTIONS": {"host": "smtp.example.com", "port": 587, "use_tls": True,
                            "username": "app", "password": "x", "timeout": 10},
                "DEFAULTS": {"from_email": "app@example.com", "headers": {"X-App": "1"}},
            },
            "short": {"BACKEND": "smtp", "OPTIONS": {"host": "h"}},
            "implicit": {"OPTIONS": {"host": "h", "use_ssl": True}},
            "dsn": "smtp+starttls://user:pass@smtp.example.com:587",
            "console": {"BACKEND": "console", "OPTIONS": {"stream": "stderr"}},
            "files": {"BACKEND": "file", "OPTIONS": {"file_path": "/var/mail"}},
            "tests": {"BACKEND": "locmem"},
            "null": "dummy://",
            "custom": {"BACKEND": "myapp.mail.ApiBackend", "OPTIONS": {"api_key": "k"}},
        },
        "DEFAULT_FROM_EMAIL": "app@example.com",
        "ADMINS": ["ops@example.com"],
        "EMAIL_USE_LOCALTIME": True,
    }  # fmt: skip
    assert list(validator.iter_errors(config)) == []


@pytest.mark.parametrize(
    "provider",
    [
        {
            "BACKEND": "mailproviders.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "h", "port": "587"},
        },
        {"BACKEND": "smtp", "OPTIONS": {"host": "h", "port": 70000}},
        {"BACKEND": "smtp", "OPTIONS": {"host": "h", "timeout": 0}},
        {"BACKEND": "smtp", "OPTIONS": {"host": "h", "use_tls": True, "use_ssl": True}},
        {"BACKEND": "smtp", "OPTIONS": {"port": 25}},
        {"BACKEND": "smtp", "OPTIONS": {"host": "h", "hots": "typo"}},
        {"BACKEND": "console", "OPTIONS": {"stream": "stdlog"}},
        {"BACKEND": "file"},
        {"BACKEND": "locmem", "OPTIONS": {"x": 1}},
        {"BACKEND": "console", "DEFAULTS": {"subject": "x"}},
        {"BACKEND": "console", "options": {}},
        {"BACKEND": "myapp.Backend", "OPTIONS": {"alias": "x"}},
        {"BACKEND": "not a path"},
        "ftp://host",
        42,
    ],
)
def test_rejects_a_bad_provider(validator: jsonschema.Draft202012Validator, provider: Any) -> None:
    assert not validator.is_valid({"EMAIL_PROVIDERS": {"default": provider}})


def test_rejects_bad_top_level_settings(validator: jsonschema.Draft202012Validator) -> None:
    assert not validator.is_valid({"ADMINS": "ops@example.com"})
    assert not validator.is_valid({"EMAIL_PORT": 0})


@pytest.mark.parametrize(
    ("provider", "path", "fragment"),
    [
        ({"BACKEND": "smtp", "OPTIONS": {"host": "h", "port": "587"}}, ["OPTIONS", "port"], ""),
        ({"BACKEND": "smtp", "OPTIONS": {"host": "h", "hots": "x"}}, ["OPTIONS"], "'hots'"),
        ({"OPTIONS": {"port": 25}}, ["OPTIONS"], "'host' is a required property"),
        ({"BACKEND": "console", "OPTIONS": {"stream": "x"}}, ["OPTIONS", "stream"], "'x'"),
        ({"BACKEND": "file"}, [], "'OPTIONS' is a required property"),
        ({"BACKEND": "failover", "OPTIONS": {"using": []}}, ["OPTIONS", "using"], ""),
        ({"BACKEND": "console", "options": {}}, [], "'options' was unexpected"),
        ({"BACKEND": "not a path"}, ["BACKEND"], "does not match"),
        ({"BACKEND": "myapp.Backend", "OPTIONS": {"alias": "x"}}, ["OPTIONS"], "alias"),
        ("ftp://host", [], "does not match"),
    ],
)
def test_best_match_names_the_bad_field(
    validator: jsonschema.Draft202012Validator, provider: Any, path: list[str], fragment: str
) -> None:
    # What editors and `check-jsonschema` show first: the field at fault, not "is not
    # of type 'null'" or "is not valid under any of the given schemas" for the provider.
    error = best_match(validator.iter_errors({"EMAIL_PROVIDERS": {"default": provider}}))
    assert error is not None
    assert list(error.absolute_path) == ["EMAIL_PROVIDERS", "default", *path]
    assert fragment in error.message
    assert "'null'" not in error.message


def test_email_providers_is_an_object_when_given(
    validator: jsonschema.Draft202012Validator,
) -> None:
    assert validator.is_valid({})  # leaving it out is how "not set" is written
    error = best_match(validator.iter_errors({"EMAIL_PROVIDERS": None}))
    assert error is not None and error.message == "None is not of type 'object'"
