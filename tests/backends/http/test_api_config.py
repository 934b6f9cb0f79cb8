"""Configuring the API providers: the ``api`` DSN form, typed OPTIONS with secrets that
never show, ``mailproviders check``/``verify``, message features an API cannot carry,
and the error naming the extra when httpx or boto3 is missing."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from api_fakes import FakeAPI
from mypy import api as mypy_api

import mailproviders
from mailproviders import EmailMessage, EmailMultiAlternatives, InvalidEmailProvider, providers
from mailproviders.cli import main
from mailproviders.config.dsn import parse_dsn

PREFIX = "mailproviders.backends.http."


@pytest.mark.parametrize(
    ("dsn", "backend", "options"),
    [
        (
            "ses+api://AKID:S3CR%2FT@default?region=eu-west-1",
            "ses",
            {"access_key_id": "AKID", "secret_access_key": "S3CR/T", "region": "eu-west-1"},
        ),
        ("ses+api://default", "ses", {}),
        (
            "mailgun+api://KEY:mg.example.com@default?region=eu",
            "mailgun",
            {"api_key": "KEY", "domain": "mg.example.com", "region": "eu"},
        ),
        ("postmark+api://TOKEN@default", "postmark", {"server_token": "TOKEN"}),
        ("sendgrid+api://KEY@default", "sendgrid", {"api_key": "KEY"}),
        (
            "resend+api://KEY@127.0.0.1:8025",
            "resend",
            {"api_key": "KEY", "endpoint": "http://127.0.0.1:8025"},
        ),
        (
            "resend+api://KEY@proxy.example.com:8443",
            "resend",
            {"api_key": "KEY", "endpoint": "https://proxy.example.com:8443"},
        ),
    ],
)
def test_api_dsns(dsn: str, backend: str, options: dict[str, Any]) -> None:
    parsed = parse_dsn(dsn, alias="x")
    assert parsed == {"BACKEND": f"{PREFIX}{backend}.EmailBackend", "OPTIONS": options}
    mailproviders.configure(EMAIL_PROVIDERS={"x": dsn})
    assert type(providers["x"]).__module__ == PREFIX + backend


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        ("postmark+api://SECRETKEY", "@default"),
        ("postmark+api://SECRETKEY@default/path", "@default"),
        ("sendgrid+api://SECRETKEY:more@default", "one key"),
        ("postmrk+api://SECRETKEY@default", "unknown DSN scheme"),
        ("resend+api://SECRETKEY@host:99999", "port"),
        ("mailgun+api://SECRETKEY@default", "domain"),
    ],
)
def test_dsn_errors_never_show_the_key(dsn: str, expected: str) -> None:
    with pytest.raises(InvalidEmailProvider) as caught:
        mailproviders.configure(EMAIL_PROVIDERS={"mail": dsn})
    assert expected in str(caught.value) and "EMAIL_PROVIDERS['mail']" in str(caught.value)
    assert "SECRETKEY" not in str(caught.value)


@pytest.mark.parametrize(
    ("provider", "option", "expected"),
    [
        ({"BACKEND": "postmark", "OPTIONS": {"server_token": 12345}}, "server_token", "a string"),
        ({"BACKEND": "postmark", "OPTIONS": {"server_token": " "}}, "server_token", "non-empty"),
        (
            {"BACKEND": "sendgrid", "OPTIONS": {"api_key": "k", "region": "mars"}},
            "region",
            "'global' or 'eu'",
        ),
        (
            {
                "BACKEND": "resend",
                "OPTIONS": {"api_key": "k", "endpoint": "http://api.example.com"},
            },
            "endpoint",
            "clear text",
        ),
        (
            {
                "BACKEND": "resend",
                "OPTIONS": {"api_key": "k", "endpoint": "https://u:p@x.example"},
            },
            "endpoint",
            "no user",
        ),
        ({"BACKEND": "mailgun", "OPTIONS": {"api_key": "k"}}, "domain", "required"),
        (
            {"BACKEND": "ses", "OPTIONS": {"access_key_id": "AKID"}},
            "secret_access_key",
            "together",
        ),
        ({"BACKEND": "ses", "OPTIONS": {"region": "Europe"}}, "region", "AWS region"),
        (
            {"BACKEND": "postmark", "OPTIONS": {"server_token": "t", "timeout": 0}},
            "timeout",
            "> 0",
        ),
    ],
)
def test_options_are_checked_at_load_time(
    provider: dict[str, Any], option: str, expected: str
) -> None:
    with pytest.raises(InvalidEmailProvider) as caught:
        mailproviders.configure(EMAIL_PROVIDERS={"mail": provider})
    assert f"EMAIL_PROVIDERS['mail'].OPTIONS.{option}" in str(caught.value)
    assert expected in str(caught.value) and "12345" not in str(caught.value)


def _cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = main(list(args))
    return status, out.getvalue(), err.getvalue()


def test_check_and_verify_never_show_the_key(
    api: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMAIL_PROVIDERS__mail", api.dsn())
    monkeypatch.setenv("EMAIL_PROVIDERS__wrong", api.dsn("wrong-key-42"))
    shown = []
    status, out, err = _cli("check", "--json")
    summary = {p["alias"]: p for p in json.loads(out)["providers"]}
    assert status == 0 and summary["mail"]["backend"] == api.name
    shown += [out, err]
    status, out, err = _cli("check")
    assert status == 0 and f"mail: {api.name}" in out
    shown += [out, err]
    status, out, err = _cli("verify")
    assert status == 1 and "mail: ok" in out and "wrong: FAILED APIError" in out
    shown += [out, err]
    assert not [text for text in shown if api.key in text or "wrong-key-42" in text]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda m: m.attach_alternative("BEGIN:VCALENDAR", "text/calendar"), "text/calendar"),
        (
            lambda m: setattr(m, "tags", ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"]),
            "tags",
        ),
        (lambda m: m.extra_headers.update({"To": "other@example.com"}), "'To'"),
        (lambda m: m.extra_headers.update({"Content-Type": "text/x"}), "Content-Type"),
        (lambda m: setattr(m, "metadata", {"order": object()}), "metadata['order']"),
        (lambda m: setattr(m, "tags", "single-string"), "list of non-empty strings"),
    ],
)
def test_what_an_api_cannot_carry_is_an_error_before_sending(
    api: FakeAPI, change: Callable[[EmailMultiAlternatives], object], expected: str
) -> None:
    mailproviders.configure(EMAIL_PROVIDERS={"mail": api.dsn()})
    message = EmailMultiAlternatives("Hi", "Body", "shop@example.com", ["a@example.com"])
    change(message)
    with pytest.raises(ValueError, match="provider 'mail'") as caught:
        providers["mail"].send_messages([message])
    assert expected in str(caught.value) and api.requests == []


@pytest.mark.parametrize(("name", "limit"), [("postmark", 1), ("resend", 1), ("mailgun", 3)])
def test_tag_limits(make_api: Callable[[str], FakeAPI], name: str, limit: int) -> None:
    api = make_api(name)
    mailproviders.configure(EMAIL_PROVIDERS={"mail": api.dsn()})
    message = EmailMessage("Hi", "Body", "shop@example.com", ["a@example.com"])
    message.tags = [f"t{n}" for n in range(limit)]  # type: ignore[attr-defined]
    assert providers["mail"].send_messages([message]) == 1
    message.tags.append("one-too-many")  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match=f"takes {limit}"):
        providers["mail"].send_messages([message])


def test_resend_tags_allow_only_its_characters(make_api: Callable[[str], FakeAPI]) -> None:
    api = make_api("resend")
    mailproviders.configure(EMAIL_PROVIDERS={"mail": api.dsn()})
    message = EmailMessage("Hi", "Body", "shop@example.com", ["a@example.com"])
    message.metadata = {"order id": "42"}  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="ASCII letters"):
        providers["mail"].send_messages([message])


@pytest.mark.parametrize(
    ("module", "dsn", "extra"),
    [
        ("httpx", "postmark+api://T@default", "mailproviders[http]"),
        ("boto3", "ses+api://default?region=eu-west-1", "mailproviders[ses]"),
    ],
)
def test_a_missing_extra_is_named_when_the_provider_is_first_used(
    module: str, dsn: str, extra: str
) -> None:
    code = (
        f"import sys; sys.modules[{module!r}] = None\n"  # as if it were not installed
        "import mailproviders\n"
        f"mailproviders.configure(EMAIL_PROVIDERS={{'mail': {dsn!r}}})  # loads fine\n"
        "try:\n"
        "    mailproviders.providers['mail']\n"
        "except mailproviders.InvalidEmailProvider as exc:\n"
        "    print(exc)\n"
        "    print(type(exc.__cause__).__name__)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert "EMAIL_PROVIDERS['mail'].BACKEND" in result.stdout
    assert f"pip install '{extra}'" in result.stdout
    assert result.stdout.split()[-1] == "ImportError"


def test_typed_dicts_check_api_providers(tmp_path: Path) -> None:
    """tests/typing/cases/config_api_providers.py: mypy flags exactly the lines marked # E."""
    case = Path(__file__).resolve().parents[2] / "typing" / "cases" / "config_api_providers.py"
    stdout, _, _ = mypy_api.run(
        ["--strict", "--config-file=", f"--cache-dir={tmp_path}", "--no-error-summary", str(case)]
    )
    flagged = {int(line.split(":")[1]) for line in stdout.splitlines() if ": error:" in line}
    lines = case.read_text(encoding="utf-8").splitlines()
    marked = {number for number, line in enumerate(lines, 1) if line.endswith("# E")}
    assert flagged == marked and len(marked) == 2, stdout
