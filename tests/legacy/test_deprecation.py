"""Legacy settings and APIs keep working, each warning at the caller's line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

import pytest

import mailproviders
from mailproviders import (
    EmailMessage,
    ImproperlyConfigured,
    MailProvidersDeprecationWarning,
    configure,
    mail_admins,
    providers,
    send_mail,
    send_mass_mail,
)
from mailproviders.backends import console, locmem, smtp
from mailproviders.legacy import SMTPConnection, get_connection

SECRET = "legacy-s3cret-pw"


def legacy_env(monkeypatch: pytest.MonkeyPatch, server: Any) -> None:
    monkeypatch.setenv("EMAIL_HOST", server.host)
    monkeypatch.setenv("EMAIL_PORT", str(server.port))


def _only_ours(record: list[warnings.WarningMessage]) -> list[warnings.WarningMessage]:
    return [w for w in record if issubclass(w.category, MailProvidersDeprecationWarning)]


def test_legacy_env_settings_send_with_exactly_one_warning(
    monkeypatch: pytest.MonkeyPatch, smtp_server: Any
) -> None:
    legacy_env(monkeypatch, smtp_server)
    monkeypatch.setenv("EMAIL_HOST_USER", "legacy-user")
    monkeypatch.setenv("EMAIL_HOST_PASSWORD", SECRET)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        # This server offers no AUTH, so the login fails (silenced): only the warning counts.
        assert send_mail("s", "b", "a@example.com", ["b@example.com"], fail_silently=True) == 0
    (warning,) = _only_ours(record)
    text = str(warning.message)
    assert warning.filename == __file__
    for name in ("EMAIL_HOST", "EMAIL_PORT", "EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD"):
        assert name in text
    assert "EMAIL_PROVIDERS" in text
    assert SECRET not in text
    assert "********" in text


def test_legacy_settings_build_default_provider(
    monkeypatch: pytest.MonkeyPatch, smtp_server: Any
) -> None:
    legacy_env(monkeypatch, smtp_server)
    with pytest.warns(MailProvidersDeprecationWarning, match="EMAIL_HOST"):
        assert send_mail("s", "b", "a@example.com", ["b@example.com"]) == 1
    assert len(smtp_server.messages) == 1
    backend = providers.default
    assert isinstance(backend, smtp.EmailBackend)
    assert backend.timeout == 30  # the one intentional difference from the old defaults


def test_legacy_settings_through_configure() -> None:
    with pytest.warns(MailProvidersDeprecationWarning) as record:
        configure(EMAIL_BACKEND="mailproviders.backends.locmem.EmailBackend")
    assert record[0].filename == __file__
    assert send_mail("s", "b", "a@example.com", ["b@example.com"]) == 1
    assert mailproviders.outbox[0].sent_using == "default"


def test_legacy_historical_defaults() -> None:
    with pytest.warns(MailProvidersDeprecationWarning):
        configure(EMAIL_USE_TLS=True)
    backend = providers.default
    assert isinstance(backend, smtp.EmailBackend)
    assert (backend.host, backend.port, backend.use_tls, backend.timeout) == (
        "localhost",
        25,
        True,
        30,
    )


def test_legacy_file_backend(tmp_path: Path) -> None:
    with pytest.warns(MailProvidersDeprecationWarning):
        configure(EMAIL_BACKEND="filebased", EMAIL_FILE_PATH=str(tmp_path / "mail"))
    assert send_mail("s", "b", "a@example.com", ["b@example.com"]) == 1
    assert len(list((tmp_path / "mail").iterdir())) == 1


def test_both_legacy_and_providers_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_HOST", "mail.example.com")
    monkeypatch.setenv("EMAIL_USE_SSL", "true")
    monkeypatch.setenv("EMAIL_PROVIDERS__default", "console://")
    with pytest.raises(ImproperlyConfigured) as info:
        providers.settings
    text = str(info.value)
    assert "EMAIL_HOST" in text and "EMAIL_USE_SSL" in text and "EMAIL_PROVIDERS" in text
    assert {problem.option for problem in info.value.errors} >= {"EMAIL_HOST", "EMAIL_USE_SSL"}


# -- get_connection ----------------------------------------------------------------------


def test_get_connection_no_arguments_is_default_provider() -> None:
    configure(EMAIL_PROVIDERS={"default": "locmem://"})
    with pytest.warns(MailProvidersDeprecationWarning, match="providers") as record:
        connection = get_connection()
    assert record[0].filename == __file__
    assert isinstance(connection, locmem.EmailBackend)
    assert connection.alias == "default"


def test_get_connection_keyword_overrides_default_provider(smtp_server: Any) -> None:
    configure(EMAIL_PROVIDERS={"default": {"BACKEND": "smtp", "OPTIONS": {"host": "nowhere"}}})
    with pytest.warns(MailProvidersDeprecationWarning) as record:
        connection = get_connection(host=smtp_server.host, port=smtp_server.port)
    assert all(w.filename == __file__ for w in record)
    assert connection is not providers.default
    message = EmailMessage("s", "b", "a@example.com", ["b@example.com"])
    assert connection.send_messages([message]) == 1
    assert len(smtp_server.messages) == 1


def test_get_connection_fail_silently_keeps_historical_behaviour() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    configure(EMAIL_PROVIDERS={"default": f"smtp://127.0.0.1:{port}"})
    with pytest.warns(MailProvidersDeprecationWarning, match="fail_silently"):
        connection = get_connection(fail_silently=True)
    message = EmailMessage("s", "b", "a@example.com", ["b@example.com"])
    assert connection.send_messages([message]) == 0  # refused, silenced by the backend
    assert connection.fail_silently is True
    with pytest.warns(MailProvidersDeprecationWarning):
        assert send_mail("s", "b", "a@e.com", ["b@e.com"], connection=connection) == 0


def test_get_connection_backend_path_from_legacy_settings(
    monkeypatch: pytest.MonkeyPatch, smtp_server: Any
) -> None:
    legacy_env(monkeypatch, smtp_server)
    with pytest.warns(MailProvidersDeprecationWarning):
        connection = get_connection("mailproviders.backends.smtp.EmailBackend", bogus=1)
    assert isinstance(connection, smtp.EmailBackend)
    assert connection.port == smtp_server.port
    assert connection.send_messages([EmailMessage("s", "b", "a@e.com", ["b@e.com"])]) == 1
    assert len(smtp_server.messages) == 1


def test_get_connection_unknown_options_dropped_with_warning() -> None:
    configure(EMAIL_PROVIDERS={"default": "console://"})
    with pytest.warns(MailProvidersDeprecationWarning) as record:
        connection = get_connection(colour="red")
    assert isinstance(connection, console.EmailBackend)
    assert any("colour" in str(w.message) for w in record)


def test_get_connection_backend_path_with_providers_is_runtime_error() -> None:
    configure(EMAIL_PROVIDERS={"default": "console://"})
    with pytest.warns(MailProvidersDeprecationWarning), pytest.raises(RuntimeError):
        get_connection("mailproviders.backends.console.EmailBackend")


def test_smtp_connection_sends_with_warning(
    monkeypatch: pytest.MonkeyPatch, smtp_server: Any
) -> None:
    legacy_env(monkeypatch, smtp_server)
    with pytest.warns(MailProvidersDeprecationWarning) as record:
        connection = SMTPConnection()
    assert {w.filename for w in record} == {__file__}
    assert any("SMTPConnection" in str(w.message) for w in record)
    assert isinstance(connection, smtp.EmailBackend)
    assert connection.send_messages([EmailMessage("s", "b", "a@e.com", ["b@e.com"])]) == 1
    assert len(smtp_server.messages) == 1


# -- deprecated arguments ----------------------------------------------------------------


def test_connection_argument_warns_at_caller_and_sends() -> None:
    configure(EMAIL_PROVIDERS={"default": "dummy://", "mem": "locmem://"})
    connection = providers["mem"]
    calls = [
        lambda: send_mail("s", "b", "a@e.com", ["b@e.com"], connection=connection),
        lambda: send_mass_mail([("s", "b", "a@e.com", ["b@e.com"])], connection=connection),
        lambda: EmailMessage("s", "b", "a@e.com", ["b@e.com"], connection=connection).send(),
    ]
    for call in calls:
        with pytest.warns(MailProvidersDeprecationWarning, match="using=") as record:
            assert call() == 1
        assert {w.filename for w in record} == {__file__}
    assert len(mailproviders.outbox) == 3


def test_mail_admins_connection_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMINS", '["admin@example.com"]')
    configure(EMAIL_PROVIDERS={"default": "dummy://", "mem": "locmem://"})
    with pytest.warns(MailProvidersDeprecationWarning) as record:
        assert mail_admins("s", "m", connection=providers["mem"]) == 1
    assert record[0].filename == __file__
    assert mailproviders.outbox[0].to == ["admin@example.com"]


def test_auth_user_and_password_override_login(smtp_auth_server: Any) -> None:
    options = smtp_auth_server.options()
    options.pop("username"), options.pop("password")
    configure(EMAIL_PROVIDERS={"default": {"BACKEND": "smtp", "OPTIONS": options}})
    with pytest.warns(MailProvidersDeprecationWarning, match="auth_user") as record:
        sent = send_mail(
            "s",
            "b",
            "a@example.com",
            ["b@example.com"],
            auth_user=smtp_auth_server.username,
            auth_password=smtp_auth_server.password,
        )
    assert sent == 1
    assert record[0].filename == __file__
    assert smtp_auth_server.auth_attempts == 1


def test_fail_silently_on_backend_constructor_warns() -> None:
    with pytest.warns(MailProvidersDeprecationWarning, match="fail_silently") as record:
        backend = console.EmailBackend(fail_silently=True)
    assert record[0].filename == __file__
    assert backend.fail_silently is True


def test_reading_undefined_fail_silently_warns() -> None:
    backend = locmem.EmailBackend()
    with pytest.warns(MailProvidersDeprecationWarning) as record:
        assert backend.fail_silently is False
    assert record[0].filename == __file__


# -- running legacy code as a user would -------------------------------------------------

LEGACY_SCRIPT = textwrap.dedent(
    """
    from mailproviders import send_mail
    from mailproviders.deprecation import get_connection

    connection = get_connection()
    print("sent", send_mail("legacy", "body", "a@example.com", ["b@example.com"]))
    """
)


def _run_legacy(tmp_path: Path, *warning_options: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "legacy_app.py"
    script.write_text(LEGACY_SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMAIL_")}
    env["EMAIL_BACKEND"] = "mailproviders.backends.console.EmailBackend"
    return subprocess.run(
        [sys.executable, *warning_options, str(script)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )


def test_legacy_code_fails_loudly_under_W_error(tmp_path: Path) -> None:
    result = _run_legacy(tmp_path, "-W", "error::DeprecationWarning")
    assert result.returncode != 0
    assert "MailProvidersDeprecationWarning" in result.stderr
    assert "sent" not in result.stdout


def test_legacy_code_sends_with_warnings_ignored(tmp_path: Path) -> None:
    result = _run_legacy(tmp_path, "-W", "ignore::DeprecationWarning")
    assert result.returncode == 0, result.stderr
    assert "Subject: legacy" in result.stdout
    assert "sent 1" in result.stdout


def test_legacy_names_importable_from_package(smtp_server: Any) -> None:
    from mailproviders import SMTPConnection as FromPackage
    from mailproviders import get_connection as get_from_package

    assert FromPackage is SMTPConnection
    assert repr(FromPackage) == "<class 'mailproviders.legacy.SMTPConnection'>"
    assert get_from_package is get_connection
    with pytest.warns(MailProvidersDeprecationWarning):
        backend = FromPackage(host=smtp_server.host, port=smtp_server.port)
    assert backend.send_messages([EmailMessage("s", "b", "a@e.com", ["b@e.com"])]) == 1
