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


# --- every error's exact text, alias, option and masking (from mutation testing) --------

KNOWN = (
    "smtp://, smtp+starttls://, smtps://, console://, file://, locmem://, dummy://, "
    "failover://, roundrobin://, ses+api://, mailgun+api://, postmark+api://, "
    "sendgrid+api://, resend+api://, celery://"
)
AT_AFTER_HOST = (
    "'@' after the host: percent-encode special characters in the user and password "
    "('/' as %2F, '?' as %3F, '#' as %23, '@' as %40)"
)
FILE_USER = "a file DSN takes no user or password; write an '@' of a directory name as %40"
MALFORMED = (
    "malformed DSN: the user, password or host part has characters that are not allowed "
    "there (percent-encode them)"
)
FAILOVER_ONLY = "failover:// takes provider aliases only, e.g. failover://primary,backup"
POSTMARK_AT = (
    "expected @default (the public endpoint) or @host[:port], e.g. "
    "postmark+api://SERVER_TOKEN@default"
)


@pytest.mark.parametrize(
    ("dsn", "option", "message"),
    [
        (
            "just-a-string-with-hunter2",
            None,
            "expected a DSN (scheme://…, e.g. smtp://host:25) or a mapping; got a string",
        ),
        # An unknown scheme: the whole user part is masked (it may be an API key).
        ("foo://user:hunter2@host", None, f"unknown DSN scheme 'foo'; expected one of {KNOWN}"),
        ("foo://hunter2@host", None, f"unknown DSN scheme 'foo'; expected one of {KNOWN}"),
        ("foo://a@hunter2@host", None, f"unknown DSN scheme 'foo'; expected one of {KNOWN}"),
        ("foo://hunter2/path?x=1", None, f"unknown DSN scheme 'foo'; expected one of {KNOWN}"),
        ("smtp://[::1", None, MALFORMED),
        (
            "smtps://u:hunter2@host:587",
            None,
            "smtps:// means implicit TLS (usually port 465), but port 587 is for STARTTLS; "
            "write smtp+starttls://…:587 instead",
        ),
        ("smtp://u:hunter2@host:abc", "port", "expected an integer 1–65535 as port"),  # noqa: RUF001
        ("smtp://u:hunter2@:25", "host", "an SMTP DSN needs a host, e.g. smtp://host:25"),
        (
            "smtp://u:hunter2@mx:25/p",
            "host",
            "smtp:// takes no path after host:port, only ?options",
        ),
        ("smtp://u:hunter2@h#a#b", None, "a DSN takes no #fragment (write '#' as %23)"),
        ("smtp://user:pa/hunter2@host", None, AT_AFTER_HOST),
        (
            "smtp://u:hunter2@host:25?port=26",
            "port",
            "port is set in the DSN already; give it once",
        ),
        (
            "smtps://u:hunter2@h?use_ssl=false",
            "use_ssl",
            "use_ssl is set by the scheme; give it once",
        ),
        ("smtp://u:hunter2@host?=1", None, "empty query parameter name"),
        ("smtp://u:hunter2@host?a=1&a=2", "a", "query parameter given twice"),
        ("file://", "file_path", "a file DSN needs a directory, e.g. file:///var/mail"),
        ("file:///dir@x", None, FILE_USER),
        ("file:///:hunter2@x", None, FILE_USER),
        ("console://somewhere", None, "console:// takes no host or path, only ?options"),
        ("console:///X", None, "console:// takes no host or path, only ?options"),
        ("failover://user@primary", None, FAILOVER_ONLY),
        ("failover://a,b/X", None, FAILOVER_ONLY),
        (
            "failover://a,,b",
            "using",
            "failover:// needs the aliases of other providers separated by commas, "
            "e.g. failover://primary,backup",
        ),
        ("postmark+api://hunter2", None, POSTMARK_AT),
        ("postmark+api://hunter2@", None, POSTMARK_AT),
        ("postmark+api://hunter2@default/path", None, POSTMARK_AT),
        ("postmark+api://hunter2@default/X", None, POSTMARK_AT),
        (
            "mailgun+api://hunter2",
            None,
            "expected @default (the public endpoint) or @host[:port], e.g. "
            "mailgun+api://API_KEY:DOMAIN@default",
        ),
        (
            "postmark+api://a:hunter2@default",
            None,
            "expected one key before '@' (write ':' as %3A): postmark+api://SERVER_TOKEN@default",
        ),
        (
            "resend+api://k:hunter2@default",
            None,
            "expected one key before '@' (write ':' as %3A): resend+api://API_KEY@default",
        ),
        ("mailgun+api://hunter2:d@h:abc", "endpoint", "expected an integer 1–65535 as port"),  # noqa: RUF001
    ],
)
def test_error_text_alias_and_option(dsn: str, option: str | None, message: str) -> None:
    with pytest.raises(InvalidEmailProvider) as info:
        parse_dsn(dsn, alias="Mailer")
    [problem] = info.value.errors
    assert (problem.alias, problem.option) == ("Mailer", option)
    assert problem.message.partition(" (in DSN ")[0] == message
    assert "hunter2" not in problem.message


@pytest.mark.parametrize(
    ("dsn", "shown"),
    [
        ("foo://user:hunter2@host", "foo://***@host"),
        ("foo://hunter2@host", "foo://***@host"),
        ("foo://a@hunter2@host", "foo://***@host"),  # the last '@' ends the user part
        ("foo://hunter2/path?x=1", "foo://***/path?x=1"),  # no '@': the key stands as host
        ("smtp://[::1", "smtp://[::1"),
        ("smtp://u:hunter2@h#a#b", "smtp://u:***@h#…"),  # not even the fragment is shown
        ("smtp://user:pa/hunter2@host", "smtp://user:***@host"),
        ("file:///:hunter2@x", "file:///:***@x"),
        ("postmark+api://hunter2", "postmark+api://***"),
        ("postmark+api://hunter2@", "postmark+api://***@"),
        ("mailgun+api://hunter2:d@h:abc", "mailgun+api://***@h:abc"),
    ],
)
def test_the_dsn_shown_in_errors(dsn: str, shown: str) -> None:
    with pytest.raises(InvalidEmailProvider) as info:
        parse_dsn(dsn, alias="Mailer")
    assert info.value.errors[0].message.endswith(f" (in DSN {shown!r})")


POSTMARK = "mailproviders.backends.http.postmark.EmailBackend"
MAILGUN = "mailproviders.backends.http.mailgun.EmailBackend"


@pytest.mark.parametrize(
    ("dsn", "backend", "options"),
    [
        ("smtp://h?x=a=b", SMTP, {"host": "h", "x": "a=b"}),  # the first '=' ends the key
        ("failover://a,b/", "mailproviders.backends.failover.EmailBackend", {"using": ["a", "b"]}),
        ("console:///", "mailproviders.backends.console.EmailBackend", {}),
        ("postmark+api://k1@default", POSTMARK, {"server_token": "k1"}),
        ("postmark+api://k1@DEFAULT", POSTMARK, {"server_token": "k1"}),
        ("postmark+api://k1@default/", POSTMARK, {"server_token": "k1"}),
        ("postmark+api://k%40y@default", POSTMARK, {"server_token": "k@y"}),
        ("postmark+api://k@y@default", POSTMARK, {"server_token": "k@y"}),
        (
            "postmark+api://k1@api.example.com",
            POSTMARK,
            {"server_token": "k1", "endpoint": "https://api.example.com"},
        ),
        (
            "mailgun+api://k1:example.com@default",
            MAILGUN,
            {"api_key": "k1", "domain": "example.com"},
        ),
        (
            "mailgun+api://k1:dom@127.0.0.1:8080",
            MAILGUN,
            {"api_key": "k1", "domain": "dom", "endpoint": "http://127.0.0.1:8080"},
        ),
        ("ses+api://default", "mailproviders.backends.http.ses.EmailBackend", {}),
        (
            "ses+api://ID:se%2Fcret@default",
            "mailproviders.backends.http.ses.EmailBackend",
            {"access_key_id": "ID", "secret_access_key": "se/cret"},
        ),
        (
            "resend+api://k1@default",
            "mailproviders.backends.http.resend.EmailBackend",
            {"api_key": "k1"},
        ),
        (
            "sendgrid+api://k1@localhost",
            "mailproviders.backends.http.sendgrid.EmailBackend",
            {"api_key": "k1", "endpoint": "http://localhost"},
        ),
    ],
)
def test_api_and_edge_forms(dsn: str, backend: str, options: dict[str, object]) -> None:
    assert parse_dsn(dsn, alias="a") == {"BACKEND": backend, "OPTIONS": options}
