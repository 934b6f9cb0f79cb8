"""Secrets read from files: ``<option>_file`` OPTIONS keys and the settings' secrets directory.

Docker and Kubernetes mount secrets as files (``/run/secrets/<name>``); the convention
their users know is a key ending in ``_file`` that holds the path
(``"password_file": "/run/secrets/smtp_password"``, as in ``POSTGRES_PASSWORD_FILE``). Any
secret option of a backend (``password``, and any option typed ``SecretStr`` such as an
``api_key``) may be given that way. The file is read when the configuration is loaded,
as UTF-8, with one trailing line break removed; its content becomes a ``SecretStr`` and
is never shown. Top-level settings (``EMAIL_HOST_PASSWORD``, ``EMAIL_PROVIDERS``…) can
also come from files named after them in a directory named by the environment variable
``MAILPROVIDERS_SECRETS_DIR`` (the ``secrets_dir`` mechanism of pydantic-settings).
"""

from __future__ import annotations

import os
import stat
import typing
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, GetJsonSchemaHandler, SecretStr
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema
from pydantic_settings import BaseSettings, SecretsSettingsSource

from mailproviders.exceptions import ConfigProblem, ImproperlyConfigured

__all__ = [
    "FILE_SUFFIX",
    "MAX_SECRET_BYTES",
    "SECRETS_DIR_VARIABLE",
    "SecretsDirSource",
    "read_secret_file",
    "secret_file_schema",
    "secrets_dir",
    "with_secret_files",
]

#: An OPTIONS key ``<secret option>`` + this suffix holds the path of a file.
FILE_SUFFIX: Final = "_file"
#: Environment variable naming the directory of secret files for top-level settings.
SECRETS_DIR_VARIABLE: Final = "MAILPROVIDERS_SECRETS_DIR"
#: The largest secret file read (64 KiB: a password, an API key, a PEM key fit easily).
MAX_SECRET_BYTES: Final = 64 * 1024


def read_secret_file(value: Any) -> str:
    """The content of the file at path ``value`` (UTF-8, one trailing ``\\n`` or ``\\r\\n``
    removed). Raises ``ValueError`` with a message naming the path, never the content."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value:
        got = "an empty string" if value == "" else type(value).__name__
        raise ValueError(f"expected the path of a file, got {got}")
    try:
        data = _read_regular_file(value)
    except FileNotFoundError:
        raise ValueError(f"cannot read secret file {value!r}: no such file") from None
    except PermissionError:
        raise ValueError(f"cannot read secret file {value!r}: permission denied") from None
    except OSError as exc:
        raise ValueError(f"cannot read secret file {value!r}: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"secret file {value!r} is not UTF-8 text") from None
    if text.endswith("\n"):
        text = text[:-2] if text.endswith("\r\n") else text[:-1]
    if not text:
        raise ValueError(f"secret file {value!r} is empty")
    return text


def _read_regular_file(path: str) -> bytes:
    """The bytes of the regular file at ``path`` (symbolic links followed, as Kubernetes
    mounts them). A FIFO or device is never waited on or read (opened non-blocking, then
    refused); more than :data:`MAX_SECRET_BYTES` is refused. Raises ``ValueError`` for
    those (naming the path), ``OSError`` when the file cannot be opened."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    descriptor = os.open(path, flags)
    try:
        mode = os.fstat(descriptor).st_mode
        if stat.S_ISDIR(mode):
            raise ValueError(f"expected a file, {path!r} is a directory")
        if not stat.S_ISREG(mode):
            raise ValueError(f"expected a regular file, {path!r} is not one (a FIFO, device...)")
    except BaseException:
        os.close(descriptor)
        raise
    with os.fdopen(descriptor, "rb") as file:
        data = file.read(MAX_SECRET_BYTES + 1)
    if len(data) > MAX_SECRET_BYTES:
        raise ValueError(f"secret file {path!r} is larger than {MAX_SECRET_BYTES} bytes")
    return data


def with_secret_files(
    alias: str | None, options: Mapping[str, Any], secrets: Collection[str]
) -> tuple[dict[str, Any], list[ConfigProblem]]:
    """``options`` with each ``<name>_file`` key (``name`` one of ``secrets``) replaced by
    ``name`` and the content of that file; and the problems found, each naming ``alias``
    and the ``_file`` option: a file that cannot be read, or both keys given."""
    resolved: dict[str, Any] = {}
    problems: list[ConfigProblem] = []
    for key, value in options.items():
        name = key.removesuffix(FILE_SUFFIX)
        if name == key or name not in secrets:
            resolved[key] = value
        elif name in options:
            problems.append(ConfigProblem(alias, key, f"give either {name} or {key}, not both"))
        else:
            try:
                resolved[name] = read_secret_file(value)
            except ValueError as exc:
                problems.append(ConfigProblem(alias, key, str(exc)))
    return resolved, problems


def _is_secret(name: str, annotation: object) -> bool:
    if name == "password" or annotation is SecretStr:
        return True
    return any(_is_secret("", arg) for arg in typing.get_args(annotation))


def secret_file_schema(
    cls: type[BaseModel], core_schema: CoreSchema, handler: GetJsonSchemaHandler
) -> JsonSchemaValue:
    """The JSON Schema of an OPTIONS model with a ``<name>_file`` property beside each
    secret option ``name`` (one of the two, not both; a required secret needs either)."""
    schema = handler(core_schema)
    target = handler.resolve_ref_schema(schema)
    properties, required = target.get("properties", {}), target.get("required", [])
    for name, field in cls.model_fields.items():
        key = f"{name}{FILE_SUFFIX}"
        if not _is_secret(name, field.annotation) or key in cls.model_fields:
            continue
        properties[key] = {
            "type": "string",
            "minLength": 1,
            "description": f"Path of a file holding {name} (read when the configuration "
            "is loaded; one trailing newline removed).",
        }
        rule: dict[str, Any] = {"not": {"required": [name, key]}}
        if name in required:
            required.remove(name)
            rule = {"oneOf": [{"required": [name]}, {"required": [key]}]}
        target.setdefault("allOf", []).append(rule)
    return schema


def secrets_dir(env_file: str = ".env") -> str | None:
    """The directory named by :data:`SECRETS_DIR_VARIABLE`, if set (and not empty): in the
    environment, else in ``env_file`` (the ``.env`` file the settings read too).

    Raises :class:`ImproperlyConfigured` naming the variable when it is not a directory.
    """
    value = os.environ.get(SECRETS_DIR_VARIABLE) or _from_dotenv(env_file) or None
    if value is not None and not Path(value).is_dir():
        raise ImproperlyConfigured(
            f"expected a directory of secret files, {value!r} is not one",
            option=SECRETS_DIR_VARIABLE,
        )
    return value


def _from_dotenv(env_file: str) -> str | None:
    if not Path(env_file).is_file():
        return None
    from dotenv import dotenv_values  # a dependency of pydantic-settings

    return dotenv_values(env_file, encoding="utf-8").get(SECRETS_DIR_VARIABLE)


class SecretsDirSource(SecretsSettingsSource):
    """Settings from files named after them in ``secrets_dir`` (case-sensitive), skipping
    the settings in ``exclude`` (given in code). Lowest precedence: after ``.env``."""

    def __init__(
        self, settings_cls: type[BaseSettings], exclude: frozenset[str], directory: Any
    ) -> None:
        super().__init__(settings_cls, secrets_dir=directory)
        self.exclude = exclude

    def __call__(self) -> dict[str, Any]:
        return {key: v for key, v in super().__call__().items() if key not in self.exclude}
