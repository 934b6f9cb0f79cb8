"""Passwords on the SMTP paths (issue 15, item 14) and the plaintext-AUTH rule (item 15):
real aiosmtpd servers with AUTH, real configuration loading, real environment variables."""

from __future__ import annotations

import asyncio
import base64
import hmac
import smtplib
import traceback
import warnings
from collections.abc import Callable

import pytest

import mailproviders
from mailproviders.backends.smtp import EmailBackend
from mailproviders.exceptions import ImproperlyConfigured, InvalidEmailProvider
from mailproviders.legacy import MailProvidersDeprecationWarning
from mailproviders.message import EmailMessage
from smtp_fixtures import Script, ScriptedConnection, ScriptedServer, SMTPTestServer

SECRET = "pä$$wörd-€-sentinel"  # not ASCII, as a password may well be


def message() -> EmailMessage:
    return EmailMessage("Hi", "Body", "from@example.com", ["to@example.com"])


def everything_shown(exc: BaseException) -> str:
    """The exception as a user or a log could see it: str, repr, notes, traceback."""
    shown = [str(exc), repr(exc), *getattr(exc, "__notes__", [])]
    shown += traceback.format_exception(exc)
    cause: BaseException | None = exc
    while cause is not None:
        shown += [repr(cause), repr(getattr(cause, "args", ()))]
        shown += [repr(getattr(cause, name, None)) for name in ("object", "reason")]
        cause = cause.__cause__ or cause.__context__
    return "\n".join(shown)


# --- item 14: non-ASCII passwords, never shown, not kept ---------------------------------


@pytest.mark.parametrize("path", ["sync", "async"])
def test_non_ascii_password_logs_in_on_both_paths(
    path: str, smtp_auth_server: SMTPTestServer
) -> None:
    smtp_auth_server.password = SECRET  # the server's authenticator reads it per attempt
    backend = EmailBackend(**smtp_auth_server.options())
    if path == "sync":
        assert backend.send_messages([message()]) == 1
    else:
        assert asyncio.run(backend.asend_messages([message()])) == 1
    assert smtp_auth_server.auth_attempts == 1
    assert len(smtp_auth_server.messages) == 1


@pytest.mark.parametrize("path", ["sync", "async"])
def test_rejected_non_ascii_password_is_in_no_exception(
    path: str, smtp_auth_server: SMTPTestServer
) -> None:
    backend = EmailBackend(**smtp_auth_server.options(password=SECRET))  # wrong password
    with pytest.raises(smtplib.SMTPAuthenticationError) as info:
        if path == "sync":
            backend.send_messages([message()])
        else:
            asyncio.run(backend.asend_messages([message()]))
    shown = everything_shown(info.value)
    assert SECRET not in shown
    assert SECRET.encode() not in shown.encode()
    assert repr(SECRET)[1:-1] not in shown


def test_connection_keeps_no_password_after_login(smtp_auth_server: SMTPTestServer) -> None:
    smtp_auth_server.password = SECRET
    backend = EmailBackend(**smtp_auth_server.options())
    backend.open()
    try:
        connection = backend.connection
        assert connection is not None
        assert getattr(connection, "password", None) is None
        assert getattr(connection, "user", None) is None
        assert SECRET not in repr(vars(connection))
        assert backend.send_messages([message()]) == 1
    finally:
        backend.close()


@pytest.mark.parametrize(
    "options",
    [
        {"host": f"smtp://mailer:{SECRET}@mail.example.com:587"},
        {"host": f"smtps://mail.example.com?password={SECRET}"},
    ],
)
def test_dsn_given_as_host_is_a_masked_load_time_error(options: dict[str, str]) -> None:
    with pytest.raises(InvalidEmailProvider) as info:
        mailproviders.configure(
            EMAIL_PROVIDERS={"default": {"BACKEND": "smtp", "OPTIONS": options}}
        )
    assert [error.option for error in info.value.errors] == ["host"]
    assert "expected a host name" in str(info.value)
    assert SECRET not in everything_shown(info.value)
    with pytest.raises(InvalidEmailProvider) as direct:  # built directly: the same check
        EmailBackend(**options)
    assert direct.value.option == "host"
    assert SECRET not in everything_shown(direct.value)


def test_dsn_given_as_legacy_email_host_is_a_masked_load_time_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EMAIL_HOST", f"smtp://mailer:{SECRET}@mail.example.com:587")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MailProvidersDeprecationWarning)
        with pytest.raises(ImproperlyConfigured) as info:
            mailproviders.configure()
    assert "host" in str(info.value)
    assert "smtp://mailer:***@mail.example.com:587" in str(info.value)
    assert SECRET not in everything_shown(info.value)


# --- item 15: no password in plain text to a remote host without an opt-in ---------------


def test_plaintext_auth_to_a_remote_host_is_a_load_time_error() -> None:
    dsn = f"smtp://mailer:{SECRET}@mail.example.com:25"
    with pytest.raises(InvalidEmailProvider) as info:
        mailproviders.configure(EMAIL_PROVIDERS={"default": dsn})
    [error] = info.value.errors
    assert (error.alias, error.option) == ("default", "allow_plaintext_auth")
    assert "smtp+starttls://" in error.message
    assert "plain text" in error.message
    assert SECRET not in everything_shown(info.value)


@pytest.mark.parametrize(
    "dsn",
    [
        "smtp://mailer:pw@mail.example.com:25?allow_plaintext_auth=true",
        "smtp+starttls://mailer:pw@mail.example.com:587",
        "smtps://mailer:pw@mail.example.com",
        "smtp://mailer@mail.example.com:25",  # no password: no login
        "smtp://mail.example.com:25",
        "smtp://mailer:pw@127.0.0.1:25",
        "smtp://mailer:pw@127.8.9.10:25",
        "smtp://mailer:pw@localhost:25",
        "smtp://mailer:pw@[::1]:25",
    ],
)
def test_plaintext_auth_rule_allows(dsn: str) -> None:
    mailproviders.configure(EMAIL_PROVIDERS={"default": dsn})
    assert isinstance(mailproviders.providers["default"], EmailBackend)


def test_plaintext_auth_opt_in_as_options() -> None:
    options = {"host": "mail.example.com", "username": "u", "password": "pw"}
    providers = {"default": {"BACKEND": "smtp", "OPTIONS": options}}
    with pytest.raises(InvalidEmailProvider):
        mailproviders.configure(EMAIL_PROVIDERS=providers)
    options["allow_plaintext_auth"] = True  # type: ignore[assignment]
    mailproviders.configure(EMAIL_PROVIDERS=providers)
    backend = mailproviders.providers["default"]
    assert isinstance(backend, EmailBackend)
    assert backend.allow_plaintext_auth is True


def test_legacy_settings_keep_working_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_HOST", "mail.example.com")
    monkeypatch.setenv("EMAIL_HOST_USER", "mailer")
    monkeypatch.setenv("EMAIL_HOST_PASSWORD", SECRET)
    with pytest.warns(MailProvidersDeprecationWarning) as record:
        mailproviders.configure()
        backend = mailproviders.providers["default"]
    assert isinstance(backend, EmailBackend)
    assert backend.allow_plaintext_auth is True
    texts = [str(warning.message) for warning in record]
    assert any("plain text" in text and "smtp+starttls://" in text for text in texts)
    assert not any(SECRET in text for text in texts)


def test_legacy_settings_with_tls_need_no_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_HOST", "mail.example.com")
    monkeypatch.setenv("EMAIL_HOST_USER", "mailer")
    monkeypatch.setenv("EMAIL_HOST_PASSWORD", SECRET)
    monkeypatch.setenv("EMAIL_USE_TLS", "true")
    with pytest.warns(MailProvidersDeprecationWarning) as record:
        mailproviders.configure()
        backend = mailproviders.providers["default"]
    assert isinstance(backend, EmailBackend)
    assert backend.allow_plaintext_auth is False
    assert not any("plain text" in str(warning.message) for warning in record)


def test_backend_built_directly_is_not_checked_and_does_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        backend = EmailBackend(host="mail.example.com", username="u", password="pw")
    assert backend.allow_plaintext_auth is False


@pytest.mark.parametrize("mechanism", ["LOGIN", "CRAM-MD5"])
@pytest.mark.parametrize("path", ["sync", "async"])
def test_login_and_cram_md5_encode_the_password_as_utf8(
    mechanism: str, path: str, scripted_smtp_server: Callable[[Script], ScriptedServer]
) -> None:
    challenge = b"<1896.697170952@mail.example.com>"
    answers: list[bytes] = []

    def server_offering_only(conn: ScriptedConnection) -> None:
        conn.reply("220 ready")
        conn.command()  # EHLO
        conn.reply(f"250-scripted\r\n250 AUTH {mechanism}")
        auth = conn.command().split()
        if auth[:2] != [b"AUTH", mechanism.encode()]:
            return
        prompts = [b"Username:", b"Password:"] if mechanism == "LOGIN" else [challenge]
        if len(auth) == 3:  # LOGIN with the user name as initial response (RFC 4954)
            answers.append(base64.b64decode(auth[2]))
            prompts = prompts[1:]
        for prompt in prompts:
            conn.reply(b"334 " + base64.b64encode(prompt))
            answers.append(base64.b64decode(conn.command()))
        conn.reply("235 2.7.0 Authentication successful")
        conn.until("DATA", greeting="")
        conn.reply("354 go ahead")
        conn.read_data()
        conn.reply("250 ok")
        conn.until("QUIT", greeting="")

    server = scripted_smtp_server(server_offering_only)
    backend = EmailBackend(**server.options(username="mäiler", password=SECRET))
    if path == "sync":
        assert backend.send_messages([message()]) == 1
    else:
        assert asyncio.run(backend.asend_messages([message()])) == 1
    if mechanism == "LOGIN":
        assert answers == ["mäiler".encode(), SECRET.encode()]
    else:
        digest = hmac.new(SECRET.encode(), challenge, "md5").hexdigest()
        assert answers == [f"mäiler {digest}".encode()]
