"""Circuit breakers on their own: which failures open a circuit, the single half-open
trial, the health report, retry_period validation and ``mailproviders check --health``."""

from __future__ import annotations

import json
import smtplib
import ssl
import threading
from typing import Any

import pytest

from composite_helpers import refusing, smtp
from mailproviders.backends.circuit import Circuits, MemberHealth, opens_circuit
from mailproviders.backends.failover import EmailBackend
from mailproviders.backends.http.errors import APIError, APIUnavailable
from mailproviders.exceptions import InvalidEmailProvider
from mailproviders.handler import configure, providers
from smtp_fixtures import ServerFactory
from test_cli import run

OPENS = [
    ConnectionRefusedError(111, "refused"),
    TimeoutError("timed out"),
    ssl.SSLCertVerificationError("certificate verify failed"),
    smtplib.SMTPServerDisconnected("Connection unexpectedly closed"),
    smtplib.SMTPConnectError(421, b"too busy"),
    smtplib.SMTPHeloError(451, b"later"),
    smtplib.SMTPAuthenticationError(535, b"bad credentials"),
    smtplib.SMTPSenderRefused(451, b"local error", "a@example.com"),
    smtplib.SMTPDataError(421, b"closing"),
    smtplib.SMTPRecipientsRefused({"a@example.com": (421, b"closing")}),
    APIUnavailable("down", alias="api", api="Postmark", status=503),
]
STAYS_CLOSED = [
    smtplib.SMTPSenderRefused(553, b"sender refused", "a@example.com"),
    smtplib.SMTPDataError(554, b"rejected as spam"),
    smtplib.SMTPDataError(451, b"greylisted content"),
    smtplib.SMTPRecipientsRefused({"a@example.com": (450, b"mailbox busy")}),
    smtplib.SMTPRecipientsRefused({"a@example.com": (550, b"no such user")}),
    smtplib.SMTPConnectError(554, b"no service for you"),
    APIError("bad request", alias="api", api="Postmark", status=422),
    ValueError("invalid address"),
]


@pytest.mark.parametrize("exc", OPENS, ids=lambda e: type(e).__name__)
def test_connection_level_failures_open_the_circuit(exc: BaseException) -> None:
    assert opens_circuit(exc)


@pytest.mark.parametrize("exc", STAYS_CLOSED, ids=lambda e: f"{type(e).__name__}")
def test_failures_of_one_message_do_not(exc: BaseException) -> None:
    assert not opens_circuit(exc)


def test_one_half_open_trial_at_a_time() -> None:
    now = [0.0]
    circuits = Circuits(clock=lambda: now[0])
    plan = circuits.plan("mail", ["a", "b"], 10)
    circuits.failed(plan, "mail", "a", ConnectionResetError(), 10)
    assert circuits.plan("mail", ["a", "b"], 10).order == ["b", "a"]
    now[0] = 10.0
    first = circuits.plan("mail", ["a", "b"], 10)
    second = circuits.plan("mail", ["a", "b"], 10)
    assert (first.order, second.order) == (["a", "b"], ["b", "a"])
    assert second.skipped == {"a"}
    now[0] = 20.0  # the trial never reported (its caller was cancelled): it expires
    third = circuits.plan("mail", ["a", "b"], 10)
    assert third.order == ["a", "b"]
    circuits.succeeded(third, "mail", "a")
    assert [h.state for h in circuits.health("mail", ["a", "b"])] == ["closed", "closed"]


def test_every_open_member_ordered_by_the_end_of_its_period() -> None:
    now = [0.0]
    circuits = Circuits(clock=lambda: now[0])
    plan = circuits.plan("mail", ["a", "b", "c"], 30)
    circuits.failed(plan, "mail", "b", ConnectionResetError(), 30)
    now[0] = 5.0
    circuits.failed(plan, "mail", "a", ConnectionResetError(), 30)
    circuits.failed(plan, "mail", "c", ConnectionResetError(), 30)
    assert circuits.plan("mail", ["a", "b", "c"], 30).order == ["b", "a", "c"]
    assert circuits.plan("mail", ["a", "b", "c"], 0).order == ["a", "b", "c"]


def test_reports_of_an_earlier_configuration_are_ignored() -> None:
    circuits = Circuits(clock=lambda: 0.0)
    plan = circuits.plan("mail", ["a"], 10)
    circuits.reset()
    circuits.failed(plan, "mail", "a", ConnectionResetError(), 10)
    assert circuits.health("mail", ["a"])[0].state == "closed"


def test_health_is_typed_and_thread_safe() -> None:
    circuits = Circuits(clock=lambda: 100.0)

    def fail(member: str) -> None:
        for _ in range(200):
            plan = circuits.plan("mail", [member], 10)
            circuits.failed(plan, "mail", member, ConnectionResetError("reset"), 10)

    threads = [threading.Thread(target=fail, args=(m,)) for m in ("a", "a", "b", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    health = circuits.health("mail", ["a", "b", "c"])
    assert health[2] == MemberHealth("mail", "c", "closed")
    # Opened once each, whatever the number of failures seen while open.
    assert [(h.state, h.failures, h.retry_in) for h in health[:2]] == [("open", 1, 10.0)] * 2
    assert health[0].reason == "ConnectionResetError: reset"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(-1, "got -1"), ("soon", "got 'soon'"), ("nan", "got 'nan'")],
)
def test_retry_period_is_validated_at_load_time(value: Any, expected: str) -> None:
    with pytest.raises(InvalidEmailProvider) as raised:
        configure(
            EMAIL_PROVIDERS={
                "mail": {
                    "BACKEND": "failover",
                    "OPTIONS": {"using": ["a"], "retry_period": value},
                },
                "a": "locmem://",
            }
        )
    [problem] = raised.value.errors
    assert (problem.alias, problem.option) == ("mail", "retry_period")
    assert problem.message.startswith("expected a number of seconds >= 0")
    assert expected in problem.message


@pytest.mark.parametrize("value", [-1.0, float("nan"), float("inf"), True, "60"])
def test_retry_period_is_validated_when_built_directly(value: Any) -> None:
    with pytest.raises(InvalidEmailProvider, match="retry_period"):
        EmailBackend(alias="x", using=["a"], retry_period=value, providers=providers)


def test_providers_health_lists_every_composite_member() -> None:
    configure(
        EMAIL_PROVIDERS={
            "mail": "failover://a,b",
            "spread": "roundrobin://b,a",
            "a": "locmem://",
            "b": "locmem://",
        }
    )
    assert [(h.provider, h.member, h.state) for h in providers.health()] == [
        ("mail", "a", "closed"),
        ("mail", "b", "closed"),
        ("spread", "b", "closed"),
        ("spread", "a", "closed"),
    ]
    assert providers.health("a") == []


def test_check_health_prints_each_member(fault_smtp_server: ServerFactory) -> None:
    alive, dead = fault_smtp_server(), refusing(fault_smtp_server)
    env = {
        "EMAIL_PROVIDERS": json.dumps(
            {"mail": "failover://dead,alive", "alive": smtp(alive), "dead": smtp(dead)}
        )
    }
    result = run("check", "--health", env=env)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert "mail -> alive: closed" in lines
    [dead_line] = [line for line in lines if line.startswith("mail -> dead: open")]
    assert "retry in 60 s" in dead_line and "ConnectionRefusedError" in dead_line
    assert "circuit open for mail -> dead" in result.stderr
    as_json = run("check", "--health", "--json", env=env)
    report = json.loads(as_json.stdout)
    assert [(h["member"], h["state"]) for h in report["health"]] == [
        ("dead", "open"),
        ("alive", "closed"),
    ]
    healthy = run(
        "check", "--health", env={"EMAIL_PROVIDERS": '{"m": "failover://a", "a": "locmem://"}'}
    )
    assert (healthy.returncode, healthy.stdout.splitlines()[-1]) == (0, "m -> a: closed")


def test_check_health_shows_a_member_that_cannot_be_opened_as_open() -> None:
    # Loads fine, but its Celery app cannot be imported: unusable, not "closed".
    providers_ = {
        "mail": "failover://queue,backup",
        "queue": "celery://?deliver_with=backup&app=no_such_module_here:app",
        "backup": "locmem://",
    }
    result = run("check", "--health", env={"EMAIL_PROVIDERS": json.dumps(providers_)})
    assert result.returncode == 1, result.stderr
    [line] = [line for line in result.stdout.splitlines() if line.startswith("mail -> queue")]
    assert line.startswith("mail -> queue: open (retry in 60 s; ConnectionError: provider 'queue'")
    assert "cannot import the Celery app 'no_such_module_here:app'" in line
    assert "mail -> backup: closed" in result.stdout
