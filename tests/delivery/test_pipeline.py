"""The delivery pipeline as a whole: REDIRECT applied by the send functions and through
composite members, in order with hooks, rate limits and retries; real SMTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from delivery_helpers import FakeClock, FlakyServer, Sender

import mailproviders
from mailproviders import EmailMessage, hooks, outbox, send_mass_mail
from mailproviders.asending import asend_mass_mail
from mailproviders.hooks import SendOutcome

REDIRECT = {"to": ["dev@example.com"], "allow": ["*@example.com"]}


def test_redirect_reaches_the_server_rewritten(smtp_server: Any, send: Sender) -> None:
    mailproviders.configure(
        EMAIL_PROVIDERS={"default": {"OPTIONS": smtp_server.options(), "REDIRECT": REDIRECT}}
    )
    message = EmailMessage(
        "Hi", "Body", "from@example.com", ["customer@elsewhere.test", "team@example.com"]
    )
    assert send(message) == 1
    (received,) = smtp_server.messages
    assert sorted(received.rcpt_tos) == ["dev@example.com", "team@example.com"]
    assert "customer@elsewhere.test" in received.parsed()["X-Original-To"]
    assert message.to == ["customer@elsewhere.test", "team@example.com"]  # caller's: as is


def test_hooks_see_the_message_before_and_after_the_redirect(send: Sender) -> None:
    mailproviders.configure(
        EMAIL_PROVIDERS={"default": {"BACKEND": "locmem", "REDIRECT": REDIRECT}}
    )
    seen: list[tuple[str, list[str]]] = []
    hooks.before_send(lambda alias, message: seen.append(("before", list(message.to))))
    hooks.after_send(lambda alias, message, outcome: seen.append(("after", list(message.to))))
    send(EmailMessage("Hi", "Body", "from@example.com", ["customer@elsewhere.test"]))
    assert seen == [("before", ["customer@elsewhere.test"]), ("after", ["dev@example.com"])]
    assert outbox[0].to == ["dev@example.com"]


def test_a_member_keeps_its_redirect_behind_a_composite(smtp_server: Any, send: Sender) -> None:
    mailproviders.configure(
        EMAIL_PROVIDERS={
            "default": "roundrobin://staging",
            "staging": {"OPTIONS": smtp_server.options(), "REDIRECT": REDIRECT},
        }
    )
    outcomes: list[SendOutcome] = []
    hooks.after_send(lambda alias, message, outcome: outcomes.append(outcome))
    message = EmailMessage("Hi", "Body", "from@example.com", ["customer@elsewhere.test"])
    assert send(message) == 1
    assert smtp_server.messages[0].rcpt_tos == ["dev@example.com"]
    assert [o.sent_using for o in outcomes] == ["staging"]


@pytest.mark.parametrize("path", ["sync", "async"])
def test_redirect_rate_limit_and_retry_together_report_the_callers_messages(
    flaky_server: Callable[..., FlakyServer], fake_clock: FakeClock, path: str
) -> None:
    # MAIL 1 accepted; MAIL 2 gets 451 and is retried (MAIL 3); MAIL 4 gets 550.
    server = flaky_server("250", "451 4.3.0 later", "250", "550 5.7.1 denied")
    mailproviders.configure(
        EMAIL_PROVIDERS={
            "default": {
                "OPTIONS": server.options(),
                "REDIRECT": REDIRECT,
                "RETRY": 3,
                "RATE_LIMIT": {"messages": 10, "per": 1, "burst": 1},
            }
        }
    )
    datatuple = [(f"S{n}", "B", "from@example.com", ["customer@elsewhere.test"]) for n in range(4)]
    with pytest.raises(Exception) as caught:
        if path == "sync":
            send_mass_mail(datatuple)
        else:
            asyncio.run(asend_mass_mail(datatuple))
    exc: Any = caught.value
    assert exc.sent_count == 2
    assert [m.subject for m in exc.sent_messages] == ["S0", "S1"]
    assert [m.to for m in exc.sent_messages] == [["customer@elsewhere.test"]] * 2
    # S0 goes at once; S1 waits 0.1 s for its token, gets 451, backs off 0.75 s (one token
    # per message, not per attempt); S2 waits 0.2 s and is refused; S3 is never tried.
    waits = fake_clock.waits if path == "sync" else fake_clock.async_waits
    assert waits == [pytest.approx(w) for w in (0.1, 0.75, 0.2)]
    assert server.mail_count == 4


@pytest.mark.filterwarnings("ignore::mailproviders.MailProvidersDeprecationWarning")
def test_a_connection_from_providers_keeps_its_redirect_and_hooks(
    smtp_server: Any, send: Sender
) -> None:
    """Older code passing ``connection=providers[alias]`` (or ``get_connection()``) must
    not bypass the provider's REDIRECT: a staging provider never reaches customers."""
    from mailproviders import get_connection, providers

    mailproviders.configure(
        EMAIL_PROVIDERS={"default": {"OPTIONS": smtp_server.options(), "REDIRECT": REDIRECT}}
    )
    aliases: list[str | None] = []
    hooks.before_send(lambda alias, message: aliases.append(alias))
    message = EmailMessage("Hi", "Body", "from@example.com", ["customer@elsewhere.test"])
    message.connection = providers["default"]
    assert send(message) == 1
    datatuple = [("Hi", "Body", "from@example.com", ["other@elsewhere.test"])]
    assert send_mass_mail(datatuple, connection=get_connection()) == 1
    assert [received.rcpt_tos for received in smtp_server.messages] == [["dev@example.com"]] * 2
    assert aliases == ["default", "default"]
