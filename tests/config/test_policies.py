"""RETRY, RATE_LIMIT and REDIRECT in EMAIL_PROVIDERS: forms, environment, errors naming
alias and key, the JSON Schema and ``mailproviders check``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from mypy import api as mypy_api

import mailproviders
from mailproviders import InvalidEmailProvider
from mailproviders.cli import main
from mailproviders.config import json_schema
from mailproviders.config.policies import RateLimitPolicy, RedirectPolicy, RetryPolicy
from mailproviders.typing import EmailProvidersDict


def _provider(**keys: Any) -> Any:
    settings = mailproviders.configure(EMAIL_PROVIDERS={"x": {"BACKEND": "locmem", **keys}})
    assert settings.EMAIL_PROVIDERS is not None
    return settings.EMAIL_PROVIDERS["x"]


def _error(**keys: Any) -> str:
    with pytest.raises(InvalidEmailProvider) as caught:
        _provider(**keys)
    assert all(problem.alias == "x" for problem in caught.value.errors)
    return str(caught.value)


@pytest.mark.parametrize(
    ("given", "messages", "per"),
    [
        ("10/s", 10, 1.0),
        ("600/m", 600, 60.0),
        ("600 / min", 600, 60.0),
        ("100/h", 100, 3600.0),
        ("5/10s", 5, 10.0),
        ({"messages": 600, "per": 60}, 600, 60.0),
        ('{"messages": 3, "per": 2}', 3, 2.0),
    ],
)
def test_rate_limit_forms(given: Any, messages: int, per: float) -> None:
    limit = _provider(RATE_LIMIT=given).RATE_LIMIT
    assert isinstance(limit, RateLimitPolicy)
    assert (limit.messages, limit.per, limit.capacity, limit.max_wait) == (
        messages,
        per,
        messages,
        30.0,
    )


@pytest.mark.parametrize(
    ("given", "where", "text"),
    [
        ("10 per second", "RATE_LIMIT", 'expected "N/s"'),
        ("10/fortnight", "RATE_LIMIT", "'10/fortnight'"),
        ({"messages": 0}, "RATE_LIMIT.messages", "greater than or equal to 1"),
        ({"messages": 1, "per": 0}, "RATE_LIMIT.per", "greater than 0"),
        ({"messages": 1, "max_wait": -1}, "RATE_LIMIT.max_wait", "greater than or equal"),
        ({"messages": 1, "speed": 2}, "RATE_LIMIT.speed", "unknown option"),
        ({"per": 2}, "RATE_LIMIT.messages", "required"),
        ('{"messages": ', "RATE_LIMIT", "not JSON"),
    ],
)
def test_rate_limit_errors_name_alias_and_key(given: Any, where: str, text: str) -> None:
    message = _error(RATE_LIMIT=given)
    assert f"EMAIL_PROVIDERS['x'].{where}: " in message
    assert text in message


def test_retry_forms() -> None:
    assert RetryPolicy(attempts=5) == _provider(RETRY=5).RETRY
    assert (
        RetryPolicy(attempts=2, backoff=0.5, max_delay=4)
        == _provider(RETRY={"attempts": 2, "backoff": 0.5, "max_delay": 4}).RETRY
    )
    assert RetryPolicy(attempts=4) == _provider(RETRY='{"attempts": 4}').RETRY
    assert _provider().RETRY is None


@pytest.mark.parametrize(
    ("given", "where"),
    [
        ({"attempts": 0}, "RETRY.attempts"),
        (0, "RETRY.attempts"),
        ({"backoff": -1}, "RETRY.backoff"),
        ({"tries": 3}, "RETRY.tries"),
        (True, "RETRY"),
    ],
)
def test_retry_errors_name_alias_and_key(given: Any, where: str) -> None:
    assert f"EMAIL_PROVIDERS['x'].{where}" in _error(RETRY=given)


def test_retry_delays_grow_exponentially_with_jitter_and_a_cap() -> None:
    policy = RetryPolicy(attempts=10, backoff=1, max_delay=5)
    assert [policy.delay(n, 0.0) for n in range(1, 6)] == [0.5, 1.0, 2.0, 2.5, 2.5]
    assert [policy.delay(n, 0.999) for n in range(1, 4)] == pytest.approx([1, 2, 4], rel=1e-3)


def test_redirect_forms_and_errors() -> None:
    redirect = _provider(REDIRECT={"to": ["dev@example.com"], "allow": ["*@example.com"]}).REDIRECT
    assert redirect == RedirectPolicy(to=["dev@example.com"], allow=["*@example.com"])
    assert _provider(REDIRECT={"to": "a@example.com, b@example.com"}).REDIRECT.to == [
        "a@example.com",
        "b@example.com",
    ]
    assert "EMAIL_PROVIDERS['x'].REDIRECT.to: " in _error(REDIRECT={"allow": ["*"]})
    message = _error(REDIRECT={"to": ["not an address"]})
    assert "EMAIL_PROVIDERS['x'].REDIRECT.to: " in message
    assert "not an address" in message
    assert "EMAIL_PROVIDERS['x'].REDIRECT.to: " in _error(REDIRECT={"to": []})


def test_every_problem_is_listed_at_once() -> None:
    message = _error(RETRY={"attempts": 0}, RATE_LIMIT="fast", REDIRECT={"to": []}, RETRI=1)
    assert message.startswith("4 configuration problems:")
    assert "unknown key 'RETRI'; expected one of BACKEND, OPTIONS, DEFAULTS, RETRY" in message


def test_environment_forms(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_PROVIDERS__x__BACKEND", "locmem")
    monkeypatch.setenv("EMAIL_PROVIDERS__x__RETRY__attempts", "4")
    monkeypatch.setenv("EMAIL_PROVIDERS__x__RATE_LIMIT", "600/m")
    monkeypatch.setenv("EMAIL_PROVIDERS__x__REDIRECT__to", "dev@example.com,qa@example.com")
    monkeypatch.setenv("EMAIL_PROVIDERS__x__REDIRECT__allow", '["*@example.com"]')
    monkeypatch.setenv("EMAIL_PROVIDERS__y", '{"BACKEND": "locmem", "RETRY": {"attempts": 2}}')
    monkeypatch.setenv("EMAIL_PROVIDERS__z__BACKEND", "locmem")
    monkeypatch.setenv("EMAIL_PROVIDERS__z__RATE_LIMIT", '{"messages": 5, "per": 2, "burst": 1}')
    providers = mailproviders.configure().EMAIL_PROVIDERS
    assert providers is not None
    x, y, z = providers["x"], providers["y"], providers["z"]
    assert RetryPolicy(attempts=4) == x.RETRY
    assert (x.RATE_LIMIT.messages, x.RATE_LIMIT.per) == (600, 60.0)
    assert (
        RedirectPolicy(to=["dev@example.com", "qa@example.com"], allow=["*@example.com"])
        == x.REDIRECT
    )
    assert RetryPolicy(attempts=2) == y.RETRY
    assert RateLimitPolicy(messages=5, per=2, burst=1) == z.RATE_LIMIT


def test_dsn_query_forms(monkeypatch: pytest.MonkeyPatch) -> None:
    dsn = "smtp://host?timeout=5&RETRY=3&RATE_LIMIT=10/s&REDIRECT=dev%40example.com"
    monkeypatch.setenv("EMAIL_PROVIDERS__y", "locmem://?RATE_LIMIT=5/m")
    providers = mailproviders.configure().EMAIL_PROVIDERS
    assert providers is not None
    assert RateLimitPolicy(messages=5, per=60) == providers["y"].RATE_LIMIT
    x = mailproviders.configure(EMAIL_PROVIDERS={"x": dsn}).EMAIL_PROVIDERS["x"]  # type: ignore[index]
    assert x.OPTIONS == {"host": "host", "timeout": 5.0}
    assert RetryPolicy(attempts=3) == x.RETRY
    assert RateLimitPolicy(messages=10, per=1) == x.RATE_LIMIT
    assert RedirectPolicy(to=["dev@example.com"]) == x.REDIRECT
    with pytest.raises(InvalidEmailProvider, match=r"EMAIL_PROVIDERS\['x'\]\.RETRY\.attempts"):
        mailproviders.configure(EMAIL_PROVIDERS={"x": "smtp://host?RETRY=never"})
    with pytest.raises(InvalidEmailProvider, match=r"OPTIONS\.retry"):  # lower case: an option
        mailproviders.configure(EMAIL_PROVIDERS={"x": "smtp://host?retry=3"})


def test_environment_errors_name_alias_and_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_PROVIDERS__x__BACKEND", "locmem")
    monkeypatch.setenv("EMAIL_PROVIDERS__x__RETRY__attempts", "many")
    with pytest.raises(InvalidEmailProvider, match=r"EMAIL_PROVIDERS\['x'\]\.RETRY\.attempts"):
        mailproviders.configure()


def test_json_schema_accepts_and_rejects_policies() -> None:
    schema = json_schema()
    validator = jsonschema.Draft202012Validator(schema)
    good: EmailProvidersDict = {
        "default": {
            "BACKEND": "locmem",
            "RETRY": {"attempts": 3, "backoff": 1.0, "max_delay": 30},
            "RATE_LIMIT": "10/s",
            "REDIRECT": {"to": ["dev@example.com"], "allow": ["*@example.com"]},
        },
        "other": {"BACKEND": "console", "RETRY": 2, "RATE_LIMIT": {"messages": 5, "per": 2}},
    }
    assert list(validator.iter_errors({"EMAIL_PROVIDERS": good})) == []
    for bad in (
        {"RETRY": {"attempts": 0}},
        {"RATE_LIMIT": {"per": 2}},
        {"REDIRECT": {"allow": []}},
        {"RETRY": {"tries": 1}},
    ):
        provider = {"BACKEND": "locmem", **bad}
        assert list(validator.iter_errors({"EMAIL_PROVIDERS": {"x": provider}})), bad


def test_check_shows_the_policies(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(
        "EMAIL_PROVIDERS",
        json.dumps(
            {
                "default": {
                    "BACKEND": "locmem",
                    "RETRY": 3,
                    "RATE_LIMIT": "10/s",
                    "REDIRECT": {"to": ["dev@example.com"], "allow": ["*@example.com"]},
                }
            }
        ),
    )
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "RETRY=3 attempts (backoff 1s, max 30s)" in out
    assert "RATE_LIMIT=10/1s (burst 10, max_wait 30s)" in out
    assert "REDIRECT=dev@example.com (allow *@example.com)" in out
    assert main(["check", "--json"]) == 0
    (provider,) = json.loads(capsys.readouterr().out)["providers"]
    assert provider["retry"] == {"attempts": 3, "backoff": 1.0, "max_delay": 30.0}
    assert provider["rate_limit"]["messages"] == 10
    assert provider["redirect"]["to"] == ["dev@example.com"]


def test_typed_dicts_check_the_policies(tmp_path: Path) -> None:
    case = Path(__file__).resolve().parents[1] / "typing" / "cases" / "config_policies.py"
    stdout, stderr, _ = mypy_api.run(
        ["--strict", "--config-file=", f"--cache-dir={tmp_path}", "--no-error-summary", str(case)]
    )
    lines = case.read_text(encoding="utf-8").splitlines()
    expected = {number for number, line in enumerate(lines, 1) if line.endswith("# E")}
    found = {int(m) for m in re.findall(r"config_policies\.py:(\d+): error", stdout)}
    assert len(expected) == 4
    assert found == expected, stdout + stderr
