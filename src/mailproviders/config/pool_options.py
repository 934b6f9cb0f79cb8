"""The ``pool`` option of the SMTP backend: which connections are kept open between sends.

:class:`SMTPPoolOptions` is the validated form (also in the JSON Schema); :data:`PoolOption`
the annotation of the SMTP options model, which also takes the forms the environment and
DSNs give: ``true``/``false`` (a pool with the defaults, or none) and a JSON object. The
pool itself is :mod:`mailproviders.backends.smtp.pool`; see docs/pooling.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any, Final, TypedDict

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from mailproviders.config.values import load_json

__all__ = [
    "PoolOption",
    "SMTPPoolOptions",
    "SMTPPoolOptionsDict",
    "pool_input",
    "pool_settings",
]

_TRUE: Final = frozenset({"true", "1", "yes", "on"})
_FALSE: Final = frozenset({"false", "0", "no", "off", ""})


class SMTPPoolOptions(BaseModel):
    """The ``pool`` option of the SMTP backend: connections kept open between sends and
    shared by every thread (and, per event loop, every task) of the process."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    size: int = Field(
        4,
        ge=1,
        description="Connections open at most (per event loop on the async side); a send "
        "waits up to the backend's timeout for one to be free.",
    )
    max_idle: float = Field(
        30.0,
        gt=0,
        description="Seconds a connection may stay unused; an older one is closed (QUIT) "
        "instead of reused.",
    )
    probe_after: float = Field(
        5.0,
        ge=0,
        description="Seconds unused after which a connection is checked with NOOP before "
        "reuse (0: before every reuse).",
    )
    max_messages: int | None = Field(
        100,
        ge=1,
        description="Messages a connection sends before it is replaced (null: no limit).",
    )

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            known = list(cls.model_fields)
            for key in data:
                if key not in known:
                    import difflib

                    close = difflib.get_close_matches(str(key), known, n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    raise ValueError(
                        f"unknown pool key {key!r}{hint}; expected one of: {', '.join(known)}"
                    )
        return data

    def __str__(self) -> str:
        # How `mailproviders check` shows it: the JSON it could be written as.
        return json.dumps(self.model_dump(), separators=(",", ":"))


class SMTPPoolOptionsDict(TypedDict, total=False):
    """The ``pool`` option of the SMTP backend as a dict (``mailproviders.typing``)."""

    size: int
    max_idle: float
    probe_after: float
    max_messages: int | None


_EXPECTED: Final = (
    'expected a mapping such as {"size": 4}, true (a pool with the defaults), false, '
    "or that mapping as JSON"
)


def pool_input(value: Any, info: ValidationInfo) -> Any:
    """Decode the forms of ``pool`` (``True``/``False``, the strings of env values and DSN
    queries, JSON) into a mapping or ``None``; raises ``ValueError`` for anything else, or
    when ``max_connections`` > 1 is set too (``info.data``: the options validated so far)."""
    return _decoded(value, info.data.get("max_connections", 1))


def pool_settings(value: Any, *, max_connections: object = 1) -> SMTPPoolOptions | None:
    """The validated ``pool`` of a backend built directly (any form :func:`pool_input`
    takes); raises ``ValueError`` with a message naming the key at fault."""
    decoded = _decoded(value, max_connections)
    if decoded is None or isinstance(decoded, SMTPPoolOptions):
        return decoded
    try:
        return SMTPPoolOptions.model_validate(decoded)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        text = str(error.get("ctx", {}).get("error", error["msg"]))
        raise ValueError(f"{where}: {text}" if where else text) from None


def _decoded(value: Any, max_connections: object) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            try:
                value = load_json(text)
            except ValueError as exc:
                raise ValueError(f"{_EXPECTED}; the JSON cannot be read ({exc})") from None
        elif text.lower() in _TRUE | _FALSE:
            value = text.lower() in _TRUE
        else:
            raise ValueError(f"{_EXPECTED}; got a string")
    if value is True:
        value = {}
    elif value is False:
        value = None
    if value is not None and not isinstance(value, Mapping | SMTPPoolOptions):
        raise ValueError(f"{_EXPECTED}; got {type(value).__name__}")
    if value is not None and isinstance(max_connections, int) and max_connections > 1:
        raise ValueError(
            "pool and max_connections > 1 exclude each other: a pool shares connections "
            "between send calls, max_connections spreads one call over its own connections; "
            "set only one of them (docs/pooling.md)"
        )
    return value


def _boolean_too(schema: dict[str, Any]) -> None:
    # true/false are accepted (turned into {} / None before validation): say so.
    schema["anyOf"].insert(1, {"type": "boolean"})


#: The annotation of the SMTP options model's ``pool`` (declared after ``max_connections``).
PoolOption = Annotated[
    SMTPPoolOptions | None,
    BeforeValidator(pool_input),
    Field(
        description="Keep connections open between sends, shared process-wide; true: the "
        "defaults (docs/pooling.md).",
        json_schema_extra=_boolean_too,
    ),
]
