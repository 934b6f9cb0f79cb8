"""The Django adapter (issue 19, item 3) with real aiosmtpd servers and real Djangos.

In-process: the project venv's Django (5.2, from the test extra), every scenario of
django_adapter_scenarios.py against smtp_fixtures' server. In subprocesses: the same
scenarios under Django 4.2 (this Python) and Django 6.1 (``MAILERS``; pyenv's Python
3.13), each in a venv cached under ~/.cache/mailproviders/django-adapter/ (created on
first use with pip; the tree under test is put first on PYTHONPATH, so a venv made from
another checkout still runs this one).
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import os
import smtplib
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import django
import django_adapter_scenarios as scenarios
import pytest
from django.conf import settings
from django.core import mail

import mailproviders
from mailproviders import EmailProviderDoesNotExist
from mailproviders.integrations import django as adapter
from smtp_fixtures import SMTPTestServer

REPO = Path(__file__).resolve().parents[2]
CACHE = Path("~/.cache/mailproviders/django-adapter").expanduser()
#: pyenv's Python 3.13 (not its shim, which refuses an unselected version); the newest
#: 3.13.x installed under $PYENV_ROOT or /root/.pyenv, else the 3.13.0 these machines have.
PYTHON_313 = next(
    (
        path
        for root in dict.fromkeys((os.environ.get("PYENV_ROOT") or "/root/.pyenv", "/root/.pyenv"))
        for path in sorted(Path(root, "versions").glob("3.13*/bin/python"), reverse=True)
    ),
    Path("/root/.pyenv/versions/3.13.0/bin/python"),
)


@pytest.fixture(scope="module", autouse=True)
def _django_settings() -> None:
    if not settings.configured:
        settings.configure(**scenarios.settings_for(0))
        django.setup()  # as a Django project does; AdminEmailHandler's report needs the apps
    assert settings.EMAIL_BACKEND == adapter.ADAPTER


@pytest.mark.parametrize("run", scenarios.SCENARIOS, ids=lambda f: f.__name__)
def test_scenario_with_this_django(
    run: Callable[[Any], None], smtp_server: SMTPTestServer
) -> None:
    assert django.VERSION[:2] == (5, 2)  # what the test extra installs
    scenarios.use_provider(smtp_server.port)
    run(smtp_server)


def test_an_unknown_alias_raises_even_when_silenced() -> None:
    mailproviders.configure(EMAIL_PROVIDERS={"default": "locmem://"})
    backend = adapter.EmailBackend(fail_silently=True, using="nowhere")
    message = mail.EmailMessage("s", "b", "a@example.com", ["b@example.com"])
    with pytest.raises(EmailProviderDoesNotExist, match="nowhere") as missing:
        backend.send_messages([message])
    [note] = [n for n in missing.value.__notes__ if "Django adapter" in n]
    assert "MAILPROVIDERS_ALIAS" in note and "providers_from_django_settings" in note
    with pytest.raises(EmailProviderDoesNotExist, match="nowhere"):
        backend.open()


def test_using_option_wins_over_the_setting_and_locmem_keeps_the_bytes() -> None:
    mailproviders.configure(EMAIL_PROVIDERS={"other": "locmem://"})
    mailproviders.outbox.clear()
    backend = adapter.EmailBackend(using="other")
    assert settings.MAILPROVIDERS_ALIAS == scenarios.ALIAS != backend.using
    message = mail.EmailMessage("s", "b", "a@example.com", ["b@example.com"], bcc=["c@x.org"])
    assert backend.send_messages([message, mail.EmailMessage("no recipients")]) == 1
    [kept] = mailproviders.outbox
    assert kept.sent_using == "other" and kept.recipients() == ["b@example.com", "c@x.org"]
    assert kept.as_bytes().startswith(b"Content-Type: text/plain")  # Django's own layout
    assert "other" in repr(backend)


def test_a_partial_failure_names_the_callers_django_messages(
    fault_smtp_server: Callable[..., SMTPTestServer],
) -> None:
    """exc.sent_messages / possibly_sent_messages hold the Django messages the caller
    passed (not the adapter's rendered copies), so that it can retry only the rest."""
    server = fault_smtp_server(mail_reply="550 5.7.1 refused", mail_reply_at=2)
    scenarios.use_provider(server.port)
    messages = [mail.EmailMessage(f"n{n}", "b", "a@example.com", ["b@x.org"]) for n in "123"]
    with pytest.raises(smtplib.SMTPSenderRefused) as refused:
        adapter.EmailBackend().send_messages(messages)
    assert refused.value.sent_count == 1  # type: ignore[attr-defined]
    assert refused.value.sent_messages == messages[:1]  # type: ignore[attr-defined]
    assert [m for m in messages if m not in refused.value.sent_messages] == messages[1:]  # type: ignore[attr-defined]
    lost = fault_smtp_server(drop_after_data_at=2)
    scenarios.use_provider(lost.port)
    with pytest.raises(Exception) as dropped:
        adapter.EmailBackend().send_messages(messages)
    assert dropped.value.sent_messages == messages[:1]  # type: ignore[attr-defined]
    assert dropped.value.possibly_sent_messages == messages[1:2]  # type: ignore[attr-defined]


@pytest.fixture
def _smtp_configured() -> None:
    mailproviders.configure(
        EMAIL_PROVIDERS={scenarios.ALIAS: f"smtp://127.0.0.1:{scenarios.closed_port()}"}
    )


def test_mailoutbox_catches_what_django_sends_through_the_adapter(
    _smtp_configured: None, mailoutbox: list[Any]
) -> None:
    """docs/django.md, testing: the fixture swaps the adapter's provider to locmem too."""
    message = mail.EmailMessage("Hi", "b", "a@example.com", ["to@x.org"], bcc=["bcc@x.org"])
    assert message.send() == 1
    [kept] = mailoutbox
    assert kept.sent_using == scenarios.ALIAS and kept.subject == "Hi"
    assert kept.to == ["to@x.org", "bcc@x.org"] and b"bcc@x.org" not in kept.data


def test_import_without_django_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "django", None)
    monkeypatch.delitem(sys.modules, "mailproviders.integrations.django")
    with pytest.raises(ImportError, match=r"mailproviders\[django\]"):
        importlib.import_module("mailproviders.integrations.django")


class Settings:
    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


def test_providers_from_email_settings_are_a_valid_configuration() -> None:
    django_settings = Settings(
        EMAIL_BACKEND=adapter.ADAPTER,  # the adapter stands for SMTP
        EMAIL_HOST="smtp.example.com",
        EMAIL_PORT=587,
        EMAIL_HOST_USER="app",
        EMAIL_HOST_PASSWORD="pw-1",
        EMAIL_USE_TLS=True,
        EMAIL_USE_SSL=False,
        EMAIL_TIMEOUT=None,
    )
    built = adapter.providers_from_django_settings(django_settings, alias="primary")
    assert built == {
        "primary": {
            "BACKEND": "smtp",
            "OPTIONS": {
                "host": "smtp.example.com",
                "port": 587,
                "username": "app",
                "password": "pw-1",
                "use_tls": True,
                "use_ssl": False,
            },
        }
    }
    loaded = mailproviders.configure(EMAIL_PROVIDERS=built)
    assert loaded.EMAIL_PROVIDERS is not None and "primary" in loaded.EMAIL_PROVIDERS
    file_settings = Settings(
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend", EMAIL_FILE_PATH="/tmp/m"
    )
    assert adapter.providers_from_django_settings(file_settings) == {
        "default": {"BACKEND": "file", "OPTIONS": {"file_path": "/tmp/m"}}
    }


def test_providers_from_mailers() -> None:
    mailers = {
        "default": {"BACKEND": adapter.ADAPTER, "OPTIONS": {"using": "smtp"}},
        "smtp": {"OPTIONS": {"host": "mx.example.com", "port": 2525, "timeout": 5}},
        "debug": {"BACKEND": "django.core.mail.backends.console.EmailBackend"},
    }
    assert adapter.providers_from_django_settings(Settings(MAILERS=mailers)) == {
        "smtp": {
            "BACKEND": "smtp",
            "OPTIONS": {"host": "mx.example.com", "port": 2525, "timeout": 5},
        },
        "debug": {"BACKEND": "console", "OPTIONS": {}},
    }
    with pytest.raises(ValueError, match=r"MAILERS\['x'\].*anymail"):
        adapter.providers_from_django_settings(
            Settings(MAILERS={"x": {"BACKEND": "anymail.backends.Backend"}})
        )
    with pytest.raises(ValueError, match=r"MAILERS\['y'\].*'local_hostname'"):
        adapter.providers_from_django_settings(
            Settings(MAILERS={"y": {"OPTIONS": {"local_hostname": "h"}}})
        )


# -- other Django versions, in cached venvs -------------------------------------------


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test run may be building the same venv
        yield


def django_venv(python: Path, django_requirement: str) -> Path:
    """The python of a venv with ``django_requirement``, aiosmtpd and this project
    (editable, with its dependencies), built once and kept in the cache."""
    if not python.exists():
        pytest.fail(f"{python} is missing: the Django adapter is tested under it (install it)")
    venv = (
        CACHE
        / f"{django_requirement.replace('=', '').replace('*', 'x')}-{python.parent.parent.name}"
    )
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    wanted = f"{python}\n{django_requirement}\n{sorted(dependencies)}\n"  # rebuilt on change
    marker = venv / "mailproviders-ready"
    with _locked(CACHE / f"{venv.name}.lock"):
        if not marker.exists() or marker.read_text() != wanted:
            subprocess.run([str(python), "-m", "venv", "--clear", str(venv)], check=True)
            pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
            subprocess.run(
                [*pip, django_requirement, "aiosmtpd>=1.4.6", "-e", str(REPO)], check=True
            )
            marker.write_text(wanted)
    return venv / "bin" / "python"


def run_scenarios(python: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    env.pop("EMAIL_PROVIDERS", None)
    result = subprocess.run(
        [
            str(python),
            str(Path(__file__).with_name("django_adapter_scenarios.py")),
            str(REPO / "src"),
        ],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=Path(__file__).parent,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.timeout(900)
def test_django_42_on_this_python() -> None:
    base = Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    out = run_scenarios(django_venv(base, "Django==4.2.*"))
    assert f"{len(scenarios.SCENARIOS)} scenarios passed" in out and "django 4.2." in out


@pytest.mark.timeout(900)
def test_django_61_with_mailers_on_python_313() -> None:
    out = run_scenarios(django_venv(PYTHON_313, "Django==6.1.*"))
    assert f"{len(scenarios.SCENARIOS)} scenarios passed" in out and "django 6.1." in out
