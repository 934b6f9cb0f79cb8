"""Provider-level sending policies: ``RETRY``, ``RATE_LIMIT`` and ``REDIRECT``.

They sit next to ``BACKEND``/``OPTIONS``/``DEFAULTS`` in a provider of
``EMAIL_PROVIDERS`` and are applied by :mod:`mailproviders.delivery` around the
backend (backends never see them)::

    "RETRY": {"attempts": 3, "backoff": 1.0, "max_delay": 30}    # or just 3
    "RATE_LIMIT": "10/s"         # or "600/m", or {"messages": 600, "per": 60, "max_wait": 5}
    "REDIRECT": {"to": ["dev@example.com"], "allow": ["*@example.com"]}

Each also accepts the JSON text of its mapping (values from the environment).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final, Required, TypedDict

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from mailproviders.config.validate import problems_from_error
from mailproviders.config.values import decode_list, load_json
from mailproviders.exceptions import ConfigProblem

__all__ = [
    "POLICY_KEYS",
    "RateLimitDict",
    "RateLimitPolicy",
    "RedirectDict",
    "RedirectPolicy",
    "RetryDict",
    "RetryPolicy",
    "lift_policies",
    "validate_policies",
]

_UNITS: Final = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1.0),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60.0),
    **dict.fromkeys(("h", "hour", "hours"), 3600.0),
}
_RATE_RE: Final = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)?\s*([a-z]+)\s*$", re.IGNORECASE)
_RATE_FORMS: Final = 'expected "N/s", "N/m", "N/h" (or "N/10s"...) or a mapping with messages/per'


class RetryDict(TypedDict, total=False):
    """``RETRY`` of a provider (or an ``int``: the number of attempts)."""

    attempts: int
    backoff: float
    max_delay: float


class RateLimitDict(TypedDict, total=False):
    """``RATE_LIMIT`` of a provider (or a string such as ``"10/s"``)."""

    messages: Required[int]
    per: float
    burst: int
    max_wait: float


class RedirectDict(TypedDict, total=False):
    """``REDIRECT`` of a provider: every recipient not matching ``allow`` goes to ``to``."""

    to: Required[list[str]]
    allow: list[str]


class _Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class RetryPolicy(_Policy):
    """Retry a message that was certainly not accepted (transient failure, nothing sent)."""

    attempts: int = Field(3, ge=1, le=100, description="Attempts in all, the first included.")
    backoff: float = Field(1.0, ge=0, le=3600, description="Delay before the first retry (s).")
    max_delay: float = Field(30.0, ge=0, le=3600, description="Cap of any one delay (s).")

    @model_validator(mode="before")
    @classmethod
    def _attempts_only(cls, data: Any) -> Any:
        if isinstance(data, int | str) and not isinstance(data, bool):
            return {"attempts": data}
        return data

    def delay(self, retry: int, random: float) -> float:
        """Seconds to wait before retry number ``retry`` (1, 2...): exponential backoff
        capped by ``max_delay``, with jitter (``random`` in [0, 1) picks a point in the
        upper half of it)."""
        ceiling: float = min(self.backoff * 2.0 ** (retry - 1), self.max_delay)
        return ceiling * (0.5 + random / 2)


class RateLimitPolicy(_Policy):
    """A token bucket: ``messages`` per ``per`` seconds, ``burst`` at once (default
    ``messages``); a send that would wait longer than ``max_wait`` seconds fails."""

    messages: int = Field(ge=1, description="Messages allowed per period.")
    per: float = Field(1.0, gt=0, le=86400, description="The period, in seconds.")
    burst: int | None = Field(None, ge=1, description="Messages sent at once (default: messages).")
    max_wait: float = Field(30.0, ge=0, le=3600, description="Longest wait for a token (s).")

    @model_validator(mode="before")
    @classmethod
    def _rate_string(cls, data: Any) -> Any:
        if not isinstance(data, str):
            return data
        match = _RATE_RE.match(data)
        unit = _UNITS.get(match[3].lower()) if match else None
        if match is None or unit is None:
            raise ValueError(f"{_RATE_FORMS}, got {data!r}")
        return {"messages": int(match[1]), "per": float(match[2] or 1) * unit}

    @property
    def rate(self) -> float:
        """Tokens per second."""
        return self.messages / self.per

    @property
    def capacity(self) -> int:
        """The size of the bucket."""
        return self.burst if self.burst is not None else self.messages

    def __str__(self) -> str:
        return f"{self.messages}/{self.per:g}s burst={self.capacity} max_wait={self.max_wait:g}s"


class RedirectPolicy(_Policy):
    """Send every recipient not matching one of ``allow`` (glob patterns, matched
    case-insensitively against the address) to the addresses ``to`` instead."""

    to: list[str] = Field(min_length=1, description="Where redirected mail goes.")
    allow: list[str] = Field(default_factory=list, description="Recipients kept (globs).")

    @model_validator(mode="before")
    @classmethod
    def _addresses_only(cls, data: Any) -> Any:
        return {"to": data} if isinstance(data, str | list) else data

    @field_validator("to", "allow", mode="before")
    @classmethod
    def _env_list(cls, value: Any) -> Any:
        return decode_list(value, what="addresses")

    @field_validator("to")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        from mailproviders.message.addresses import parse_mailbox  # loads the email parser

        for address in value:
            parse_mailbox(address, "REDIRECT.to")
        return value


#: Provider keys of this module, and their models.
POLICY_KEYS: Final[dict[str, type[_Policy]]] = {
    "RETRY": RetryPolicy,
    "RATE_LIMIT": RateLimitPolicy,
    "REDIRECT": RedirectPolicy,
}


def _decoded(key: str, value: Any) -> Any:
    """A JSON object given as text (environment) decoded; other values unchanged."""
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            return load_json(value)
        except json.JSONDecodeError:
            raise ValueError(
                f"expected a mapping (JSON) for {key}, got text that is not JSON"
            ) from None
    return value


def lift_policies(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    """``raw`` with the policy keys of a DSN query (``smtp://host?RETRY=3&RATE_LIMIT=10/s``,
    parsed into OPTIONS as text) moved up to the provider. Upper case: never an option."""
    options = raw.get("OPTIONS")
    if not isinstance(options, Mapping):
        return raw
    found = [k for k in POLICY_KEYS if isinstance(options.get(k), str) and raw.get(k) is None]
    if not found:
        return raw
    rest = {key: value for key, value in options.items() if key not in found}
    return {**raw, "OPTIONS": rest, **{key: options[key] for key in found}}


def validate_policies(
    alias: str | None, raw: Mapping[str, Any]
) -> tuple[dict[str, Any], list[ConfigProblem]]:
    """The validated policies among ``raw``'s keys (``None`` when not given), and the
    problems found, each naming ``alias`` and the key (``RATE_LIMIT.max_wait``...)."""
    fields: dict[str, Any] = dict.fromkeys(POLICY_KEYS)
    problems: list[ConfigProblem] = []
    for key, model in POLICY_KEYS.items():
        value = raw.get(key)
        if value is None:
            continue
        try:
            fields[key] = model.model_validate(_decoded(key, value))
        except ValidationError as exc:
            problems += problems_from_error(
                exc, alias=alias, prefix=f"{key}.", known=model.model_fields
            )
        except ValueError as exc:
            problems.append(ConfigProblem(alias, key, str(exc)))
    return fields, problems
