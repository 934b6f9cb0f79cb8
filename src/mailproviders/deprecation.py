"""Everything that keeps legacy (Django-style) mail code working.

Legacy settings, ``get_connection()``, ``SMTPConnection`` and backend-level
``fail_silently`` live here; core modules call in through thin hooks.
"""

from __future__ import annotations

import inspect
import os
import sys
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mailproviders.backends.base import BaseEmailBackend

    # Built lazily at run time (see __getattr__): it subclasses a module importing this one.
    from mailproviders.backends.smtp import EmailBackend as SMTPConnection
    from mailproviders.settings import MailSettings

__all__ = [
    "LEGACY_SETTINGS",
    "MailProvidersDeprecationWarning",
    "SMTPConnection",
    "get_connection",
    "legacy_provider",
    "warn_deprecated",
]

SMTP_BACKEND = "mailproviders.backends.smtp.EmailBackend"
FILE_BACKEND = "mailproviders.backends.filebased.EmailBackend"

#: Legacy setting → SMTP option it becomes.
_SMTP_OPTIONS = {
    "EMAIL_HOST": "host",
    "EMAIL_PORT": "port",
    "EMAIL_HOST_USER": "username",
    "EMAIL_HOST_PASSWORD": "password",
    "EMAIL_USE_TLS": "use_tls",
    "EMAIL_USE_SSL": "use_ssl",
    "EMAIL_TIMEOUT": "timeout",
    "EMAIL_SSL_CERTFILE": "ssl_certfile",
    "EMAIL_SSL_KEYFILE": "ssl_keyfile",
}
LEGACY_SETTINGS: tuple[str, ...] = ("EMAIL_BACKEND", *_SMTP_OPTIONS, "EMAIL_FILE_PATH")

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


class MailProvidersDeprecationWarning(DeprecationWarning):
    """A legacy API or setting was used; the message names its replacement."""


def _caller_stacklevel() -> int:
    """Stack level of the first frame outside this package (the user's line)."""
    frame = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def warn_deprecated(message: str) -> None:
    """Emit a :class:`MailProvidersDeprecationWarning` attributed to the caller's line."""
    warnings.warn(message, MailProvidersDeprecationWarning, stacklevel=_caller_stacklevel())


def unknown_options_ignored(backend_class: type[Any], names: list[str]) -> None:
    """Warn that a directly built (legacy) backend dropped unknown options ``names``."""
    warn_deprecated(
        f"{backend_class.__qualname__} got unknown option(s) {', '.join(names)}; they are "
        "ignored. Remove them (in EMAIL_PROVIDERS, unknown options are an error)."
    )


def backend_fail_silently_given(backend_class: type[Any]) -> None:
    """Warn that ``fail_silently`` was passed to a backend constructor."""
    warn_deprecated(
        f"fail_silently given to {backend_class.__qualname__}() is deprecated; pass "
        "fail_silently to the send call instead, e.g. send_mail(..., fail_silently=True) "
        "or message.send(fail_silently=True)."
    )


def undefined_fail_silently_read(backend_class: type[Any]) -> None:
    """Warn that legacy code read ``fail_silently`` from a backend that never set it."""
    warn_deprecated(
        f"{backend_class.__qualname__}.fail_silently is deprecated and not set on this "
        "backend; pass fail_silently to the send call instead."
    )


def legacy_fail_silently(backend: object) -> bool:
    """The deprecated backend-level ``fail_silently`` a legacy connection was built with."""
    return bool(vars(backend).get("fail_silently", False))


def connection_with_auth(
    alias: str, username: str | None, password: str | None
) -> BaseEmailBackend:
    """A new instance of ``alias`` with ``auth_user``/``auth_password`` overriding its login."""
    from mailproviders.handler import providers

    warn_deprecated(
        "auth_user/auth_password are deprecated; configure username and password in the "
        f"provider's OPTIONS (EMAIL_PROVIDERS[{alias!r}]) and send with using={alias!r}"
    )
    options = {
        key: value
        for key, value in (("username", username), ("password", password))
        if value is not None
    }
    return providers.create_connection(alias, **options)


# -- legacy settings -------------------------------------------------------------------------


def legacy_values(settings: MailSettings) -> dict[str, Any]:
    """The legacy settings that are set (not ``None``), by name."""
    values = {name: getattr(settings, name, None) for name in LEGACY_SETTINGS}
    return {name: value for name, value in values.items() if value is not None}


def legacy_provider(values: Mapping[str, Any]) -> dict[str, Any]:
    """The ``EMAIL_PROVIDERS`` entry equivalent to legacy settings ``values``.

    Historical defaults apply (smtp backend, host ``localhost``, port 25), except the
    timeout: 30 seconds when ``EMAIL_TIMEOUT`` is unset, since blocking forever is never
    wanted. Secrets are kept as given (``SecretStr`` stays masked).
    """
    from mailproviders.settings import BUILTIN_BACKENDS

    backend = str(values.get("EMAIL_BACKEND") or SMTP_BACKEND)
    backend = BUILTIN_BACKENDS.get(backend, backend)
    options: dict[str, Any] = {}
    if backend == SMTP_BACKEND:
        options = {"host": "localhost", "port": 25, "timeout": 30.0}
        for setting, option in _SMTP_OPTIONS.items():
            if values.get(setting) is not None:
                options[option] = values[setting]
    elif backend == FILE_BACKEND and values.get("EMAIL_FILE_PATH") is not None:
        options["file_path"] = values["EMAIL_FILE_PATH"]
    return {"BACKEND": backend, "OPTIONS": options}


def masked(provider: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a provider dict with secret option values replaced by ``********``."""
    from pydantic import SecretStr

    options = {
        key: "********" if key == "password" or isinstance(value, SecretStr) else value
        for key, value in provider.get("OPTIONS", {}).items()
    }
    return {**provider, "OPTIONS": options}


def apply_legacy_settings(settings: MailSettings) -> MailSettings:
    """Synthesise the ``"default"`` provider from legacy settings, warning once.

    Returns ``settings`` unchanged when no legacy setting is set. Raises
    :class:`ImproperlyConfigured` naming the conflicting settings when ``EMAIL_PROVIDERS``
    is set too.
    """
    from mailproviders.exceptions import ConfigProblem, ImproperlyConfigured
    from mailproviders.settings import validate_providers

    values = legacy_values(settings)
    if not values:
        return settings
    provider = legacy_provider(values)
    synthesised = validate_providers({"default": provider})
    if synthesised == settings.EMAIL_PROVIDERS:
        return settings  # loaded again from settings that were already migrated
    if settings.EMAIL_PROVIDERS is not None:
        conflict = ConfigProblem(
            None,
            "EMAIL_PROVIDERS",
            f"is set together with the legacy settings {', '.join(values)}; "
            "keep only EMAIL_PROVIDERS (see `mailproviders migrate`)",
        )
        problems = [ConfigProblem(None, name, "conflicts with EMAIL_PROVIDERS") for name in values]
        raise ImproperlyConfigured(errors=[conflict, *problems])
    warn_deprecated(
        f"the legacy settings {', '.join(values)} are deprecated; they were turned into the "
        f"'default' provider. Configure it instead as EMAIL_PROVIDERS = "
        f"{{'default': {masked(provider)!r}}} (`mailproviders migrate` prints it as env lines)."
    )
    return settings.model_copy(update={"EMAIL_PROVIDERS": synthesised})


# -- get_connection / SMTPConnection ---------------------------------------------------------


def _accepted_options(backend_class: type[Any], options: dict[str, Any]) -> dict[str, Any]:
    """Drop (with a warning) the options ``backend_class.__init__`` does not take."""
    parameters = inspect.signature(backend_class.__init__).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return options
    unknown = sorted(set(options) - set(parameters))
    if unknown:
        warn_deprecated(
            f"{backend_class.__qualname__} does not take the option(s) {', '.join(unknown)}; "
            "they are ignored. Remove them (unknown options are an error in EMAIL_PROVIDERS)."
        )
    return {key: value for key, value in options.items() if key not in unknown}


def _legacy_options(path: str, options: dict[str, Any]) -> tuple[type[Any], dict[str, Any]]:
    """The class at ``path`` and its options from the legacy settings, ``options`` winning."""
    from mailproviders.handler import providers
    from mailproviders.settings import import_backend

    settings = providers.settings
    legacy = legacy_values(settings)
    if settings.EMAIL_PROVIDERS is not None and not legacy:
        raise RuntimeError(
            f"get_connection({path!r}) builds a backend from legacy settings, but "
            "EMAIL_PROVIDERS is configured; use mailproviders.providers['<alias>'] instead"
        )
    backend_class = import_backend(path, None)
    from_settings = legacy_provider({**legacy, "EMAIL_BACKEND": path})["OPTIONS"]
    merged = {key: _reveal(value) for key, value in from_settings.items()} | options
    return backend_class, _accepted_options(backend_class, merged)


def _reveal(value: Any) -> Any:
    from pydantic import SecretStr

    return value.get_secret_value() if isinstance(value, SecretStr) else value


def get_connection(
    backend: str | None = None, fail_silently: bool = False, **kwargs: Any
) -> BaseEmailBackend:
    """Deprecated: use ``mailproviders.providers[alias]``.

    With no arguments, returns ``providers.default``. With keyword arguments only, a new
    instance of the default provider with those options overriding its OPTIONS
    (``fail_silently`` included). With a backend path, that backend built directly from
    the legacy settings; ``RuntimeError`` when ``EMAIL_PROVIDERS`` is configured.
    """
    from mailproviders.handler import DEFAULT_PROVIDER_ALIAS, providers
    from mailproviders.settings import import_backend

    warn_deprecated(
        "get_connection() is deprecated; use mailproviders.providers['default'] (or "
        "providers['<alias>']) and pass fail_silently to the send call"
    )
    options = dict(kwargs)
    if fail_silently:
        options["fail_silently"] = True
    if backend is not None:
        backend_class, accepted = _legacy_options(backend, options)
        return backend_class(**accepted)  # type: ignore[no-any-return]
    if not options:
        return providers.default
    config = providers.config(DEFAULT_PROVIDER_ALIAS)
    backend_class = import_backend(config.BACKEND, DEFAULT_PROVIDER_ALIAS)
    accepted = _accepted_options(backend_class, options)
    return providers.create_connection(DEFAULT_PROVIDER_ALIAS, **accepted)


def _smtp_connection_class() -> type[BaseEmailBackend]:
    from mailproviders.backends import smtp

    class SMTPConnection(smtp.EmailBackend):
        """Deprecated alias of ``mailproviders.backends.smtp.EmailBackend``."""

        def __init__(self, **kwargs: Any) -> None:
            warn_deprecated(
                "SMTPConnection is deprecated; configure an smtp provider in EMAIL_PROVIDERS "
                "and use mailproviders.providers['<alias>']"
            )
            _, accepted = _legacy_options(SMTP_BACKEND, kwargs)
            super().__init__(**accepted)

    SMTPConnection.__module__ = __name__
    SMTPConnection.__qualname__ = "SMTPConnection"
    return SMTPConnection


_lazy: dict[str, Any] = {}


def __getattr__(name: str) -> Any:
    # SMTPConnection subclasses the SMTP backend, which imports this module: build it lazily.
    if name == "SMTPConnection":
        if name not in _lazy:
            _lazy[name] = _smtp_connection_class()
        return _lazy[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
