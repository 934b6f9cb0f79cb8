"""Validation of a provider's OPTIONS against its backend, with secret-safe error messages.

Built-in backends use the hand-written models of :mod:`mailproviders.config.options`; a custom
backend gets a model derived from the annotations of its ``__init__``: an un-annotated
parameter accepts anything, ``**kwargs`` accepts unknown keys.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, Final, cast

from pydantic import BaseModel, ConfigDict, SecretStr, TypeAdapter, ValidationError, create_model
from pydantic_core import ErrorDetails

from mailproviders.config.graph import cycles
from mailproviders.config.options import BuiltinOptions
from mailproviders.config.secretfiles import FILE_SUFFIX, with_secret_files
from mailproviders.config.values import MASKED_REPR, SECRET_NAMES, looks_like_dsn, mask_dsn
from mailproviders.exceptions import ConfigProblem, InvalidEmailProvider
from mailproviders.registry import builtin, import_backend

__all__ = [
    "backend_kwargs",
    "composite_problems",
    "describe_value",
    "problems_from_error",
    "public_options",
    "validate_options",
]

#: Keys a backend receives from the handler, never from OPTIONS.
RESERVED_OPTIONS: Final = frozenset({"alias"})


def describe_value(value: object, *, secret: bool) -> str:
    """``repr(value)`` shortened to one line, or a mask for a secret; a DSN-shaped string
    is shown with its password masked."""
    if secret:
        return MASKED_REPR
    if isinstance(value, str) and looks_like_dsn(value):
        value = mask_dsn(value)  # a DSN given where it does not belong keeps its password
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _mentions(annotation: object, targets: tuple[object, ...]) -> bool:
    if any(annotation is target for target in targets):
        return True
    return any(_mentions(arg, targets) for arg in typing.get_args(annotation))


#: An option every built-in accepts that is deprecated (listed last in hints).
_DEPRECATED: Final = "fail_silently"

# Streams are duck-typed (io.StringIO is no typing.TextIO subclass): not checked.
_UNCHECKED: Final = (typing.IO, typing.TextIO, typing.BinaryIO)


def _unknown(name: str | None, known: list[str]) -> str:
    """ "unknown option", with the closest valid name when it looks like a typo."""
    import difflib  # only on this error path: it is not worth its import at start-up

    close = difflib.get_close_matches(name or "", known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    # The legacy backend-level flag goes last: it is not what anyone should reach for.
    listed = [key for key in known if key != _DEPRECATED] + [
        f"{key} (deprecated)" for key in known if key == _DEPRECATED
    ]
    expected = f"; expected one of: {', '.join(listed)}" if listed else ""
    return f"unknown option {name!r}{hint}{expected}"


def _message(
    error: ErrorDetails, expected: str | None, secret: bool, known: list[str], name: str | None
) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required, not given"
    if kind == "extra_forbidden":
        return _unknown(name, known)
    if kind == "value_error":
        # Our own validators phrase the whole message (and never see secrets).
        return str(error.get("ctx", {}).get("error", error["msg"]))
    given = describe_value(error.get("input"), secret=secret)
    if expected is None:
        text = error["msg"]
        if text.startswith("Input should be "):
            return f"expected {text.removeprefix('Input should be ')}, got {given}"
        return f"{text[0].lower()}{text[1:]}, got {given}"
    return f"expected {expected}, got {given}"


def problems_from_error(
    exc: ValidationError,
    *,
    alias: str | None,
    prefix: str = "",
    secrets: Iterable[str] = (),
    expected: Mapping[str, str] | None = None,
    known: Iterable[str] = (),
) -> list[ConfigProblem]:
    """Turn a pydantic ``ValidationError`` into :class:`ConfigProblem` s.

    ``prefix`` is prepended to the option path (e.g. ``"DEFAULTS."``); values of options
    named in ``secrets`` or :data:`SECRET_NAMES` are masked; ``known`` lists the valid
    names for an "unknown option" message.
    """
    known_names = list(known)
    secret_names = SECRET_NAMES | set(secrets)
    problems = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        name = loc[0] if loc else None
        option = prefix + ".".join(loc) if loc else (prefix.rstrip(".") or None)
        hint = (expected or {}).get(name or "")
        problems.append(
            ConfigProblem(
                alias, option, _message(error, hint, name in secret_names, known_names, name)
            )
        )
    return problems


def _annotation_accepts(annotation: Any) -> bool:
    try:
        TypeAdapter(annotation, config=ConfigDict(arbitrary_types_allowed=True))
    except Exception:  # any schema-generation failure: fall back to "accept anything"
        return False
    return True


@functools.cache
def custom_options_model(backend: type) -> tuple[type[BaseModel], frozenset[str]]:
    """The OPTIONS model derived from ``backend.__init__`` and its SecretStr options."""
    signature = inspect.signature(backend)
    try:
        hints = typing.get_type_hints(cast(Any, backend).__init__)
    except Exception:  # unresolvable forward references: treat those options as Any
        hints = {}
    fields: dict[str, Any] = {}
    extra = "forbid"
    for name, param in signature.parameters.items():
        if param.kind is param.VAR_KEYWORD:
            extra = "allow"
        if param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL) or name in RESERVED_OPTIONS:
            continue
        annotation = hints.get(name, Any)
        if _mentions(annotation, _UNCHECKED) or not _annotation_accepts(annotation):
            annotation = Any
        default = ... if param.default is param.empty else param.default
        fields[name] = (annotation, default)
    config = ConfigDict(extra=extra, arbitrary_types_allowed=True, hide_input_in_errors=True)  # type: ignore[typeddict-item]
    model = create_model(f"{backend.__name__}Options", __config__=config, **fields)
    secrets = frozenset(name for name in fields if _mentions(hints.get(name), (SecretStr,)))
    return model, secrets


def _model_for(path: str, alias: str) -> tuple[type[BaseModel], frozenset[str]] | None:
    row = builtin(path)
    if row is not None:
        return row.options, frozenset()
    try:
        backend = import_backend(path, alias)
    except InvalidEmailProvider:
        return None  # reported when the alias is first used, as the SPEC asks
    return custom_options_model(backend)


def validate_options(alias: str, path: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """Validate ``options`` for the backend at ``path``; return the typed values given.

    Only the options given are returned (defaults stay the backend's), secrets as
    ``SecretStr``. A custom backend that cannot be imported is not checked here.

    Raises :class:`InvalidEmailProvider` listing every problem, naming ``alias``.
    """
    problems = [
        ConfigProblem(alias, key, "reserved (the provider's name is passed as alias); remove it")
        for key in options
        if key in RESERVED_OPTIONS
    ]
    options = {key: value for key, value in options.items() if key not in RESERVED_OPTIONS}
    found = _model_for(path, alias)
    options, unread = with_secret_files(alias, options, _secret_fields(found))
    problems += unread
    if found is None:
        values = dict(options)
    else:
        model, secrets = found
        expected = getattr(model, "EXPECTED", None)
        try:
            instance = model.model_validate(options)
        except ValidationError as exc:
            problems += [  # a secret whose file could not be read is not "missing" too
                problem
                for problem in problems_from_error(
                    exc, alias=alias, secrets=secrets, expected=expected, known=model.model_fields
                )
                if f"{problem.option}{FILE_SUFFIX}" not in {p.option for p in unread}
            ]
            instance = None
        if instance is not None:
            if isinstance(instance, BuiltinOptions):
                problems += [ConfigProblem(alias, *pair) for pair in instance.problems()]
            values = {key: getattr(instance, key) for key in options}
    if problems:
        raise InvalidEmailProvider(errors=problems)
    for key in SECRET_NAMES & set(values):
        if isinstance(values[key], str):
            values[key] = SecretStr(values[key])
    return values


def _secret_fields(found: tuple[type[BaseModel], frozenset[str]] | None) -> frozenset[str]:
    """Options that may be given as ``<name>_file``: the secret ones of the model."""
    if found is None:
        return SECRET_NAMES
    model, secrets = found
    return frozenset(
        name
        for name, field in model.model_fields.items()
        if (name in SECRET_NAMES | secrets or _mentions(field.annotation, (SecretStr,)))
        and f"{name}{FILE_SUFFIX}" not in model.model_fields
    )


def public_options(path: str, alias: str | None) -> frozenset[str]:
    """The options of the backend at ``path`` whose values may be shown (``check``).

    Those its options model marks as not secret: for a built-in, every option not typed
    ``SecretStr``; for a custom backend, the ``__init__`` parameters annotated with a type
    that is not ``SecretStr`` (an un-annotated one, or one taken by ``**kwargs``, may hold
    anything, and is masked). Raises :class:`InvalidEmailProvider` (``alias``, option
    ``BACKEND``) when a custom backend cannot be imported.
    """
    row = builtin(path)
    if row is not None:
        model: type[BaseModel] = row.options
        secrets: frozenset[str] = frozenset()
    else:
        model, secrets = custom_options_model(import_backend(path, alias))
    return frozenset(
        name
        for name, field in model.model_fields.items()
        if name not in secrets
        and name not in SECRET_NAMES
        and (row is not None or field.annotation is not Any)
        and not _mentions(field.annotation, (SecretStr,))
    )


def composite_problems(
    graph: Mapping[str, Sequence[str]], configured: Collection[str]
) -> list[ConfigProblem]:
    """Problems of composite providers: ``graph`` maps each one's alias to its ``using``.

    Every alias in ``using`` must be in ``configured``; a provider must not reach itself,
    directly (listing itself) or through other composite providers (a cycle). Linear in
    the size of ``graph``.
    """
    problems: list[ConfigProblem] = []
    names = set(configured)
    known = ", ".join(repr(name) for name in sorted(names))
    looping = cycles(graph)
    for alias, using in graph.items():
        problems += [
            ConfigProblem(
                alias, "using", f"no provider named {name!r}; configured aliases: {known}"
            )
            for name in using
            if name not in names
        ]
        cycle = looping.get(alias)
        if cycle == "":
            problems.append(ConfigProblem(alias, "using", "a provider cannot list itself"))
        elif cycle is not None:
            problems.append(ConfigProblem(alias, "using", f"cycle of providers: {cycle}"))
    return problems


def backend_kwargs(path: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments a backend is built with: ``options`` with secrets unwrapped.

    An option whose ``__init__`` parameter of a custom backend is annotated ``SecretStr``
    stays a ``SecretStr``.
    """
    keep: frozenset[str] = frozenset()
    if builtin(path) is None:
        keep = custom_options_model(import_backend(path, None))[1]
    return {
        key: value.get_secret_value()
        if isinstance(value, SecretStr) and key not in keep
        else value
        for key, value in options.items()
    }
