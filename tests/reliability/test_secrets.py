"""A password never shows: not in any repr/str, exception, CLI output, warning or log record.

Every test puts the same sentinel password in the configuration and then looks for it on
one public surface.
"""

from __future__ import annotations

import logging
import os
import smtplib
import subprocess
import sys
import traceback
import warnings
from pathlib import Path

import pytest

import mailproviders
from mailproviders.backends.smtp import EmailBackend
from mailproviders.config import ProviderConfig, load_settings, validate_providers
from mailproviders.exceptions import ImproperlyConfigured
from mailproviders.handler import providers
from mailproviders.legacy import MailProvidersDeprecationWarning
from mailproviders.message import EmailMessage
from mailproviders.sending import send_mail
from smtp_fixtures import ServerFactory, SMTPTestServer

SECRET = "Sentinel-Pw-5c1e"
DSN = f"smtp+starttls://mailer:{SECRET}@smtp.example.com:587"


def _everything(exc: BaseException) -> str:
    """All a user can see of an exception: message, repr, notes, formatted traceback."""
    return "\n".join(
        [str(exc), repr(exc), *getattr(exc, "__notes__", []), *traceback.format_exception(exc)]
    )


def test_settings_providers_and_backends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_PROVIDERS__default", DSN)
    monkeypatch.setenv("EMAIL_PROVIDERS__other__OPTIONS__password", SECRET)
    monkeypatch.setenv("EMAIL_PROVIDERS__other__OPTIONS__host", "h.example.com")
    settings = mailproviders.configure()
    config = settings.EMAIL_PROVIDERS["default"]  # type: ignore[index]
    backend = providers["default"]
    surfaces = [
        repr(settings), str(settings), repr(config), str(config), repr(providers),
        repr(backend), str(backend), repr(vars(backend)), repr(providers["other"]),
        config.model_dump_json(), settings.model_dump_json(), repr(settings.model_dump()),
        repr(ProviderConfig.model_validate(DSN)),
    ]  # fmt: skip
    for surface in surfaces:
        assert SECRET not in surface
    assert backend.password is not None
    assert backend.password.get_secret_value() == SECRET  # it is there, only hidden


def test_backend_built_directly() -> None:
    backend = EmailBackend(host="h", username="u", password=SECRET)
    assert SECRET not in repr(backend)
    assert SECRET not in str(backend)


def test_failed_login(fault_smtp_server: ServerFactory) -> None:
    server = fault_smtp_server(tls="starttls", auth=True)
    backend = EmailBackend(**server.options(password=SECRET))
    with pytest.raises(smtplib.SMTPAuthenticationError) as info:
        backend.send_messages([EmailMessage("s", "b", "a@example.com", ["b@example.com"])])
    assert SECRET not in _everything(info.value)


@pytest.mark.parametrize(
    "provider",
    [
        {"BACKEND": "smtp", "OPTIONS": {"password": SECRET, "port": "abc"}},
        {"BACKEND": "smtp", "OPTIONS": {"password": [SECRET]}},
        {"BACKEND": "smtp", "OPTIONS": {"password": SECRET, "nope": 1}},
        {"BACKEND": "console", "OPTIONS": {"password": SECRET}},
        f"smtp://mailer:{SECRET}@host:notaport",
        f"smtps://mailer:{SECRET}@host:587",
        f"smtp://mailer:{SECRET}@host:25?timeout=-1",
        f"smtp://mailer:{SECRET}@host:25?password={SECRET}",
        f"nosuch://mailer:{SECRET}@host",
        f"smtp://mailer:pa?{SECRET}@host",
    ],
)
def test_validation_errors(provider: object) -> None:
    with pytest.raises(ImproperlyConfigured) as info:
        validate_providers({"default": provider})
    assert SECRET not in _everything(info.value)
    assert all(SECRET not in str(problem) for problem in info.value.errors)


def test_validation_errors_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_PROVIDERS__default", f"smtp://mailer:{SECRET}@host:99999")
    monkeypatch.setenv("EMAIL_PROVIDERS__b", f'{{"OPTIONS": {{"password": "{SECRET}", "x": 1}}}}')
    monkeypatch.setenv("EMAIL_PROVIDERS", f"not json {SECRET}")
    with pytest.raises(ImproperlyConfigured) as info:
        load_settings()
    assert SECRET not in _everything(info.value)


def test_legacy_password_warnings_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_HOST", "smtp.example.com")
    monkeypatch.setenv("EMAIL_HOST_USER", "mailer")
    monkeypatch.setenv("EMAIL_HOST_PASSWORD", SECRET)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        settings = mailproviders.configure()
        backend = providers["default"]
    assert any(issubclass(w.category, MailProvidersDeprecationWarning) for w in caught)
    for warning in caught:
        assert SECRET not in str(warning.message)
    assert SECRET not in repr(settings)
    assert SECRET not in repr(backend)
    monkeypatch.setenv("EMAIL_PORT", "not a port")
    with pytest.raises(ImproperlyConfigured) as info, warnings.catch_warnings():
        warnings.simplefilter("ignore", MailProvidersDeprecationWarning)
        mailproviders.configure()
    assert SECRET not in _everything(info.value)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(self.format(record))  # includes the formatted traceback


def test_log_records(fault_smtp_server: ServerFactory) -> None:
    auth = fault_smtp_server(tls="starttls", auth=True)
    refusing = fault_smtp_server(refuse_rcpt=["bad@example.com"])
    bad_login = auth.options(password="wrong-" + SECRET)
    mailproviders.configure(
        EMAIL_PROVIDERS={
            "bad": {"BACKEND": "smtp", "OPTIONS": bad_login},
            "refusing": {"BACKEND": "smtp", "OPTIONS": refusing.options(password=SECRET)},
        }
    )
    collect = _Collect()
    logger = logging.getLogger("mailproviders")
    old_level = logger.level
    logger.addHandler(collect)
    logger.setLevel(logging.DEBUG)
    try:
        assert send_mail("s", "b", "a@example.com", ["b@example.com"], using="bad",
                         fail_silently=True) == 0  # fmt: skip
        assert send_mail("s", "b", "a@example.com", ["ok@example.com", "bad@example.com"],
                         using="refusing") == 1  # fmt: skip
    finally:
        logger.removeHandler(collect)
        logger.setLevel(old_level)
    assert any("SMTPAuthenticationError" in text for text in collect.texts)
    assert any("bad@example.com" in text for text in collect.texts)
    for text in collect.texts:
        assert SECRET not in text


def _cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("EMAIL_", "ADMINS"))}
    return subprocess.run(
        [sys.executable, "-m", "mailproviders", *args],
        env={**clean, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "args", [("check",), ("check", "--json"), ("verify",), ("--traceback", "verify")]
)
def test_cli_output(
    args: tuple[str, ...], tmp_path: Path, smtp_auth_server: SMTPTestServer
) -> None:
    options = smtp_auth_server.options(password=SECRET)
    env = {
        "EMAIL_PROVIDERS__default": f"smtp+starttls://mailer:{SECRET}@127.0.0.1:"
        f"{smtp_auth_server.port}?ssl_cafile={options['ssl_cafile']}&timeout=10",
        "EMAIL_PROVIDERS__other__OPTIONS__password": SECRET,
        "EMAIL_PROVIDERS__other__OPTIONS__host": "127.0.0.1",
        "EMAIL_PROVIDERS__other__OPTIONS__port": "1",
    }
    result = _cli(*args, env=env, cwd=tmp_path)
    assert "default" in result.stdout
    assert SECRET not in result.stdout
    assert SECRET not in result.stderr
    if args[-1] == "verify":
        assert "SMTPAuthenticationError" in result.stdout  # the login really failed


@pytest.mark.parametrize(
    "env",
    [
        {"EMAIL_PROVIDERS__default": f"smtp://mailer:{SECRET}@host:notaport"},
        {"EMAIL_PROVIDERS__default": f"smtp://mailer:{SECRET}@host:25?port=2"},
        {"EMAIL_HOST": "h", "EMAIL_HOST_PASSWORD": SECRET, "EMAIL_PORT": "x"},
        {"EMAIL_HOST": "h", "EMAIL_HOST_USER": "u", "EMAIL_HOST_PASSWORD": SECRET},
    ],
)
@pytest.mark.parametrize("command", ["check", "migrate"])
def test_cli_errors_and_legacy(env: dict[str, str], command: str, tmp_path: Path) -> None:
    result = _cli("--traceback", command, env=env, cwd=tmp_path)
    assert SECRET not in result.stdout
    assert SECRET not in result.stderr
