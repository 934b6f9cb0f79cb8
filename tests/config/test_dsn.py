"""DSN strings: every scheme, credentials, query parameters, errors (settings/_dsn.py)."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from mailproviders.config import load_settings, parse_dsn
from mailproviders.config.values import mask_dsn
from mailproviders.exceptions import InvalidEmailProvider

SMTP = "mailproviders.backends.smtp.EmailBackend"


@pytest.mark.parametrize(
    ("dsn", "backend", "options"),
    [
        ("smtp://mail.example.com", SMTP, {"host": "mail.example.com"}),
        (
            "smtp://user:pass@mail.example.com:25",
            SMTP,
            {"host": "mail.example.com", "port": 25, "username": "user", "password": "pass"},
        ),
        (
            "smtp+starttls://u:p@mail.example.com:587",
            SMTP,
            {
                "host": "mail.example.com",
                "port": 587,
                "username": "u",
                "password": "p",
                "use_tls": True,
            },
        ),
        (
            "smtps://mail.example.com:465",
            SMTP,
            {"host": "mail.example.com", "port": 465, "use_ssl": True},
        ),
        ("smtp://[::1]:2525", SMTP, {"host": "::1", "port": 2525}),
        ("console://", "mailproviders.backends.console.EmailBackend", {}),
        (
            "console://?stream=stderr",
            "mailproviders.backends.console.EmailBackend",
            {"stream": "stderr"},
        ),
        (
            "file:///var/mail/out",
            "mailproviders.backends.filebased.EmailBackend",
            {"file_path": "/var/mail/out"},
        ),
        (
            "file://outbox/dir",
            "mailproviders.backends.filebased.EmailBackend",
            {"file_path": "outbox/dir"},
        ),
        ("locmem://", "mailproviders.backends.locmem.EmailBackend", {}),
        ("dummy://", "mailproviders.backends.dummy.EmailBackend", {}),
        ("SMTP://mail.example.com", SMTP, {"host": "mail.example.com"}),
    ],
)
def test_every_scheme(dsn: str, backend: str, options: dict[str, object]) -> None:
    assert parse_dsn(dsn, alias="a") == {"BACKEND": backend, "OPTIONS": options}


@pytest.mark.parametrize(
    ("userinfo", "username", "password"),
    [
        ("us%40er:p%40ss", "us@er", "p@ss"),
        ("user:p@ss", "user", "p@ss"),  # a raw @ in the password: the last @ ends it
        ("user:pa:ss", "user", "pa:ss"),
        ("us%3Aer:pa%3Ass", "us:er", "pa:ss"),
        ("user:100%25", "user", "100%"),
        ("user:a%2Fb%3Fc%23d", "user", "a/b?c#d"),
        ("user:", "user", ""),
    ],
)
def test_credentials_are_percent_decoded(userinfo: str, username: str, password: str) -> None:
    options = parse_dsn(f"smtp://{userinfo}@host:25", alias="a")["OPTIONS"]
    assert (options["username"], options["password"]) == (username, password)


def test_query_parameters_become_typed_options() -> None:
    settings = load_settings(
        EMAIL_PROVIDERS={
            "default": "smtp+starttls://u:p%40ss@h.example:587?timeout=10",
            "b": "smtp://h?timeout=2.5&use_ssl=true&fail_silently=0",
            "c": "console://?stream=stdout",
        }
    )
    providers = settings.EMAIL_PROVIDERS
    assert providers is not None
    default = providers["default"].OPTIONS
    assert default["timeout"] == 10.0 and isinstance(default["timeout"], float)
    assert default["port"] == 587 and default["use_tls"] is True
    assert isinstance(default["password"], SecretStr)
    assert providers["default"].backend_kwargs()["password"] == "p@ss"
    assert providers["b"].OPTIONS == {
        "host": "h",
        "timeout": 2.5,
        "use_ssl": True,
        "fail_silently": False,
    }
    assert providers["c"].OPTIONS == {"stream": "stdout"}


def test_percent_encoded_query_values() -> None:
    options = parse_dsn("file:///tmp/x?fail_silently=%74rue", alias="a")["OPTIONS"]
    assert options["fail_silently"] == "true"


@pytest.mark.parametrize(
    ("dsn", "fragment", "option"),
    [
        ("foo://user:hunter2@host", "unknown DSN scheme 'foo'", None),
        ("smtps://user:hunter2@host:587", "smtp+starttls://", None),
        ("smtp://user:hunter2@host:99999", "1–65535", "port"),  # noqa: RUF001
        ("smtp://user:hunter2@host:abc", "1–65535", "port"),  # noqa: RUF001
        ("smtp://user:hunter2@:25", "needs a host", "host"),
        ("smtp://user:hunter2@host?timeout=1&timeout=2", "given twice", "timeout"),
        ("smtp://user:hunter2@host?t%69meout=1&timeout=2", "given twice", "timeout"),
        ("smtp://user:hunter2@host?=1", "empty query parameter name", None),
        ("smtp://user:hunter2@host:25?port=26", "give it once", "port"),
        ("smtps://user:hunter2@host?use_ssl=false", "set by the scheme", "use_ssl"),
        ("smtp://user:hunter2@mx:25/path", "takes no path", "host"),
        ("smtp://user:hunter2@mx:25#frag", "no #fragment", None),
        ("smtp://user:hunter2@mx:25?timeout=1#", "no #fragment", None),
        ("file:///var/mail#x", "no #fragment", None),
        ("console://#x", "no #fragment", None),
        ("failover://a,b#x", "no #fragment", None),
        ("file://", "needs a directory", "file_path"),
        ("console://somewhere", "takes no host", None),
        ("failover://user@primary", "takes provider aliases only", None),
        ("failover://a,,b", "separated by commas", "using"),
        ("just-a-string-with-hunter2", "expected a DSN", None),
    ],
)
def test_malformed_dsn_names_alias_option_and_masks_password(
    dsn: str, fragment: str, option: str | None
) -> None:
    with pytest.raises(InvalidEmailProvider) as info:
        parse_dsn(dsn, alias="Mailer")
    message = str(info.value)
    assert "EMAIL_PROVIDERS['Mailer']" in message
    assert fragment in message
    assert "hunter2" not in message
    assert info.value.alias == "Mailer"
    assert info.value.option == option
    assert [problem.option for problem in info.value.errors] == [option]


@pytest.mark.parametrize(
    ("dsn", "options"),
    [
        ("smtp://h?%74imeout=5", {"host": "h", "timeout": "5"}),  # a percent-encoded key
        ("smtp://h?&timeout=5&&", {"host": "h", "timeout": "5"}),  # empty pairs are skipped
        ("smtp://h:25/", {"host": "h", "port": 25}),  # a lone "/" carries nothing
        ("file://localhost/dir", {"file_path": "/dir"}),
        ("file://localhost/a%20b%23c", {"file_path": "/a b#c"}),
        ("failover://Primary,backup", {"using": ["Primary", "backup"]}),
    ],
)
def test_query_keys_and_hosts(dsn: str, options: dict[str, object]) -> None:
    assert parse_dsn(dsn, alias="a")["OPTIONS"] == options


def test_unknown_query_key_is_a_load_time_error_naming_it() -> None:
    for dsn in ("smtp+starttls://u:hunter2@h:587?nope=1", "console://?nope=1", "file:///x?nope=1"):
        with pytest.raises(InvalidEmailProvider) as info:
            load_settings(EMAIL_PROVIDERS={"a": dsn})
        assert [(p.alias, p.option) for p in info.value.errors] == [("a", "nope")]
        assert "unknown option 'nope'" in str(info.value)
        assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("smtp://user@host:25", "smtp://user@host:25"),  # no password: nothing to mask
        ("smtp://user:pw@host:25", "smtp://user:***@host:25"),
        ("smtp://host?password=pw&timeout=1", "smtp://host?password=***&timeout=1"),
        ("user:pw@host", "user:***@host"),  # not a DSN: masked all the same
        ("just some text", "just some text"),
        ("postmark+api://server-token@default", "postmark+api://***@default"),
        (
            "ses+api://KEYID:secret@default?region=eu-west-1",
            "ses+api://***@default?region=eu-west-1",
        ),
    ],
)
def test_mask_dsn(text: str, shown: str) -> None:
    assert mask_dsn(text) == shown


def test_password_in_query_is_masked_in_errors() -> None:
    with pytest.raises(InvalidEmailProvider) as info:
        parse_dsn("smtps://host:587?password=hunter2", alias="a")
    assert "hunter2" not in str(info.value)


def test_bad_dsn_in_settings_is_reported_with_alias() -> None:
    with pytest.raises(InvalidEmailProvider) as info:
        load_settings(EMAIL_PROVIDERS={"ok": "console://", "bad": "smtq://u:hunter2@h"})
    assert [problem.alias for problem in info.value.errors] == ["bad"]
    assert info.value.errors[0].option is None
    assert "hunter2" not in str(info.value)
