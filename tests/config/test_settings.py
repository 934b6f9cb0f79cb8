"""Loading MailSettings: environment forms, .env, precedence, laziness (settings.py)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from pydantic import SecretStr

from mailproviders import config as settings_module
from mailproviders.config import MailSettings, ProviderConfig, load_settings
from mailproviders.exceptions import ImproperlyConfigured, InvalidEmailProvider
from mailproviders.handler import configure, providers
from mailproviders.legacy import MailProvidersDeprecationWarning

SMTP = "mailproviders.backends.smtp.EmailBackend"
CONSOLE = "mailproviders.backends.console.EmailBackend"
LOCMEM = "mailproviders.backends.locmem.EmailBackend"


def providers_of(settings: MailSettings) -> dict[str, ProviderConfig]:
    assert settings.EMAIL_PROVIDERS is not None
    return settings.EMAIL_PROVIDERS


def test_defaults_without_any_configuration() -> None:
    settings = load_settings()
    assert settings.EMAIL_PROVIDERS is None
    assert settings.DEFAULT_FROM_EMAIL == "webmaster@localhost"
    assert settings.SERVER_EMAIL == "root@localhost"
    assert settings.ADMINS == [] and settings.MANAGERS == []
    assert settings.EMAIL_SUBJECT_PREFIX == "[mailproviders] "
    assert settings.EMAIL_USE_LOCALTIME is False
    assert settings.EMAIL_BACKEND is None and settings.EMAIL_HOST_PASSWORD is None


def test_json_form(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "EMAIL_PROVIDERS",
        '{"default": {"BACKEND": "console"}, "Bulk": {"OPTIONS": {"host": "mx", "port": 2525}}}',
    )
    providers = providers_of(load_settings())
    assert providers["default"].BACKEND == CONSOLE
    assert providers["Bulk"].BACKEND == SMTP
    assert providers["Bulk"].OPTIONS == {"host": "mx", "port": 2525}


def test_nested_form_keeps_alias_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_PROVIDERS__Transactional__BACKEND", "smtp")
    monkeypatch.setenv("EMAIL_PROVIDERS__Transactional__OPTIONS__host", "smtp.example.com")
    monkeypatch.setenv("EMAIL_PROVIDERS__Transactional__OPTIONS__port", "587")
    monkeypatch.setenv("EMAIL_PROVIDERS__Transactional__OPTIONS__use_tls", "true")
    monkeypatch.setenv("EMAIL_PROVIDERS__Transactional__OPTIONS__password", "hunter2")
    monkeypatch.setenv("EMAIL_PROVIDERS__Transactional__DEFAULTS__from_email", "tx@example.com")
    monkeypatch.setenv("EMAIL_PROVIDERS__Transactional__DEFAULTS__reply_to", '["a@example.com"]')
    config = providers_of(load_settings())["Transactional"]
    assert config.BACKEND == SMTP
    assert config.OPTIONS["port"] == 587 and config.OPTIONS["use_tls"] is True
    assert isinstance(config.OPTIONS["password"], SecretStr)
    assert config.DEFAULTS is not None
    assert config.DEFAULTS.from_email == "tx@example.com"
    assert config.DEFAULTS.reply_to == ["a@example.com"]


def test_dsn_form(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "EMAIL_PROVIDERS__default", "smtp+starttls://user:p%40ss@smtp.example.com:587"
    )
    config = providers_of(load_settings())["default"]
    assert config.backend_kwargs() == {
        "use_tls": True,
        "host": "smtp.example.com",
        "port": 587,
        "username": "user",
        "password": "p@ss",
    }


def test_forms_mix_across_aliases(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_PROVIDERS", '{"json": {"BACKEND": "locmem"}}')
    monkeypatch.setenv("EMAIL_PROVIDERS__dsn", "console://?stream=stderr")
    monkeypatch.setenv("EMAIL_PROVIDERS__nested__BACKEND", "dummy")
    assert {
        alias: c.BACKEND.split(".")[-2] for alias, c in providers_of(load_settings()).items()
    } == {
        "json": "locmem",
        "dsn": "console",
        "nested": "dummy",
    }


def test_nested_keys_refine_a_dsn_and_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_PROVIDERS", '{"a": {"OPTIONS": {"host": "json-host", "port": 25}}}')
    monkeypatch.setenv("EMAIL_PROVIDERS__a__OPTIONS__port", "2525")
    monkeypatch.setenv("EMAIL_PROVIDERS__b", "smtp+starttls://u:pw@dsn-host:587")
    monkeypatch.setenv("EMAIL_PROVIDERS__b__OPTIONS__timeout", "5")
    providers = providers_of(load_settings())
    assert providers["a"].OPTIONS == {"host": "json-host", "port": 2525}
    assert providers["b"].OPTIONS["host"] == "dsn-host"
    assert providers["b"].OPTIONS["timeout"] == 5.0


def test_provider_as_json_object_per_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_PROVIDERS__x", '{"BACKEND": "file", "OPTIONS": {"file_path": "o"}}')
    assert providers_of(load_settings())["x"].OPTIONS == {"file_path": "o"}


def test_lower_case_keys_are_errors_not_silent_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_PROVIDERS__default__backend", "console")
    monkeypatch.setenv("EMAIL_PROVIDERS__default__options__host", "x")
    with pytest.raises(InvalidEmailProvider) as info:
        load_settings()
    message = str(info.value)
    assert "unknown key 'backend'" in message and "unknown key 'options'" in message
    assert all(problem.alias == "default" for problem in info.value.errors)


def test_option_names_are_case_sensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_PROVIDERS__default__OPTIONS__HOST", "x")
    with pytest.raises(InvalidEmailProvider, match=r"OPTIONS\.HOST: unknown option"):
        load_settings()


def test_dotenv_file(monkeypatch: pytest.MonkeyPatch) -> None:
    Path(".env").write_text(
        "UNRELATED_SECRET=topsecret-value\n"
        "DATABASE_URL=postgres://u:pw@db/app\n"
        "EMAIL_PROVIDERS__Mail=smtps://u:pw@mail.example.com:465\n"
        "EMAIL_PROVIDERS__Mail__OPTIONS__timeout=12\n"
        "DEFAULT_FROM_EMAIL=app@example.com\n"
        "ADMINS=ops@example.com, dev@example.com\n",
        encoding="utf-8",
    )
    settings = load_settings()
    mail = providers_of(settings)["Mail"]
    assert mail.OPTIONS["use_ssl"] is True and mail.OPTIONS["timeout"] == 12.0
    assert settings.DEFAULT_FROM_EMAIL == "app@example.com"
    assert settings.ADMINS == ["ops@example.com", "dev@example.com"]
    assert "topsecret" not in repr(settings)


def test_unrelated_dotenv_key_with_bad_value_is_ignored() -> None:
    Path(".env").write_text("SOMETHING_ELSE={not json: hunter2\nEMAIL_USE_LOCALTIME=1\n")
    assert load_settings().EMAIL_USE_LOCALTIME is True


def test_env_wins_over_dotenv_key_by_key(monkeypatch: pytest.MonkeyPatch) -> None:
    Path(".env").write_text(
        "EMAIL_PROVIDERS__default__OPTIONS__host=dotenv-host\n"
        "EMAIL_PROVIDERS__default__OPTIONS__port=25\n"
        "EMAIL_PROVIDERS__other=console://\n"
        "SERVER_EMAIL=dotenv@example.com\n"
        "DEFAULT_FROM_EMAIL=dotenv@example.com\n"
    )
    monkeypatch.setenv("EMAIL_PROVIDERS__default__OPTIONS__port", "2525")
    monkeypatch.setenv("SERVER_EMAIL", "env@example.com")
    settings = load_settings()
    providers = providers_of(settings)
    assert providers["default"].OPTIONS == {"host": "dotenv-host", "port": 2525}
    assert set(providers) == {"default", "other"}
    assert settings.SERVER_EMAIL == "env@example.com"
    assert settings.DEFAULT_FROM_EMAIL == "dotenv@example.com"


def test_code_replaces_whole_setting_over_env_and_dotenv(monkeypatch: pytest.MonkeyPatch) -> None:
    Path(".env").write_text("EMAIL_PROVIDERS__fromdotenv=dummy://\nSERVER_EMAIL=d@example.com\n")
    monkeypatch.setenv("EMAIL_PROVIDERS__fromenv", "console://")
    monkeypatch.setenv("DEFAULT_FROM_EMAIL", "env@example.com")
    settings = load_settings(EMAIL_PROVIDERS={"fromcode": "locmem://"})
    assert set(providers_of(settings)) == {"fromcode"}
    assert settings.DEFAULT_FROM_EMAIL == "env@example.com"
    assert settings.SERVER_EMAIL == "d@example.com"
    assert load_settings(SERVER_EMAIL="code@example.com").SERVER_EMAIL == "code@example.com"


def test_settings_instance_is_taken_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    given = load_settings(EMAIL_PROVIDERS={"a": "console://"}, DEFAULT_FROM_EMAIL="x@example.com")
    monkeypatch.setenv("DEFAULT_FROM_EMAIL", "env@example.com")
    monkeypatch.setenv("EMAIL_PROVIDERS__b", "dummy://")
    loaded = load_settings(given, SERVER_EMAIL="s@example.com")
    assert loaded.DEFAULT_FROM_EMAIL == "x@example.com"
    assert set(providers_of(loaded)) == {"a"}
    assert loaded.SERVER_EMAIL == "s@example.com"


def test_values_in_code_may_be_dicts_dsns_or_provider_configs() -> None:
    config = ProviderConfig(BACKEND="console")
    settings = load_settings(
        EMAIL_PROVIDERS={"a": config, "b": "dummy://", "c": {"BACKEND": "locmem"}}
    )
    providers = providers_of(settings)
    assert providers["a"] is config
    assert providers["c"].BACKEND == LOCMEM


def test_unknown_setting_name_in_code() -> None:
    with pytest.raises(TypeError, match="EMAIL_PROVIDER"):
        load_settings(EMAIL_PROVIDER={})


def test_get_settings_loads_lazily_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_PROVIDERS__default", "console://")
    first = providers.settings
    monkeypatch.setenv("EMAIL_PROVIDERS__default", "dummy://")
    assert providers.settings is first
    providers.reset(None)
    assert providers_of(providers.settings)["default"].BACKEND.endswith("dummy.EmailBackend")


def test_get_settings_is_thread_safe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_PROVIDERS__default", "console://")
    seen: list[MailSettings] = []
    barrier = threading.Barrier(8)

    def load() -> None:
        barrier.wait()
        seen.append(providers.settings)

    threads = [threading.Thread(target=load) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 8 and all(item is seen[0] for item in seen)


def test_set_settings_installs_an_instance() -> None:
    installed = load_settings(EMAIL_PROVIDERS={"x": "dummy://"})
    providers.reset(installed)
    assert providers.settings is installed


def test_invalid_configuration_raises_every_time_until_fixed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EMAIL_PROVIDERS__default__OPTIONS__port", "x")
    for _ in range(2):
        with pytest.raises(InvalidEmailProvider):
            providers.settings
    monkeypatch.setenv("EMAIL_PROVIDERS__default", "console://")
    monkeypatch.delenv("EMAIL_PROVIDERS__default__OPTIONS__port")
    assert "default" in providers_of(providers.settings)


def test_admins_from_json_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMINS", '["a@example.com", "b@example.com"]')
    monkeypatch.setenv("MANAGERS", "m@example.com")
    settings = load_settings()
    assert settings.ADMINS == ["a@example.com", "b@example.com"]
    assert settings.MANAGERS == ["m@example.com"]


def test_legacy_settings_are_plain_optional_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_HOST", "legacy.example.com")
    monkeypatch.setenv("EMAIL_PORT", "2525")
    monkeypatch.setenv("EMAIL_HOST_PASSWORD", "hunter2")
    monkeypatch.setenv("EMAIL_USE_TLS", "yes")
    monkeypatch.setenv("EMAIL_TIMEOUT", "7")
    with pytest.warns(MailProvidersDeprecationWarning):
        settings = load_settings()
    assert settings.EMAIL_HOST == "legacy.example.com" and settings.EMAIL_PORT == 2525
    assert settings.EMAIL_USE_TLS is True and settings.EMAIL_TIMEOUT == 7.0
    assert settings.EMAIL_USE_SSL is None
    assert isinstance(settings.EMAIL_HOST_PASSWORD, SecretStr)
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings)


def test_bad_top_level_setting_is_improperly_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_USE_LOCALTIME", "maybe")
    monkeypatch.setenv("EMAIL_PROVIDERS__default__OPTIONS__port", "0")
    with pytest.raises(ImproperlyConfigured) as info:
        load_settings()
    assert not isinstance(info.value, InvalidEmailProvider)
    assert {(p.alias, p.option) for p in info.value.errors} == {
        (None, "EMAIL_USE_LOCALTIME"),
        ("default", "port"),
        ("default", "host"),
    }


def test_email_providers_json_that_is_not_an_object(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_PROVIDERS", "smtp://u:hunter2@host")
    with pytest.raises(ImproperlyConfigured) as info:
        load_settings()
    assert isinstance(info.value, InvalidEmailProvider)
    assert "EMAIL_PROVIDERS__default=" in str(info.value)
    assert "hunter2" not in str(info.value)
    assert info.value.errors[0].option == "EMAIL_PROVIDERS"


def test_module_exports_the_api() -> None:
    for name in ("BUILTIN_BACKENDS", "import_backend", "parse_dsn", "json_schema"):
        assert name in settings_module.__all__
    from mailproviders import settings as old_import_path

    assert old_import_path is settings_module


def test_bad_dsn_in_env_names_alias_and_masks_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_PROVIDERS__Out", "smtq://user:hunter2@host:25")
    monkeypatch.setenv("EMAIL_PROVIDERS__Out__OPTIONS__timeout", "3")
    Path(".env").write_text("EMAIL_PROVIDERS__Dot=smtps://user:hunter2@host:587\n")
    with pytest.raises(InvalidEmailProvider) as info:
        load_settings()
    assert {problem.alias for problem in info.value.errors} == {"Out", "Dot"}
    assert "unknown DSN scheme 'smtq'" in str(info.value)
    assert "smtp+starttls://" in str(info.value)
    assert "hunter2" not in str(info.value)


# --- JSON in the environment: nesting depth and duplicate keys ------------------------

DEEP = '{"a":' + "[" * 100_000 + "]" * 100_000 + "}"


@pytest.mark.parametrize("variable", ["EMAIL_PROVIDERS", "EMAIL_PROVIDERS__default"])
@pytest.mark.parametrize("where", ["environment", "dotenv"])
def test_deeply_nested_json_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, where: str
) -> None:
    if where == "environment":
        monkeypatch.setenv(variable, DEEP)
    else:
        Path(".env").write_text(f"{variable}='{DEEP}'\n")
    with pytest.raises(ImproperlyConfigured) as info:
        configure()
    assert (info.value.alias, info.value.option) == (None, variable)
    assert str(info.value) == f"{variable}: JSON nested more than 32 levels deep"


def test_deeply_nested_json_elsewhere_is_reported_with_its_place(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EMAIL_PROVIDERS__a__OPTIONS", DEEP)
    monkeypatch.setenv("ADMINS", "[" * 100_000)
    with pytest.raises(ImproperlyConfigured) as info:
        load_settings()
    assert sorted(((p.alias, p.option) for p in info.value.errors), key=str) == [
        ("a", "OPTIONS"),
        (None, "ADMINS"),
    ]
    assert "nested more than 32 levels" in str(info.value)
    # The same from code: configure() with the JSON string.
    monkeypatch.delenv("ADMINS")
    with pytest.raises(InvalidEmailProvider) as from_code:
        load_settings(EMAIL_PROVIDERS=DEEP)
    assert from_code.value.option == "EMAIL_PROVIDERS"
    assert "(JSON nested more than 32 levels deep)" in str(from_code.value)


def test_json_nesting_that_a_configuration_needs_is_fine(monkeypatch: pytest.MonkeyPatch) -> None:
    headers = '{"X-Brackets": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[{{{{{{{{{{{{{{{{{{"}'
    monkeypatch.setenv(
        "EMAIL_PROVIDERS",
        '{"default": {"BACKEND": "console", "DEFAULTS": {"headers": %s}}}' % headers,  # noqa: UP031
    )
    defaults = providers_of(load_settings())["default"].DEFAULTS
    assert defaults is not None and defaults.headers == {"X-Brackets": "[" * 40 + "{" * 18}


@pytest.mark.parametrize(
    ("variable", "value", "key"),
    [
        ("EMAIL_PROVIDERS", '{"default": "console://", "default": "dummy://"}', "default"),
        (
            "EMAIL_PROVIDERS__default",
            '{"BACKEND": "smtp", "OPTIONS": {"host": "h", "password": "S3cr3t-A",'
            ' "password": "S3cr3t-B"}}',
            "password",
        ),
    ],
)
@pytest.mark.parametrize("where", ["environment", "dotenv"])
def test_duplicate_json_keys_are_rejected_without_showing_values(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, key: str, where: str
) -> None:
    if where == "environment":
        monkeypatch.setenv(variable, value)
    else:
        Path(".env").write_text(f"{variable}='{value}'\n")
    with pytest.raises(ImproperlyConfigured) as info:
        load_settings()
    assert info.value.option == variable
    assert str(info.value) == f"{variable}: duplicate key {key!r} in JSON"
    assert "S3cr3t" not in str(info.value) + repr(info.value)


@pytest.mark.parametrize(
    ("variable", "value", "option"),
    [
        (
            "EMAIL_PROVIDERS__a__OPTIONS",
            '{"host": "h", "password": "S3", "password": "S4"}',
            "OPTIONS",
        ),
        ("EMAIL_PROVIDERS__a__DEFAULTS__headers", '{"X-A": "S3", "X-A": "S4"}', "DEFAULTS"),
    ],
)
def test_duplicate_keys_in_nested_json_name_alias_and_option(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, option: str
) -> None:
    monkeypatch.setenv("EMAIL_PROVIDERS__a__BACKEND", "smtp")
    monkeypatch.setenv(variable, value)
    with pytest.raises(InvalidEmailProvider) as info:
        load_settings()
    assert ("a", option) in [(p.alias, p.option) for p in info.value.errors]
    assert "duplicate key" in str(info.value)
    assert "S3" not in str(info.value) and "S4" not in str(info.value)
