"""Small value helpers shared by the configuration modules: lists from environment
strings, and how secrets are masked wherever a value is shown."""

from __future__ import annotations

import json
import re
from typing import Any, Final

from pydantic import SecretStr

__all__ = [
    "MASK",
    "MASKED_REPR",
    "SECRET_NAMES",
    "decode_list",
    "is_secret",
    "load_json",
    "looks_like_dsn",
    "mask_dsn",
    "shown",
]

#: What is shown instead of a secret value (CLI output, warnings, migration output).
MASK: Final = "********"
#: A secret where a ``repr()`` of the value would stand (error messages, backend repr).
MASKED_REPR: Final = "'**********'"
#: Option and setting names that are secret whatever their type.
SECRET_NAMES: Final = frozenset({"password", "EMAIL_HOST_PASSWORD"})

SCHEME_RE: Final = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_QUERY_SECRET_RE: Final = re.compile(r"(?i)((?:password|broker_url)=)[^&#]*")
#: Deepest nesting of JSON accepted in configuration (a provider needs about five levels).
MAX_JSON_DEPTH: Final = 32
_JSON_STRING_RE: Final = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_JSON_BRACKETS_RE: Final = re.compile(r"[\[\]{}]")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            # The key is a name (an alias or option); its values are never shown.
            raise ValueError(f"duplicate key {key!r} in JSON")
        seen[key] = value
    return seen


def load_json(text: str) -> Any:
    """Parse configuration JSON: like ``json.loads``, but a key given twice in one object
    and nesting deeper than :data:`MAX_JSON_DEPTH` are errors.

    Raises ``ValueError`` (never ``RecursionError``) with a message that shows no value.
    """
    depth = deepest = 0
    # Brackets inside strings do not nest: strings are removed first (a linear scan).
    for bracket in _JSON_BRACKETS_RE.findall(_JSON_STRING_RE.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > deepest:
            deepest = depth
            if deepest > MAX_JSON_DEPTH:
                raise ValueError(f"JSON nested more than {MAX_JSON_DEPTH} levels deep")
    return json.loads(text, object_pairs_hook=_no_duplicates)


def is_secret(name: str, value: object) -> bool:
    """Whether option ``name`` holding ``value`` must be masked when shown."""
    return name in SECRET_NAMES or isinstance(value, SecretStr)


def shown(name: str, value: object) -> object:
    """``value`` as it may be shown: :data:`MASK` for a secret that is set."""
    return MASK if value is not None and is_secret(name, value) else value


def decode_list(value: Any, *, what: str, split: bool = True, keep_empty: bool = False) -> Any:
    """A list given as a string (from the environment or a DSN) decoded; others unchanged.

    A string starting with ``[`` is JSON; otherwise, with ``split``, items separated by
    commas (stripped; empty ones dropped unless ``keep_empty``, so validation can report
    them), else the string is one item. Raises ``ValueError`` naming ``what`` for bad JSON.
    """
    if not isinstance(value, str):
        return value
    if value.lstrip().startswith("["):
        try:
            return load_json(value)
        except ValueError as exc:
            raise ValueError(f"expected a JSON list of {what} ({exc})") from None
    if not split:
        return [value]
    parts = [part.strip() for part in value.split(",")]
    return parts if keep_empty else [part for part in parts if part]


def looks_like_dsn(value: str) -> bool:
    """Whether ``value`` has the ``scheme://`` shape of a DSN (known scheme or not)."""
    return SCHEME_RE.match(value.strip()) is not None


def mask_dsn(dsn: str) -> str:
    """Return ``dsn`` with its password (userinfo and ``password=`` query) replaced by ``***``.

    Works on malformed input too, erring on the side of masking too much.
    """
    match = SCHEME_RE.match(dsn)
    head, rest = (dsn[: match.end()], dsn[match.end() :]) if match else ("", dsn)
    userinfo, at, hostpart = rest.rpartition("@")
    if at and "+api" in head.lower():
        rest = "***@" + hostpart  # an API DSN carries its key(s) in the whole user part
    elif at and ":" in userinfo:
        rest = userinfo.split(":", 1)[0] + ":***@" + hostpart
    return head + _QUERY_SECRET_RE.sub(r"\1***", rest)
