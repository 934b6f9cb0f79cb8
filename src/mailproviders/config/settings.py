"""Typed settings: :class:`MailSettings`, loaded lazily from code, environment, ``.env``.

Precedence, per setting: values given in code (``mailproviders.configure(...)`` →
:func:`load_settings`) replace the whole setting; otherwise the environment, then a
``.env`` file in the working directory (these two combine key by key, the environment
winning), then the defaults. Every problem is reported at once as
:class:`~mailproviders.exceptions.ImproperlyConfigured` (an
:class:`~mailproviders.exceptions.InvalidEmailProvider` when all problems lie inside
``EMAIL_PROVIDERS``), never as a bare pydantic ``ValidationError``, and never with a
secret in the message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final

from pydantic import (
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from mailproviders import _hooks
from mailproviders.config.provider import ProviderConfig, provider_from
from mailproviders.config.queue_options import queue_problems
from mailproviders.config.secretfiles import SecretsDirSource, secrets_dir
from mailproviders.config.sources import DotEnvSource, EnvSource
from mailproviders.config.validate import composite_problems, problems_from_error
from mailproviders.config.values import decode_list, load_json
from mailproviders.exceptions import (
    ConfigProblem,
    ImproperlyConfigured,
    InvalidEmailProvider,
)
from mailproviders.registry import builtin

__all__ = ["LEGACY_SMTP_OPTIONS", "MailSettings", "derive", "load_settings", "validate_providers"]

#: The legacy ``EMAIL_*`` settings of an SMTP connection → the SMTP option each becomes.
LEGACY_SMTP_OPTIONS: Final = {
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

_PROBLEMS = "mailproviders_problems"


AddressList = Annotated[list[str], NoDecode]


def _text(value: Any) -> Any:
    """A lazy string (e.g. Django's ``gettext_lazy``) as ``str``; others unchanged."""
    if isinstance(value, str | list | tuple) or value is None:
        return value
    text = _hooks.compat.lazy_text(value)
    return value if text is None else text


def _is_pair(item: Any) -> bool:
    return (
        isinstance(item, list | tuple) and len(item) == 2 and all(isinstance(x, str) for x in item)
    )


def _no_addresses() -> list[str]:
    # A Python function, not `list`: pydantic inspects a factory's signature, and for a
    # builtin that costs a one-time tokenizer set-up of ~10 ms at import.
    return []


class MailSettings(BaseSettings):
    """Every setting mailproviders reads (names as in Django).

    Constructing it reads the environment and ``.env`` for the settings not passed as
    arguments; a setting passed replaces that whole setting. Raises
    :class:`ImproperlyConfigured` / :class:`InvalidEmailProvider` listing every problem.
    """

    model_config = SettingsConfigDict(
        case_sensitive=True,
        extra="ignore",
        env_file=".env",
        env_file_encoding="utf-8",
        hide_input_in_errors=True,
        frozen=True,
    )

    EMAIL_PROVIDERS: dict[str, ProviderConfig] | None = Field(
        None, description="Alias → provider (a mapping with BACKEND/OPTIONS/DEFAULTS or a DSN)."
    )
    DEFAULT_FROM_EMAIL: str = Field("webmaster@localhost", description="Default sender.")
    SERVER_EMAIL: str = Field("root@localhost", description="Sender of admins/managers mail.")
    ADMINS: AddressList = Field(default_factory=_no_addresses, description="Admin addresses.")
    MANAGERS: AddressList = Field(default_factory=_no_addresses, description="Manager addresses.")
    EMAIL_SUBJECT_PREFIX: str = Field("[mailproviders] ", description="Admins mail prefix.")
    EMAIL_USE_LOCALTIME: bool = Field(False, description="Date header in local time.")
    # Legacy single-backend settings (deprecated; turned into a provider elsewhere).
    EMAIL_BACKEND: str | None = Field(None, description="Legacy: use EMAIL_PROVIDERS.")
    EMAIL_HOST: str | None = Field(None, description="Legacy: use EMAIL_PROVIDERS.")
    EMAIL_PORT: int | None = Field(None, ge=1, le=65535, description="Legacy.")
    EMAIL_HOST_USER: str | None = Field(None, description="Legacy: use EMAIL_PROVIDERS.")
    EMAIL_HOST_PASSWORD: SecretStr | None = Field(None, description="Legacy (secret).")
    EMAIL_USE_TLS: bool | None = Field(None, description="Legacy: use EMAIL_PROVIDERS.")
    EMAIL_USE_SSL: bool | None = Field(None, description="Legacy: use EMAIL_PROVIDERS.")
    EMAIL_TIMEOUT: float | None = Field(None, gt=0, description="Legacy.")
    EMAIL_SSL_CERTFILE: str | None = Field(None, description="Legacy: use EMAIL_PROVIDERS.")
    EMAIL_SSL_KEYFILE: str | None = Field(None, description="Legacy: use EMAIL_PROVIDERS.")
    EMAIL_FILE_PATH: str | None = Field(None, description="Legacy: use EMAIL_PROVIDERS.")

    #: The settings these were derived from by :func:`derive` (``None``: loaded as given).
    _origin: MailSettings | None = PrivateAttr(None)

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise _config_error(exc) from None
        except SettingsError as exc:
            raise ImproperlyConfigured(str(exc)) from None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Code, then environment, then ``.env``, then the files of a secrets directory
        (``_secrets_dir=`` or ``MAILPROVIDERS_SECRETS_DIR``); settings given in code skip
        the others."""
        given = init_settings.init_kwargs if isinstance(init_settings, InitSettingsSource) else {}
        exclude = frozenset(given)
        env = EnvSource(settings_cls, exclude), DotEnvSource(settings_cls, exclude)
        directory = getattr(file_secret_settings, "secrets_dir", None) or secrets_dir()
        if directory is None:
            return init_settings, *env
        return init_settings, *env, SecretsDirSource(settings_cls, exclude, directory)

    @field_validator("ADMINS", "MANAGERS", mode="before")
    @classmethod
    def _split_addresses(cls, value: Any, info: ValidationInfo) -> Any:
        value = decode_list(_text(value), what="addresses")
        if isinstance(value, list | tuple):
            items = [_text(item) for item in value]
            if any(_is_pair(item) for item in items):
                items = _hooks.compat.address_pairs(str(info.field_name), items)
            return items
        return value

    @field_validator("EMAIL_PROVIDERS", mode="before")
    @classmethod
    def _validate_providers(cls, value: Any) -> Any:
        if value is None:
            return None
        reason = ""
        if isinstance(value, str):
            try:
                value = load_json(value)
            except ValueError as exc:
                value, reason = None, f" ({exc})"
        if not isinstance(value, Mapping):
            raise ValueError(
                f"expected a mapping of alias → provider (JSON object){reason}, e.g. "
                '{"default": "console://"}; or set EMAIL_PROVIDERS__default=console://'
            )
        try:
            return validate_providers(value)
        except InvalidEmailProvider as exc:
            raise PydanticCustomError(
                _PROBLEMS, "invalid EMAIL_PROVIDERS", {"problems": exc.errors}
            ) from None


def validate_providers(mapping: Mapping[str, Any]) -> dict[str, ProviderConfig]:
    """Validate an ``EMAIL_PROVIDERS``-shaped mapping (alias → mapping, DSN or ProviderConfig).

    Each provider is validated on its own, then composite providers (``failover``,
    ``roundrobin``) are checked against the others: every alias in ``using`` exists and
    no provider reaches itself; so are queue providers (``celery``: ``deliver_with``).
    Raises :class:`InvalidEmailProvider` listing the problems of every alias.
    """
    providers: dict[str, ProviderConfig] = {}
    problems: list[ConfigProblem] = []
    for alias, raw in mapping.items():
        try:
            providers[str(alias)] = provider_from(str(alias), raw)
        except InvalidEmailProvider as exc:
            problems += exc.errors
    graph = {
        alias: config.OPTIONS["using"]
        for alias, config in providers.items()
        if (row := builtin(config.BACKEND)) is not None
        and row.composite
        and "using" in config.OPTIONS
    }
    problems += composite_problems(graph, [str(alias) for alias in mapping])
    queues = {
        alias: config.OPTIONS["deliver_with"]
        for alias, config in providers.items()
        if (row := builtin(config.BACKEND)) is not None
        and row.queue
        and "deliver_with" in config.OPTIONS
    }
    problems += queue_problems(queues, graph, [str(alias) for alias in mapping])
    if problems:
        raise InvalidEmailProvider(errors=problems)
    return providers


def _config_error(exc: ValidationError) -> ImproperlyConfigured:
    """One exception listing every problem of ``exc``, secrets masked."""
    problems: list[ConfigProblem] = []
    for error in exc.errors():
        if error["type"] == _PROBLEMS:
            problems += error.get("ctx", {})["problems"]
        else:
            single = ValidationError.from_exception_data(exc.title, [error])  # type: ignore[list-item]
            problems += problems_from_error(single, alias=None, secrets={"EMAIL_HOST_PASSWORD"})
    if all(p.alias is not None or p.option == "EMAIL_PROVIDERS" for p in problems):
        return InvalidEmailProvider(errors=problems)
    return ImproperlyConfigured(errors=problems)


def derive(settings: MailSettings, **update: Any) -> MailSettings:
    """A copy of ``settings`` with ``update`` applied that remembers ``settings``: loading
    it again (:func:`load_settings`) starts from the original values, so a transform
    applied on load (:data:`mailproviders._hooks.compat`) never sees its own output."""
    derived = settings.model_copy(update=update)
    derived._origin = settings._origin or settings
    return derived


def load_settings(source: MailSettings | None = None, /, **overrides: Any) -> MailSettings:
    """Build validated settings.

    Each setting in ``overrides`` (or, when ``source`` is given, every setting of
    ``source``) replaces that whole setting; the others come from the environment, ``.env``
    and defaults. ``EMAIL_PROVIDERS`` values may be mappings, DSN strings or
    :class:`ProviderConfig` instances. Providers implied by older settings (``EMAIL_HOST``…)
    are added by the compatibility layer.

    Raises :class:`ImproperlyConfigured` (an :class:`InvalidEmailProvider` when every
    problem lies inside ``EMAIL_PROVIDERS``) listing every problem as ``.errors``; raises
    ``TypeError`` for an unknown setting name.
    """
    unknown = sorted(set(overrides) - set(MailSettings.model_fields))
    if unknown:
        raise TypeError(f"unknown setting(s): {', '.join(unknown)}")
    values: dict[str, Any] = {}
    if source is not None:
        source = source._origin or source
        values = {name: getattr(source, name) for name in MailSettings.model_fields}
    values.update(overrides)
    return _hooks.compat.settings_loaded(MailSettings(**values))
