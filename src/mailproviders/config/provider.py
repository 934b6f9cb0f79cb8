"""One provider of ``EMAIL_PROVIDERS``: :class:`ProviderConfig` and its message defaults."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, model_validator

from mailproviders.config.dsn import parse_dsn
from mailproviders.config.policies import (
    POLICY_KEYS,
    RateLimitPolicy,
    RedirectPolicy,
    RetryPolicy,
    lift_policies,
    validate_policies,
)
from mailproviders.config.validate import backend_kwargs, problems_from_error, validate_options
from mailproviders.config.values import decode_list, load_json
from mailproviders.exceptions import ConfigProblem, InvalidEmailProvider
from mailproviders.registry import BUILTIN_BACKENDS, backend_path

__all__ = ["ProviderConfig", "ProviderDefaults", "provider_from"]

_KEYS: Final = ("BACKEND", "OPTIONS", "DEFAULTS", *POLICY_KEYS)


class ProviderDefaults(BaseModel):
    """Message defaults of one provider, applied at send time to what a message did not set.

    Keys: ``from_email``, ``reply_to`` (a list of addresses), ``headers`` (name → value).
    Any other key is an error.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    from_email: str | None = Field(None, description="Sender when the message sets none.")
    reply_to: list[str] | None = Field(None, description="Reply-To addresses.")
    headers: dict[str, str] | None = Field(None, description="Extra headers (message wins).")

    @model_validator(mode="before")
    @classmethod
    def _decode_env_strings(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            data = dict(data)
            try:
                if "reply_to" in data:
                    data["reply_to"] = decode_list(data["reply_to"], what="addresses", split=False)
                if isinstance(data.get("headers"), str):
                    data["headers"] = load_json(data["headers"])
            except ValueError as exc:
                raise ValueError(
                    f"expected JSON (a list for reply_to, an object for headers): {exc}"
                ) from None
        return data


def _decode(value: Any, what: str, alias: str | None, option: str | None) -> Any:
    """Decode a JSON string where a mapping is expected (values from the environment)."""
    if isinstance(value, str):
        try:
            value = load_json(value)
        except json.JSONDecodeError:
            raise InvalidEmailProvider(
                f"expected {what} (JSON), got a string that is not JSON",
                alias=alias,
                option=option,
            ) from None
        except ValueError as exc:  # a duplicate key or too deep: the reason names no value
            raise InvalidEmailProvider(
                f"expected {what}: {exc}", alias=alias, option=option
            ) from None
    if not isinstance(value, Mapping):
        raise InvalidEmailProvider(
            f"expected {what}, got {type(value).__name__}", alias=alias, option=option
        )
    return value


def _provider_fields(alias: str | None, raw: Any) -> dict[str, Any]:
    """Validate one raw provider (mapping or DSN string) into ProviderConfig field values.

    Raises :class:`InvalidEmailProvider` listing every problem found, naming ``alias``.
    """
    try:
        return _checked_fields(alias, raw)
    except InvalidEmailProvider as exc:
        if alias is not None:
            raise
        problems = [ConfigProblem(None, p.option, p.message) for p in exc.errors]
        raise InvalidEmailProvider(errors=problems) from None


def _checked_fields(alias: str | None, raw: Any) -> dict[str, Any]:
    name = alias if alias is not None else "?"
    if isinstance(raw, str) and not raw.lstrip().startswith("{"):
        raw = parse_dsn(raw, alias=name)
    raw = lift_policies(
        _decode(raw, "a DSN string or a mapping with BACKEND/OPTIONS", alias, None)
    )
    problems = [
        ConfigProblem(
            alias,
            None,
            f"unknown key {key!r}; expected one of {', '.join(_KEYS)} (case-sensitive)",
        )
        for key in raw
        if key not in _KEYS
    ]
    path, options, defaults = BUILTIN_BACKENDS["smtp"], {}, None
    try:
        path = backend_path(raw.get("BACKEND", "smtp"))
        given = _decode(raw.get("OPTIONS") or {}, "a mapping of options", alias, "OPTIONS")
        options = validate_options(name, path, given)
    except ValueError as exc:
        problems.append(ConfigProblem(alias, "BACKEND", str(exc)))
    except InvalidEmailProvider as exc:
        problems += exc.errors
    if raw.get("DEFAULTS") is not None:
        try:
            defaults = ProviderDefaults.model_validate(raw["DEFAULTS"])
        except ValidationError as exc:
            problems += problems_from_error(
                exc, alias=alias, prefix="DEFAULTS.", known=ProviderDefaults.model_fields
            )
    policies, policy_problems = validate_policies(alias, raw)
    problems += policy_problems
    if problems:
        raise InvalidEmailProvider(errors=problems)
    return {"BACKEND": path, "OPTIONS": options, "DEFAULTS": defaults, **policies}


def _no_options() -> dict[str, Any]:
    # Not `dict`: see settings._no_addresses (signature inspection of builtins is slow).
    return {}


class ProviderConfig(BaseModel):
    """A validated provider: the backend to build and the options to build it with.

    ``BACKEND`` is a dotted path (short names are expanded), ``OPTIONS`` the validated
    options given (secrets as ``SecretStr``), ``DEFAULTS`` the message defaults or ``None``.
    May be constructed from a mapping or a DSN string (:meth:`model_validate`); invalid
    input raises :class:`InvalidEmailProvider` listing every problem. ``repr()`` and
    ``str()`` never show secrets.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    BACKEND: str = Field(BUILTIN_BACKENDS["smtp"], description="Dotted path of the backend.")
    OPTIONS: dict[str, Any] = Field(default_factory=_no_options, description="Backend options.")
    DEFAULTS: ProviderDefaults | None = Field(None, description="Message defaults.")
    RETRY: RetryPolicy | None = Field(None, description="Retries of transient failures.")
    RATE_LIMIT: RateLimitPolicy | None = Field(None, description="Messages per period.")
    REDIRECT: RedirectPolicy | None = Field(None, description="Recipients redirected (dev).")

    @model_validator(mode="before")
    @classmethod
    def _validate_provider(cls, data: Any, info: ValidationInfo) -> Any:
        context = info.context if isinstance(info.context, Mapping) else {}
        return _provider_fields(context.get("alias"), data)

    def backend_kwargs(self) -> dict[str, Any]:
        """The keyword arguments the backend is built with: OPTIONS with secrets unwrapped."""
        return backend_kwargs(self.BACKEND, self.OPTIONS)


def provider_from(alias: str, raw: Any) -> ProviderConfig:
    """Validate ``raw`` (a ProviderConfig, mapping or DSN string) as provider ``alias``.

    Raises :class:`InvalidEmailProvider` naming ``alias`` and listing every problem.
    """
    if isinstance(raw, ProviderConfig):
        return raw
    return ProviderConfig.model_validate(raw, context={"alias": alias})
