"""Fuzzing configuration input: DSN strings, provider mappings and environment values
either load or raise the documented ``ImproperlyConfigured``/``InvalidEmailProvider`` —
never another exception — and a password never appears in the error."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mailproviders.config import MailSettings, load_settings, parse_dsn, validate_providers
from mailproviders.exceptions import ImproperlyConfigured, InvalidEmailProvider

FUZZ = settings(
    max_examples=int(os.environ.get("MAILPROVIDERS_FUZZ_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

SECRET = "Sentinel-Pw-7f3a"


def _clean(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    # The sentinel goes only where a password belongs (Hypothesis also reuses literals
    # from this file, so it would otherwise turn up as a host or a port, which may be shown).
    return strategy.filter(lambda value: SECRET not in value)


_CHARS = st.characters(exclude_categories=[])
_ENV_CHARS = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
_PIECES = [
    "smtp://", "smtps://", "smtp+starttls://", "file://", "console://", "locmem://",
    "dummy://", "@", ":", "/", "?", "&", "=", "#", "%", "%40", "%zz", "[", "]", "::1",
    "host", "127.0.0.1", "465", "587", "99999", "-1", "port=", "timeout=", "password=",
    "stream=stderr", "use_tls=1", "user", " ", "\n", "\x00", "é", "日本",
]  # fmt: skip
dsn = st.one_of(
    _clean(st.text(_CHARS, max_size=40)),
    _clean(
        st.lists(
            st.one_of(st.sampled_from(_PIECES), st.text(_CHARS, max_size=4)), max_size=10
        ).map("".join)
    ),
    st.builds(
        lambda scheme, user, host, port, query: f"{scheme}{user}:{SECRET}@{host}{port}{query}",
        st.sampled_from(["smtp://", "smtps://", "smtp+starttls://", "file://", "console://"]),
        _clean(st.text(_CHARS, max_size=6)),
        _clean(st.text(_CHARS, max_size=10)),
        st.sampled_from(["", ":25", ":587", ":0", ":x", ":99999"]),
        st.sampled_from(["", "?timeout=0", "?timeout=x", "?port=1", "?nope=1", "?a&a"]),
    ),
)
json_like = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(), _clean(st.text(_CHARS, max_size=8))
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.one_of(
                st.sampled_from(["BACKEND", "OPTIONS", "DEFAULTS"]), _clean(st.text(max_size=6))
            ),
            inner,
            max_size=3,
        ),
    ),
    max_leaves=8,
)
option_names = st.sampled_from(
    ["host", "port", "timeout", "use_tls", "use_ssl", "username", "password", "file_path",
     "stream", "ssl_cafile", "alias", "nope"]
)  # fmt: skip
provider = st.one_of(
    dsn,
    json_like,
    st.fixed_dictionaries(
        {
            "BACKEND": st.sampled_from(["smtp", "console", "file", "locmem", "dummy", "x.y.Z"]),
            "OPTIONS": st.dictionaries(option_names, json_like, max_size=4).map(
                lambda options: {**options, "password": SECRET}
            ),
        }
    ),
)


def _check_error(exc: ImproperlyConfigured) -> None:
    assert exc.errors, "every problem is listed"
    text = str(exc)
    assert text
    assert SECRET not in text
    assert SECRET not in repr(exc)
    for problem in exc.errors:
        assert SECRET not in str(problem)


@FUZZ
@given(text=dsn)
@example(text=f"smtp://user:{SECRET}@host:x")
@example(text=f"smtps://user:{SECRET}@host:587")
@example(text=f"smtp://user:{SECRET}@[::1")
@example(text=f"smtp://:{SECRET}@\ufe55")  # urllib's error quoted the netloc
def test_parse_dsn(text: str) -> None:
    try:
        parsed = parse_dsn(text, alias="fuzz")
    except InvalidEmailProvider as exc:
        _check_error(exc)
        assert exc.alias == "fuzz"
        return
    assert set(parsed) == {"BACKEND", "OPTIONS"}
    assert isinstance(parsed["OPTIONS"], dict)


@FUZZ
@given(raw=provider, alias=_clean(st.text(_CHARS, min_size=1, max_size=8)))
@example(raw={"BACKEND": "smtp", "OPTIONS": {"password": SECRET, "port": "x"}}, alias="a")
@example(raw={"BACKEND": "smtp", "OPTIONS": {"password": [SECRET]}}, alias="a")
@example(raw=f"file:///:{SECRET}@", alias="0")
def test_validate_providers(raw: Any, alias: str) -> None:
    try:
        providers = validate_providers({alias: raw})
    except InvalidEmailProvider as exc:
        _check_error(exc)
        return
    (config,) = providers.values()
    assert SECRET not in repr(config)
    assert SECRET not in str(config)


@contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


provider_env_names = st.sampled_from(
    [
        "EMAIL_PROVIDERS", "EMAIL_PROVIDERS__default", "EMAIL_PROVIDERS__default__BACKEND",
        "EMAIL_PROVIDERS__default__OPTIONS__port", "EMAIL_PROVIDERS__default__OPTIONS__password",
        "EMAIL_PROVIDERS__Mixed__OPTIONS__timeout", "EMAIL_PROVIDERS__x__DEFAULTS__reply_to",
        "EMAIL_PROVIDERS__x__DEFAULTS__headers", "EMAIL_PROVIDERS__x__nope", "EMAIL_PROVIDERS__",
        "EMAIL_PORT", "EMAIL_TIMEOUT",
    ]
)  # fmt: skip
other_env_names = st.sampled_from(
    [
        "ADMINS", "MANAGERS", "EMAIL_USE_TLS", "EMAIL_HOST", "EMAIL_HOST_PASSWORD",
        "EMAIL_USE_LOCALTIME", "DEFAULT_FROM_EMAIL", "EMAIL_BACKEND", "EMAIL_FILE_PATH",
    ]
)  # fmt: skip
plain_value = st.one_of(
    _clean(st.text(_ENV_CHARS, max_size=30)),
    st.sampled_from(['{"default": "console://"}', "[1,", "{", "true", "0", "1e400", "nan"]),
)
#: Values where a DSN with a password may be given (or given by mistake, e.g. EMAIL_PORT):
#: an error must mask its password.
provider_value = st.one_of(
    plain_value,
    dsn.filter(lambda v: "\x00" not in v and v.encode("utf-8", "surrogatepass").isascii()),
)


@FUZZ
@given(
    env=st.one_of(
        st.dictionaries(provider_env_names, provider_value, max_size=3),
        st.dictionaries(other_env_names, plain_value, max_size=3),
    ).map(dict)
)
@example(env={"EMAIL_PROVIDERS__default": f"smtp://u:{SECRET}@host:x"})
@example(env={"EMAIL_HOST_PASSWORD": SECRET, "EMAIL_PORT": "x"})
def test_environment_values(env: dict[str, str]) -> None:
    for name in env:
        if name.endswith(("PASSWORD", "password")):
            env[name] = SECRET
    with _environ(env), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            loaded = load_settings()
        except ImproperlyConfigured as exc:
            _check_error(exc)
            return
    assert isinstance(loaded, MailSettings)
    assert SECRET not in repr(loaded)
    assert SECRET not in str(loaded)


def test_password_with_unencoded_question_mark_is_rejected_without_showing_it() -> None:
    # Found by fuzzing: "?" in the password ended the host part; the rest of the password
    # became an OPTIONS name and was printed in the error.
    try:
        validate_providers({"default": f"smtp://user:12?{SECRET}@host"})
    except InvalidEmailProvider as exc:
        assert "percent-encode" in str(exc)
        assert SECRET not in str(exc)
    else:
        raise AssertionError("accepted a DSN whose password spilled into the query")


def test_file_dsn_with_user_and_password_is_rejected() -> None:
    # Found by fuzzing: the user and password of file://user:pw@dir became the directory.
    try:
        validate_providers({"files": f"file://user:{SECRET}@mail"})
    except InvalidEmailProvider as exc:
        assert "takes no user or password" in str(exc)
        assert SECRET not in str(exc)
    else:
        raise AssertionError("accepted a file DSN with a password")


@pytest.mark.parametrize("dsn", [f"file:///:{SECRET}@", f"file:///user:{SECRET}@var/mail"])
def test_file_dsn_with_credentials_in_the_path_is_rejected(dsn: str) -> None:
    # Found by fuzzing: file:///:pw@ put the password into the directory name, shown in repr.
    with pytest.raises(InvalidEmailProvider, match="takes no user or password") as info:
        validate_providers({"files": dsn})
    assert SECRET not in str(info.value)


def test_file_dsn_with_encoded_at_sign_in_a_directory_name() -> None:
    (config,) = validate_providers({"files": "file:///var/mail/team%40example"}).values()
    assert config.OPTIONS["file_path"] == "/var/mail/team@example"


def test_dsn_given_to_another_setting_is_shown_masked() -> None:
    with _environ({"EMAIL_PORT": f"smtp://u:{SECRET}@host:25"}), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            load_settings()
        except ImproperlyConfigured as exc:
            assert "EMAIL_PORT" in str(exc)
            assert "smtp://u:***@host:25" in str(exc)
            assert SECRET not in str(exc)
        else:
            raise AssertionError("accepted a DSN as EMAIL_PORT")


def test_dsn_given_as_backend_is_shown_masked() -> None:
    try:
        validate_providers({"default": {"BACKEND": f"smtp://u:{SECRET}@host"}})
    except InvalidEmailProvider as exc:
        assert "BACKEND" in str(exc)
        assert SECRET not in str(exc)
    else:
        raise AssertionError("accepted a DSN as BACKEND")


@FUZZ
@given(depth=st.integers(1, 150_000), duplicate=st.booleans(), top=st.booleans())
@example(depth=100_000, duplicate=False, top=False)
@example(depth=3, duplicate=True, top=True)
def test_json_nesting_and_duplicate_keys_in_the_environment(
    depth: int, duplicate: bool, top: bool
) -> None:
    # A value nested deeper than the parser's recursion limit raised RecursionError; a
    # key given twice silently took the last value.
    options = f'"host": "h", "timeout": {"[" * depth}{"]" * depth}'
    if duplicate:
        options += f', "password": "{SECRET}", "password": "x"'
    provider = f'{{"BACKEND": "console", "OPTIONS": {{{options}}}}}'
    name = "EMAIL_PROVIDERS" if top else "EMAIL_PROVIDERS__default"
    value = f'{{"default": {provider}}}' if top else provider
    with _environ({name: value}):
        try:
            load_settings()
        except ImproperlyConfigured as exc:
            _check_error(exc)
            if depth > 30 or duplicate:
                assert exc.option == name
            return
    raise AssertionError("loaded a provider with bad options")


@FUZZ
@given(value=st.text(_ENV_CHARS, max_size=30))
@example(value="pa ss #x $HOME")
@example(value="${HOME} 'q' \\\\ \\' \"")
def test_migrated_env_lines_read_back_through_dotenv(value: str) -> None:
    from mailproviders.cli.show import env_lines

    provider = {
        "BACKEND": "mailproviders.backends.smtp.EmailBackend",
        "OPTIONS": {"host": "mail.example.com", "use_tls": True, "username": value},
    }
    with open(".env", "w", encoding="utf-8") as file:
        file.write(env_lines("default", provider))
    loaded = load_settings().EMAIL_PROVIDERS
    assert loaded is not None
    assert loaded["default"].OPTIONS["username"] == value
