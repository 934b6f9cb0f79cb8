"""RETRY: a message certainly not accepted is sent again after a backoff; a possibly
delivered one and a permanent (5xx) failure never are. Real SMTP servers on 127.0.0.1;
waits are counted on a fake clock, never measured."""

from __future__ import annotations

import asyncio
import logging
import smtplib
from collections.abc import Callable
from typing import Any

import pytest
from delivery_helpers import FakeClock, FlakyServer, Sender, send_async

import mailproviders
from mailproviders import EmailMessage, send_mass_mail
from mailproviders.asending import asend_mass_mail

RETRY = {"attempts": 3, "backoff": 1.0, "max_delay": 30}


def _configure(options: dict[str, Any], **policies: Any) -> None:
    mailproviders.configure(EMAIL_PROVIDERS={"default": {"OPTIONS": options, **policies}})


def _waits(clock: FakeClock, send: Sender) -> list[float]:
    """The waits of the path used (async waits must not block the loop: none in sync)."""
    if send is send_async:
        assert clock.waits == []
        return clock.async_waits
    assert clock.async_waits == []
    return clock.waits


def test_421_then_451_then_accepted_delivers_exactly_one_copy(
    flaky_server: Callable[..., FlakyServer],
    fake_clock: FakeClock,
    send: Sender,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = flaky_server("421 4.3.2 closing down", "451 4.3.0 try again later")
    _configure(server.options(), RETRY=RETRY)
    message = EmailMessage("Hi", "Body", "from@example.com", ["to@example.com"])
    with caplog.at_level(logging.WARNING, logger="mailproviders"):
        assert send(message) == 1
    assert server.mail_count == 3
    assert len(server.messages) == 1
    assert len(set(server.message_ids())) == 1
    # backoff 1 s then 2 s, each with jitter 0.5 -> 75 % of it
    assert _waits(fake_clock, send) == [0.75, 1.5]
    retries = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retries) == 2
    assert "provider 'default': attempt 1 of 3 failed" in retries[0]
    assert "421" in retries[0]
    assert "attempt 2 of 3" in retries[1]
    assert "451" in retries[1]


def test_attempts_used_up_raise_the_last_error(
    flaky_server: Callable[..., FlakyServer], fake_clock: FakeClock, send: Sender
) -> None:
    server = flaky_server(*["451 4.3.0 try again later"] * 5)
    _configure(server.options(), RETRY={"attempts": 3, "backoff": 10, "max_delay": 15})
    message = EmailMessage("Hi", "Body", "from@example.com", ["to@example.com"])
    with pytest.raises(smtplib.SMTPSenderRefused) as caught:
        send(message)
    assert server.mail_count == 3
    assert caught.value.sent_count == 0  # type: ignore[attr-defined]
    assert _waits(fake_clock, send) == [7.5, 11.25]  # 10 s, then 20 s capped at 15 s


def test_attempts_used_up_under_fail_silently_return_0(
    flaky_server: Callable[..., FlakyServer], fake_clock: FakeClock, send: Sender
) -> None:
    server = flaky_server(*["451 4.3.0 try again later"] * 5)
    _configure(server.options(), RETRY=2)
    message = EmailMessage("Hi", "Body", "from@example.com", ["to@example.com"])
    assert send(message, fail_silently=True) == 0
    assert server.mail_count == 2


def test_a_5xx_is_never_retried(
    flaky_server: Callable[..., FlakyServer], fake_clock: FakeClock, send: Sender
) -> None:
    server = flaky_server("550 5.7.1 sender denied")
    _configure(server.options(), RETRY=RETRY)
    message = EmailMessage("Hi", "Body", "from@example.com", ["to@example.com"])
    with pytest.raises(smtplib.SMTPSenderRefused):
        send(message)
    assert server.mail_count == 1
    assert _waits(fake_clock, send) == []


def test_a_possibly_delivered_message_is_never_retried(
    fault_smtp_server: Callable[..., Any], fake_clock: FakeClock, send: Sender
) -> None:
    server = fault_smtp_server(drop_after_data_at=1)
    _configure(server.options(), RETRY=RETRY)
    message = EmailMessage("Hi", "Body", "from@example.com", ["to@example.com"])
    with pytest.raises(Exception) as caught:
        send(message)
    assert server.data_count == 1  # the data went once, and never again
    possibly = caught.value.possibly_sent_messages  # type: ignore[attr-defined]
    assert [m.subject for m in possibly] == ["Hi"]
    assert caught.value.sent_count == 0  # type: ignore[attr-defined]
    assert _waits(fake_clock, send) == []


def test_without_retry_a_transient_failure_raises_at_once(
    flaky_server: Callable[..., FlakyServer], fake_clock: FakeClock, send: Sender
) -> None:
    server = flaky_server("451 4.3.0 try again later")
    _configure(server.options())
    message = EmailMessage("Hi", "Body", "from@example.com", ["to@example.com"])
    with pytest.raises(smtplib.SMTPSenderRefused):
        send(message)
    assert server.mail_count == 1


@pytest.mark.parametrize("path", ["sync", "async"])
def test_sent_count_stays_exact_across_retries_in_a_mass_send(
    flaky_server: Callable[..., FlakyServer], fake_clock: FakeClock, path: str
) -> None:
    # MAIL 1 accepted; MAIL 2 451 then retried (MAIL 3) and accepted; MAIL 4 550.
    server = flaky_server("250", "451 4.3.0 later", "250", "550 5.7.1 denied")
    _configure(server.options(), RETRY=RETRY)
    datatuple = [(f"S{n}", "Body", "from@example.com", ["to@example.com"]) for n in range(4)]
    with pytest.raises(smtplib.SMTPSenderRefused) as caught:
        if path == "sync":
            send_mass_mail(datatuple)
        else:
            asyncio.run(asend_mass_mail(datatuple))
    exc: Any = caught.value
    assert exc.sent_count == 2
    assert [m.subject for m in exc.sent_messages] == ["S0", "S1"]
    assert len(server.messages) == 2
    assert server.mail_count == 4


def test_retry_of_a_failover_provider_retries_the_whole_composite(
    flaky_server: Callable[..., FlakyServer], fake_clock: FakeClock, send: Sender
) -> None:
    first = flaky_server("451 4.3.0 later")
    second = flaky_server("421 4.3.2 closing")
    mailproviders.configure(
        EMAIL_PROVIDERS={
            "default": {"BACKEND": "failover", "OPTIONS": {"using": ["a", "b"]}, "RETRY": 2},
            "a": {"OPTIONS": first.options()},
            "b": {"OPTIONS": second.options()},
        }
    )
    message = EmailMessage("Hi", "Body", "from@example.com", ["to@example.com"])
    assert send(message) == 1
    assert (first.mail_count, second.mail_count) == (2, 1)  # a, b, then a again
    assert len(first.messages) + len(second.messages) == 1


@pytest.mark.parametrize("path", ["sync", "async"])
def test_with_retry_only_the_batch_goes_whole_and_only_the_rest_is_retried(
    fake_clock: FakeClock, path: str
) -> None:
    # RETRY alone keeps one backend call per batch (one connection, parallel sending...);
    # after a failure part-way, only the messages not accepted are sent again.
    from mailproviders.backends.locmem import EmailBackend

    calls: list[list[str]] = []

    class ResetOnce(EmailBackend):
        def send_messages(self, messages: Any) -> int:
            subjects = [m.subject for m in messages]
            calls.append(subjects)
            if len(calls) == 1:
                accepted = super().send_messages(messages[:1])
                exc = ConnectionResetError("reset after the first message")
                exc.sent_count, exc.sent_messages = accepted, messages[:1]  # type: ignore[attr-defined]
                raise exc
            return super().send_messages(messages)

    mailproviders.configure(EMAIL_PROVIDERS={"default": {"BACKEND": ResetOnce, "RETRY": 2}})
    datatuple = [(f"S{n}", "B", "from@example.com", ["to@example.com"]) for n in range(3)]
    sent = send_mass_mail(datatuple) if path == "sync" else asyncio.run(asend_mass_mail(datatuple))
    assert sent == 3
    assert calls == [["S0", "S1", "S2"], ["S1", "S2"]]
    assert [m.subject for m in mailproviders.outbox] == ["S0", "S1", "S2"]
    assert _waits_of(fake_clock, path) == [0.75]


def _waits_of(clock: FakeClock, path: str) -> list[float]:
    return clock.waits if path == "sync" else clock.async_waits


def test_each_message_gets_its_attempts_in_a_batch(
    flaky_server: Callable[..., FlakyServer], fake_clock: FakeClock
) -> None:
    # attempts=2: S1 fails once, S2 fails once; both are retried (progress restarts the count)
    server = flaky_server("250", "451 4.3.0 later", "250", "451 4.3.0 later", "250")
    _configure(server.options(), RETRY=2)
    datatuple = [(f"S{n}", "Body", "from@example.com", ["to@example.com"]) for n in range(3)]
    assert send_mass_mail(datatuple) == 3
    assert server.mail_count == 5
    assert len(server.messages) == 3


@pytest.mark.parametrize("path", ["sync", "async"])
def test_a_possibly_delivered_message_stops_the_batch(
    fault_smtp_server: Callable[..., Any], fake_clock: FakeClock, path: str
) -> None:
    server = fault_smtp_server(drop_after_data_at=2)
    _configure(server.options(), RETRY=RETRY)
    datatuple = [(f"S{n}", "Body", "from@example.com", ["to@example.com"]) for n in range(3)]
    with pytest.raises(Exception) as caught:
        if path == "sync":
            send_mass_mail(datatuple)
        else:
            asyncio.run(asend_mass_mail(datatuple))
    exc: Any = caught.value
    assert exc.sent_count == 1
    assert [m.subject for m in exc.possibly_sent_messages] == ["S1"]
    assert server.data_count == 2  # S2 was not sent: the caller decides what to do
    assert _waits_of(fake_clock, path) == []
