"""OPTIONS/DEFAULTS validation, backend names, secrets (settings.py, _options.py, _validate.py)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, TextIO

import pytest
from pydantic import SecretStr

from mailproviders.backends.base import BaseEmailBackend
from mailproviders.config import (
    BUILTIN_BACKENDS,
    ProviderConfig,
    import_backend,
    load_settings,
    validate_providers,
)
from mailproviders.exceptions import InvalidEmailProvider

SECRET = "hunter2-very-secret"


def problems(providers: dict[str, Any]) -> InvalidEmailProvider:
    with pytest.raises(InvalidEmailProvider) as info:
        load_settings(EMAIL_PROVIDERS=providers)
    assert SECRET not in str(info.value)
    return info.value


def smtp(**options: Any) -> dict[str, Any]:
    return {
        "BACKEND": "smtp",
        "OPTIONS": {"host": "mx.example.com", "password": SECRET, **options},
    }


@pytest.mark.parametrize(
    ("options", "option", "fragment"),
    [
        ({"port": "abc"}, "port", "expected an integer 1–65535, got 'abc'"),  # noqa: RUF001
        ({"port": 0}, "port", "1–65535"),  # noqa: RUF001
        ({"port": 65536}, "port", "1–65535"),  # noqa: RUF001
        ({"timeout": 0}, "timeout", "expected a number of seconds > 0, got 0"),
        ({"timeout": "-1"}, "timeout", "> 0"),
        ({"use_tls": "perhaps"}, "use_tls", "a boolean"),
        ({"use_tls": True, "use_ssl": True}, "use_ssl", "mutually exclusive"),
        ({"host": ""}, "host", "a non-empty host name"),
        ({"ssl_cafile": "/nonexistent/ca.pem"}, "ssl_cafile", "no such file"),
        ({"ssl_certfile": "."}, "ssl_certfile", "existing readable file"),
        (
            {"pasword": "x"},
            "pasword",
            "unknown option 'pasword' (did you mean 'password'?); expected one of: host, ",
        ),
        ({"alias": "x"}, "alias", "reserved"),
        ({"password": 12}, "password", "'**********'"),
    ],
)
def test_smtp_option_errors(options: dict[str, Any], option: str, fragment: str) -> None:
    error = problems({"Main": smtp(**options)})
    assert [(p.alias, p.option) for p in error.errors] == [("Main", option)]
    assert f"EMAIL_PROVIDERS['Main'].OPTIONS.{option}: " in str(error)
    assert fragment in str(error)


def test_smtp_host_is_required() -> None:
    error = problems({"default": {"BACKEND": "smtp", "OPTIONS": {"password": SECRET}}})
    assert "EMAIL_PROVIDERS['default'].OPTIONS.host: required" in str(error)


def test_every_problem_is_listed_at_once() -> None:
    error = problems(
        {
            "a": smtp(port="x", timeout=-1),
            "b": {"BACKEND": "file"},
            "c": {"BACKEND": "console", "OPTIONS": {"stream": "stdlog"}},
            "d": {"BACKEND": "locmem", "OPTIONS": {"anything": 1}},
            "ok": "dummy://",
        }
    )
    assert {(p.alias, p.option) for p in error.errors} == {
        ("a", "port"),
        ("a", "timeout"),
        ("b", "file_path"),
        ("c", "stream"),
        ("d", "anything"),
    }
    assert str(error).startswith("5 configuration problems:")


def test_secret_never_in_message_even_when_echoed_by_pydantic() -> None:
    error = problems({"a": {"OPTIONS": {"host": 5, "password": ["not", SECRET]}}})
    assert "'**********'" in str(error)


def test_readable_ssl_files_are_accepted(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    settings = load_settings(EMAIL_PROVIDERS={"a": smtp(ssl_cafile=ca, ssl_certfile=str(ca))})
    assert settings.EMAIL_PROVIDERS is not None
    assert settings.EMAIL_PROVIDERS["a"].OPTIONS["ssl_cafile"] == str(ca)


def test_file_path_may_not_exist_yet_but_must_not_be_a_file(tmp_path: Path) -> None:
    settings = load_settings(EMAIL_PROVIDERS={"f": f"file://{tmp_path}/not/yet"})
    assert settings.EMAIL_PROVIDERS is not None
    assert not (tmp_path / "not").exists()
    a_file = tmp_path / "file.txt"
    a_file.write_text("")
    error = problems({"f": {"BACKEND": "file", "OPTIONS": {"file_path": a_file}}})
    assert error.errors[0].option == "file_path"


def test_console_stream_accepts_names_and_streams() -> None:
    stream = io.StringIO()
    settings = load_settings(
        EMAIL_PROVIDERS={
            "a": {"BACKEND": "console", "OPTIONS": {"stream": stream}},
            "b": "console://?stream=stderr",
        }
    )
    assert settings.EMAIL_PROVIDERS is not None
    assert settings.EMAIL_PROVIDERS["a"].backend_kwargs() == {"stream": stream}


@pytest.mark.parametrize(
    ("name", "module"),
    [
        ("smtp", "smtp"),
        ("console", "console"),
        ("filebased", "filebased"),
        ("file", "filebased"),
        ("locmem", "locmem"),
        ("dummy", "dummy"),
    ],
)
def test_short_backend_names(name: str, module: str) -> None:
    path = f"mailproviders.backends.{module}.EmailBackend"
    assert BUILTIN_BACKENDS[name] == path
    options = (
        {"host": "h"} if name == "smtp" else {"file_path": "o"} if module == "filebased" else {}
    )
    config = validate_providers({"x": {"BACKEND": name, "OPTIONS": options}})["x"]
    assert path == config.BACKEND
    assert import_backend(config.BACKEND, "x").__module__ == f"mailproviders.backends.{module}"


@pytest.mark.parametrize("backend", ["", "no such name", "mail.", 42])
def test_bad_backend_value(backend: object) -> None:
    error = problems({"x": {"BACKEND": backend}})
    assert error.errors[0].option == "BACKEND"
    assert "EMAIL_PROVIDERS['x'].BACKEND: expected a built-in backend name" in str(error)


def test_unimportable_backend_is_reported_at_first_use() -> None:
    settings = load_settings(
        EMAIL_PROVIDERS={"late": {"BACKEND": "nowhere.module.Backend", "OPTIONS": {"x": 1}}}
    )
    assert settings.EMAIL_PROVIDERS is not None
    config = settings.EMAIL_PROVIDERS["late"]
    assert config.OPTIONS == {"x": 1}
    with pytest.raises(InvalidEmailProvider) as info:
        import_backend(config.BACKEND, "late")
    assert (info.value.alias, info.value.option) == ("late", "BACKEND")
    assert "nowhere.module.Backend" in str(info.value)
    assert "ModuleNotFoundError" in str(info.value)


def test_import_backend_rejects_non_backends() -> None:
    with pytest.raises(InvalidEmailProvider, match=r"not a subclass of .*Backend") as info:
        import_backend("pathlib.Path", "p")
    assert info.value.alias == "p"
    with pytest.raises(InvalidEmailProvider, match="cannot import"):
        import_backend("mailproviders.backends.smtp.NoSuchClass", None)


class TypedBackend(BaseEmailBackend):
    def __init__(
        self,
        *,
        alias: str | None = None,
        api_key: SecretStr,
        region: str = "eu",
        retries: int = 3,
        anything=None,  # type: ignore[no-untyped-def]
        password: str | None = None,
    ) -> None:
        super().__init__(alias=alias)
        self.api_key, self.region, self.retries = api_key, region, retries
        self.anything, self.password = anything, password

    def send_messages(self, messages: Any) -> int:
        return 0


class StreamBackend(BaseEmailBackend):
    def __init__(self, *, alias: str | None = None, stream: TextIO | None = None) -> None:
        super().__init__(alias=alias)
        self.stream = stream

    def send_messages(self, messages: Any) -> int:
        return 0


def test_custom_stream_option_is_duck_typed() -> None:
    stream = io.StringIO()
    config = validate_providers({"s": {"BACKEND": StreamBackend, "OPTIONS": {"stream": stream}}})
    assert config["s"].backend_kwargs() == {"stream": stream}


class KwargsBackend(BaseEmailBackend):
    def __init__(self, *, port: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.port = port

    def send_messages(self, messages: Any) -> int:
        return 0


def test_custom_backend_options_follow_init_annotations() -> None:
    path = f"{__name__}.TypedBackend"
    config = validate_providers(
        {
            "c": {
                "BACKEND": path,
                "OPTIONS": {
                    "api_key": SECRET,
                    "retries": "5",
                    "anything": object,
                    "password": "p",
                },
            }
        }
    )["c"]
    assert config.OPTIONS["retries"] == 5
    assert isinstance(config.OPTIONS["password"], SecretStr)
    kwargs = config.backend_kwargs()
    assert isinstance(kwargs["api_key"], SecretStr)  # annotated SecretStr: stays one
    assert kwargs["password"] == "p"
    assert SECRET not in repr(config) and SECRET not in str(config)
    backend = import_backend(config.BACKEND, "c")(alias="c", **kwargs)
    assert isinstance(backend, TypedBackend) and backend.retries == 5


def test_custom_backend_errors() -> None:
    error = problems(
        {"c": {"BACKEND": TypedBackend, "OPTIONS": {"retries": "many", "unknown": SECRET}}}
    )
    assert {(p.alias, p.option) for p in error.errors} == {
        ("c", "api_key"),
        ("c", "retries"),
        ("c", "unknown"),
    }
    assert "EMAIL_PROVIDERS['c'].OPTIONS.retries: expected a valid integer" in str(error)


def test_custom_secret_option_is_masked_in_errors() -> None:
    error = problems({"c": {"BACKEND": TypedBackend, "OPTIONS": {"api_key": [SECRET]}}})
    assert error.errors[0].option == "api_key"


def test_kwargs_backend_accepts_unknown_keys() -> None:
    config = validate_providers(
        {"k": {"BACKEND": KwargsBackend, "OPTIONS": {"port": "7", "extra": "x"}}}
    )["k"]
    assert config.OPTIONS == {"port": 7, "extra": "x"}
    assert problems({"k": {"BACKEND": KwargsBackend, "OPTIONS": {"port": "x"}}}).errors


def test_local_backend_class_given_in_code() -> None:
    class LocalBackend(BaseEmailBackend):
        def send_messages(self, messages: Any) -> int:
            return 0

    config = validate_providers({"l": {"BACKEND": LocalBackend}})["l"]
    assert import_backend(config.BACKEND, "l") is LocalBackend


def test_defaults() -> None:
    config = validate_providers(
        {
            "n": {
                "BACKEND": "locmem",
                "DEFAULTS": {
                    "from_email": "n@example.com",
                    "reply_to": ["r@example.com"],
                    "headers": {"X-Tag": "n"},
                },
            }
        }
    )["n"]
    assert config.DEFAULTS is not None
    assert config.DEFAULTS.headers == {"X-Tag": "n"}
    error = problems({"n": {"BACKEND": "locmem", "DEFAULTS": {"from": "x", "reply_to": "[1"}}})
    assert [p.option for p in error.errors] == ["DEFAULTS"]
    assert "EMAIL_PROVIDERS['n'].DEFAULTS: expected JSON" in str(error)
    error = problems({"n": {"BACKEND": "locmem", "DEFAULTS": {"from_email": 1, "headers": []}}})
    assert [p.option for p in error.errors] == ["DEFAULTS.from_email", "DEFAULTS.headers"]


def test_unknown_defaults_key() -> None:
    error = problems({"n": {"BACKEND": "locmem", "DEFAULTS": {"subject": "x"}}})
    assert [(p.option, p.message) for p in error.errors] == [
        (
            "DEFAULTS.subject",
            "unknown option 'subject'; expected one of: from_email, reply_to, headers",
        )
    ]


def test_provider_config_is_frozen_and_direct_construction_validates() -> None:
    config = ProviderConfig(BACKEND="smtp", OPTIONS={"host": "h", "password": SECRET})
    assert BUILTIN_BACKENDS["smtp"] == config.BACKEND
    with pytest.raises(Exception, match="frozen"):
        config.BACKEND = "x"  # type: ignore[misc]
    with pytest.raises(InvalidEmailProvider) as info:
        ProviderConfig(BACKEND="smtp", OPTIONS={"port": 1})
    assert info.value.errors[0].alias is None


def test_options_that_are_not_a_mapping() -> None:
    error = problems({"a": {"BACKEND": "console", "OPTIONS": "nope"}, "b": 3})
    assert {(p.alias, p.option) for p in error.errors} == {("a", "OPTIONS"), ("b", None)}


def test_cross_option_rules_fail_at_load_time_and_when_built_directly(tmp_path: Path) -> None:
    key = tmp_path / "client.key"
    key.write_text("key")
    error = problems({"default": smtp(ssl_keyfile=str(key), use_tls=True, use_ssl=True)})
    assert {(p.alias, p.option) for p in error.errors} == {
        ("default", "ssl_keyfile"),
        ("default", "use_ssl"),
    }
    from mailproviders.backends.smtp import EmailBackend

    with pytest.raises(InvalidEmailProvider, match="requires ssl_certfile") as info:
        EmailBackend(alias="direct", ssl_keyfile=str(key))
    assert (info.value.alias, info.value.option) == ("direct", "ssl_keyfile")


def test_file_path_that_is_a_file_fails_the_same_way_at_load_and_build(tmp_path: Path) -> None:
    a_file = tmp_path / "not-a-dir"
    a_file.write_text("x")
    error = problems({"out": {"BACKEND": "file", "OPTIONS": {"file_path": str(a_file)}}})
    [problem] = error.errors
    from mailproviders.backends.filebased import EmailBackend

    with pytest.raises(InvalidEmailProvider) as info:
        EmailBackend(alias="out", file_path=a_file)
    assert str(info.value) == str(problem)


@pytest.mark.parametrize(
    ("provider", "expected"),
    [
        (
            {"BACKEND": "locmem", "OPTIONS": {"x": 1}},
            "unknown option 'x'; expected one of: fail_silently (deprecated)",
        ),
        (
            {"BACKEND": "console", "OPTIONS": {"strem": "stderr"}},
            "unknown option 'strem' (did you mean 'stream'?); expected one of: stream, "
            "fail_silently (deprecated)",
        ),
    ],
)
def test_unknown_option_lists_the_deprecated_one_last(
    provider: dict[str, Any], expected: str
) -> None:
    [problem] = problems({"p": provider}).errors
    assert problem.message == expected
