"""Built-in backend names and the typed OPTIONS models of the built-in backends.

The models describe what each built-in backend's ``__init__`` accepts, so OPTIONS are
checked when the configuration is loaded (and the JSON Schema is generated from them)
without importing the backend modules.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Final

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    WithJsonSchema,
)

from mailproviders._dsn import mask_dsn
from mailproviders.exceptions import InvalidEmailProvider

if TYPE_CHECKING:
    from mailproviders.backends.base import BaseEmailBackend

__all__ = [
    "BUILTIN_BACKENDS",
    "COMPOSITE_BACKENDS",
    "OPTIONS_MODELS",
    "BuiltinOptions",
    "CompositeOptions",
    "ConsoleOptions",
    "FileOptions",
    "NoOptions",
    "SMTPOptions",
    "backend_path",
    "import_backend",
]

_PREFIX: Final = "mailproviders.backends."

#: Short backend name → dotted path of the backend class.
BUILTIN_BACKENDS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "smtp": _PREFIX + "smtp.EmailBackend",
        "console": _PREFIX + "console.EmailBackend",
        "filebased": _PREFIX + "filebased.EmailBackend",
        "file": _PREFIX + "filebased.EmailBackend",
        "locmem": _PREFIX + "locmem.EmailBackend",
        "dummy": _PREFIX + "dummy.EmailBackend",
        "failover": _PREFIX + "failover.EmailBackend",
        "roundrobin": _PREFIX + "roundrobin.EmailBackend",
    }
)

#: Dotted paths of the built-in backends that send through other providers (``using``).
COMPOSITE_BACKENDS: Final = frozenset(
    {BUILTIN_BACKENDS["failover"], BUILTIN_BACKENDS["roundrobin"]}
)

_DOTTED_RE: Final = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")


def backend_path(value: object) -> str:
    """Normalise a BACKEND value (short name, dotted path or class) to a dotted path.

    Raises ``ValueError`` with a message saying what is expected (no alias: the caller
    knows where the value came from).
    """
    if isinstance(value, type):
        path = f"{value.__module__}.{value.__qualname__}"
        # Classes given in code are remembered: a class defined in a function has no
        # importable path.
        _given_classes[path] = value
        return path
    if isinstance(value, str):
        name = value.strip()
        if name in BUILTIN_BACKENDS:
            return BUILTIN_BACKENDS[name]
        if _DOTTED_RE.match(name):
            return name
    short = ", ".join(BUILTIN_BACKENDS)
    shown = repr(mask_dsn(value)) if isinstance(value, str) else type(value).__name__
    raise ValueError(
        f"expected a built-in backend name ({short}) or the dotted path of a backend "
        f"class, got {shown}"
    )


_given_classes: dict[str, type] = {}


@functools.cache
def _import_class(path: str) -> object:
    module_name, _, name = path.rpartition(".")
    module = importlib.import_module(module_name)
    return getattr(module, name)


def import_backend(path: str, alias: str | None) -> type[BaseEmailBackend]:
    """Import the backend class at dotted ``path`` (short names accepted); cached per path.

    Raises :class:`InvalidEmailProvider` (``alias``, option ``BACKEND``) naming the path
    when it cannot be imported or is not a ``BaseEmailBackend`` subclass.
    """
    from mailproviders.backends.base import BaseEmailBackend

    dotted = BUILTIN_BACKENDS.get(path, path)
    try:
        found = _given_classes.get(dotted) or _import_class(dotted)
    except (ImportError, AttributeError, ValueError) as exc:
        raise InvalidEmailProvider(
            f"cannot import backend {dotted!r}: {type(exc).__name__}: {exc}",
            alias=alias,
            option="BACKEND",
        ) from exc
    if not (isinstance(found, type) and issubclass(found, BaseEmailBackend)):
        raise InvalidEmailProvider(
            f"{dotted!r} is not a subclass of mailproviders.backends.base.BaseEmailBackend",
            alias=alias,
            option="BACKEND",
        )
    return found


def _fspath(value: Any) -> Any:
    return os.fspath(value) if isinstance(value, os.PathLike) else value


def _readable_file(value: str) -> str:
    path = Path(value)
    if not path.is_file():
        raise ValueError(f"expected an existing readable file, got {value!r} (no such file)")
    if not os.access(path, os.R_OK):
        raise ValueError(f"expected an existing readable file, got {value!r} (not readable)")
    return value


def _directory_path(value: str) -> str:
    if not value:
        raise ValueError("expected a directory path, got ''")
    if Path(value).exists() and not Path(value).is_dir():
        raise ValueError(f"expected a directory (created if missing), got {value!r}: a file")
    return value


def _stream(value: Any) -> Any:
    if isinstance(value, str):
        if value in ("stdout", "stderr"):
            return value
    elif callable(getattr(value, "write", None)):
        return value
    raise ValueError(f"expected 'stdout', 'stderr' or a text stream, got {value!r}")


ReadableFile = Annotated[str, BeforeValidator(_fspath), AfterValidator(_readable_file)]
DirectoryPath = Annotated[str, BeforeValidator(_fspath), AfterValidator(_directory_path)]
StreamOption = Annotated[
    Any,
    BeforeValidator(_stream),
    WithJsonSchema({"enum": ["stdout", "stderr"], "description": "stdout or stderr"}),
]


class BuiltinOptions(BaseModel):
    """Base of the built-in backends' OPTIONS models (unknown keys are errors)."""

    # defer_build: a model is built when first used, so a process pays only for the
    # backends it configures.
    model_config = ConfigDict(
        extra="forbid", frozen=True, hide_input_in_errors=True, defer_build=True
    )

    #: option → what is expected, used in error messages.
    EXPECTED: ClassVar[dict[str, str]] = {"fail_silently": "a boolean (true/false)"}

    fail_silently: bool = Field(
        False, description="Legacy: silence errors in the backend (prefer the send call's)."
    )

    def problems(self) -> list[tuple[str, str]]:
        """Problems spanning several options, as ``(option, message)`` pairs."""
        return []


class SMTPOptions(BuiltinOptions):
    """OPTIONS of ``mailproviders.backends.smtp.EmailBackend``."""

    EXPECTED: ClassVar[dict[str, str]] = {
        **BuiltinOptions.EXPECTED,
        "host": "a non-empty host name",
        "port": "an integer 1–65535",  # noqa: RUF001
        "username": "a string",
        "password": "a string",
        "use_tls": "a boolean (true/false)",
        "use_ssl": "a boolean (true/false)",
        "timeout": "a number of seconds > 0",
    }

    host: str = Field(min_length=1, description="SMTP server host name (required).")
    port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="Port; default 465 with use_ssl, 587 with use_tls, else 25.",
    )
    username: str | None = Field(None, description="Login user; login only with a password too.")
    password: SecretStr | None = Field(None, description="Login password (secret).")
    use_tls: bool = Field(False, description="Require STARTTLS (mutually exclusive with use_ssl).")
    use_ssl: bool = Field(False, description="Implicit TLS (mutually exclusive with use_tls).")
    timeout: float = Field(30.0, gt=0, description="Socket timeout in seconds.")
    ssl_certfile: ReadableFile | None = Field(None, description="Client certificate (PEM file).")
    ssl_keyfile: ReadableFile | None = Field(None, description="Client certificate key.")
    ssl_cafile: ReadableFile | None = Field(None, description="CA bundle to verify the server.")

    model_config = ConfigDict(
        json_schema_extra={
            "not": {
                "required": ["use_tls", "use_ssl"],
                "properties": {"use_tls": {"const": True}, "use_ssl": {"const": True}},
            }
        }
    )

    def problems(self) -> list[tuple[str, str]]:
        """``use_tls`` and ``use_ssl`` exclude each other."""
        if self.use_tls and self.use_ssl:
            return [
                (
                    "use_ssl",
                    "use_tls (STARTTLS) and use_ssl (implicit TLS) are mutually exclusive; "
                    "set only one of them",
                )
            ]
        return []


class ConsoleOptions(BuiltinOptions):
    """OPTIONS of ``mailproviders.backends.console.EmailBackend``."""

    stream: StreamOption = Field(None, description="'stdout' (default) or 'stderr'.")


class FileOptions(BuiltinOptions):
    """OPTIONS of ``mailproviders.backends.filebased.EmailBackend``."""

    EXPECTED: ClassVar[dict[str, str]] = {
        **BuiltinOptions.EXPECTED,
        "file_path": "a directory path",
    }

    file_path: DirectoryPath = Field(description="Directory for the files (created if missing).")


def _alias_list(value: Any) -> Any:
    # From the environment or a DSN: a JSON list, or aliases separated by commas.
    if isinstance(value, str):
        if value.lstrip().startswith("["):
            try:
                return json.loads(value)
            except ValueError:
                raise ValueError("expected a JSON list of provider aliases") from None
        return [part.strip() for part in value.split(",")]
    return value


def _distinct(aliases: list[str]) -> list[str]:
    twice = sorted({alias for alias in aliases if aliases.count(alias) > 1})
    if twice:
        raise ValueError(f"alias {twice[0]!r} is listed more than once")
    return aliases


AliasList = Annotated[
    list[Annotated[str, Field(min_length=1, strict=True)]],
    BeforeValidator(_alias_list),
    Field(min_length=1),
    AfterValidator(_distinct),
]


class CompositeOptions(BuiltinOptions):
    """OPTIONS of the ``failover`` and ``roundrobin`` backends.

    ``using`` lists other aliases of ``EMAIL_PROVIDERS``; that they exist and form no
    cycle is checked across providers when the configuration is loaded.
    """

    EXPECTED: ClassVar[dict[str, str]] = {
        **BuiltinOptions.EXPECTED,
        "using": "a non-empty list of provider aliases",
    }

    using: AliasList = Field(
        description="Aliases of the providers to send through, in order (required).",
        json_schema_extra={"uniqueItems": True},
    )


class NoOptions(BuiltinOptions):
    """OPTIONS of the locmem and dummy backends: only the legacy ``fail_silently``."""


#: Dotted path of a built-in backend → its OPTIONS model.
OPTIONS_MODELS: Final[Mapping[str, type[BuiltinOptions]]] = MappingProxyType(
    {
        BUILTIN_BACKENDS["smtp"]: SMTPOptions,
        BUILTIN_BACKENDS["console"]: ConsoleOptions,
        BUILTIN_BACKENDS["file"]: FileOptions,
        BUILTIN_BACKENDS["locmem"]: NoOptions,
        BUILTIN_BACKENDS["dummy"]: NoOptions,
        BUILTIN_BACKENDS["failover"]: CompositeOptions,
        BUILTIN_BACKENDS["roundrobin"]: CompositeOptions,
    }
)
