"""Legacy ``EMAIL_*`` settings: the ``"default"`` provider they stand for (SPEC §7)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from mailproviders.config.options import plaintext_auth_problem
from mailproviders.config.settings import (
    LEGACY_SMTP_OPTIONS,
    MailSettings,
    derive,
    validate_providers,
)
from mailproviders.config.values import MASK, is_secret
from mailproviders.exceptions import ConfigProblem, ImproperlyConfigured
from mailproviders.legacy.warnings import warn_deprecated
from mailproviders.registry import BUILTIN_BACKENDS

__all__ = ["LEGACY_SETTINGS", "legacy_provider", "legacy_values", "masked", "migrated"]

SMTP_BACKEND: Final = BUILTIN_BACKENDS["smtp"]
FILE_BACKEND: Final = BUILTIN_BACKENDS["file"]

_SMTP_OPTIONS: Final = LEGACY_SMTP_OPTIONS  #: legacy setting → SMTP option it becomes
LEGACY_SETTINGS: Final[tuple[str, ...]] = ("EMAIL_BACKEND", *_SMTP_OPTIONS, "EMAIL_FILE_PATH")


def legacy_values(settings: MailSettings) -> dict[str, Any]:
    """The legacy settings that are set (not ``None``), by name."""
    values = {name: getattr(settings, name, None) for name in LEGACY_SETTINGS}
    return {name: value for name, value in values.items() if value is not None}


def legacy_provider(values: Mapping[str, Any]) -> dict[str, Any]:
    """The ``EMAIL_PROVIDERS`` entry equivalent to legacy settings ``values``.

    Historical defaults apply (smtp backend, host ``localhost``, port 25), except the
    timeout: 30 seconds when ``EMAIL_TIMEOUT`` is unset, since blocking forever is never
    wanted. Secrets are kept as given (``SecretStr`` stays masked). Credentials without
    ``EMAIL_USE_TLS``/``EMAIL_USE_SSL`` to a host that is not loopback keep working:
    ``allow_plaintext_auth`` is set for them (:func:`migrated` warns).
    """
    backend = str(values.get("EMAIL_BACKEND") or SMTP_BACKEND)
    backend = BUILTIN_BACKENDS.get(backend, backend)
    options: dict[str, Any] = {}
    if backend == SMTP_BACKEND:
        options = {"host": "localhost", "port": 25, "timeout": 30.0}
        for setting, option in _SMTP_OPTIONS.items():
            if values.get(setting) is not None:
                options[option] = values[setting]
        if _plaintext_auth(options):
            options["allow_plaintext_auth"] = True
    elif backend == FILE_BACKEND and values.get("EMAIL_FILE_PATH") is not None:
        options["file_path"] = values["EMAIL_FILE_PATH"]
    return {"BACKEND": backend, "OPTIONS": options}


def _plaintext_auth(options: Mapping[str, Any]) -> bool:
    if not (options.get("username") and options.get("password")):
        return False
    tls, ssl = bool(options.get("use_tls")), bool(options.get("use_ssl"))
    return plaintext_auth_problem(str(options.get("host")), tls, ssl) is not None


def masked(provider: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a provider dict with secret option values replaced by the mask."""
    options = {
        key: MASK if is_secret(key, value) else value
        for key, value in provider.get("OPTIONS", {}).items()
    }
    return {**provider, "OPTIONS": options}


def migrated(settings: MailSettings) -> MailSettings:
    """``settings`` with the ``"default"`` provider synthesised from legacy settings,
    warning once; ``settings`` itself when no legacy setting is set.

    Raises :class:`ImproperlyConfigured` naming the conflicting settings when
    ``EMAIL_PROVIDERS`` is set too.
    """
    values = legacy_values(settings)
    if not values:
        return settings
    if settings.EMAIL_PROVIDERS is not None:
        conflict = ConfigProblem(
            None,
            "EMAIL_PROVIDERS",
            f"is set together with the legacy settings {', '.join(values)}; "
            "keep only EMAIL_PROVIDERS (see `mailproviders migrate`)",
        )
        problems = [ConfigProblem(None, name, "conflicts with EMAIL_PROVIDERS") for name in values]
        raise ImproperlyConfigured(errors=[conflict, *problems])
    provider = legacy_provider(values)
    synthesised = validate_providers({"default": provider})
    warn_deprecated(  # Django 6.1: "The EMAIL_HOST setting is deprecated. Migrate to MAILERS"
        f"The {next(iter(values))} setting is deprecated. Migrate to EMAIL_PROVIDERS: the "
        f"legacy settings {', '.join(values)} were turned into the 'default' provider; "
        f"configure it instead as EMAIL_PROVIDERS = {{'default': {masked(provider)!r}}} "
        "(`mailproviders migrate` prints it as env lines)."
    )
    if provider["OPTIONS"].get("allow_plaintext_auth"):
        warn_deprecated(
            f"the legacy settings send EMAIL_HOST_PASSWORD in plain text to "
            f"{provider['OPTIONS']['host']} (neither EMAIL_USE_TLS nor EMAIL_USE_SSL is set); "
            "this is allowed for them only, as if allow_plaintext_auth were set. Use "
            "STARTTLS instead: EMAIL_PROVIDERS__default='smtp+starttls://user:password@host:587'"
        )
    return derive(settings, EMAIL_PROVIDERS=synthesised)
