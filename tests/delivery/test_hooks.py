"""Send hooks end to end: before_send changes a copy or cancels, after_send sees the
outcome, a hook that raises loses nothing; sync and async; real SMTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
import smtplib
from collections.abc import Callable
from typing import Any

import pytest
from delivery_helpers import Sender

import mailproviders
from mailproviders import EmailMessage, hooks, outbox, send_mail, send_mass_mail
from mailproviders.asending import asend_mail, asend_mass_mail
from mailproviders.hooks import CancelSend, SendOutcome


def _message(to: str = "to@example.com", subject: str = "Hi") -> EmailMessage:
    return EmailMessage(subject, "Body", "from@example.com", [to], headers={"X-A": "1"})


def test_before_send_changes_a_copy_the_server_gets_it(smtp_server: Any, send: Sender) -> None:
    mailproviders.configure(EMAIL_PROVIDERS={"default": {"OPTIONS": smtp_server.options()}})

    @hooks.before_send
    def tag(alias: str | None, message: EmailMessage) -> None:
        message.extra_headers["X-Audit"] = f"via {alias}"
        message.subject = "[tagged] " + message.subject
        message.to.append("audit@example.com")

    message = _message()
    assert send(message) == 1
    received = smtp_server.messages[0]
    assert received.parsed()["X-Audit"] == "via default"
    assert received.parsed()["Subject"] == "[tagged] Hi"
    assert received.rcpt_tos == ["to@example.com", "audit@example.com"]
    # the caller's object is untouched
    assert (message.subject, message.to, message.extra_headers) == (
        "Hi",
        ["to@example.com"],
        {"X-A": "1"},
    )


def test_a_mime_part_attachment_changed_by_a_hook_stays_the_callers(
    smtp_server: Any, send: Sender
) -> None:
    from email.message import MIMEPart

    mailproviders.configure(EMAIL_PROVIDERS={"default": {"OPTIONS": smtp_server.options()}})
    part = MIMEPart()
    part.set_content("original text", disposition="attachment", filename="a.txt")
    message = _message()
    message.attach(part)

    @hooks.before_send
    def rewrite(alias: str | None, outgoing: EmailMessage) -> None:
        outgoing.attachments[0].set_content("by the hook", disposition="attachment")

    assert send(message) == 1
    assert "by the hook" in smtp_server.messages[0].parsed().as_string()
    assert message.attachments[0].get_content() == "original text\n"


def test_cancelled_messages_are_not_sent_counted_but_reported(
    smtp_server: Any, send: Sender, caplog: pytest.LogCaptureFixture
) -> None:
    mailproviders.configure(EMAIL_PROVIDERS={"default": {"OPTIONS": smtp_server.options()}})
    outcomes: list[SendOutcome] = []

    @hooks.before_send
    def block(alias: str | None, message: EmailMessage) -> None:
        if message.to == ["blocked@example.com"]:
            raise CancelSend("blocked address")

    hooks.after_send(lambda alias, message, outcome: outcomes.append(outcome))
    with caplog.at_level(logging.INFO, logger="mailproviders"):
        assert send(_message("blocked@example.com")) == 0
        assert send(_message()) == 1
    assert [m.rcpt_tos for m in smtp_server.messages] == [["to@example.com"]]
    assert smtp_server.connection_count == 1  # the cancelled one touched no server
    cancelled, sent = outcomes
    assert (cancelled.cancelled, cancelled.sent, cancelled.attempts) == (True, False, 0)
    assert isinstance(cancelled.exception, CancelSend)
    assert (sent.cancelled, sent.sent, sent.sent_using, sent.attempts) == (
        False,
        True,
        "default",
        1,
    )
    assert any(
        r.levelno == logging.INFO
        and "cancelled" in r.getMessage()
        and "blocked address" in r.getMessage()
        for r in caplog.records
    )


@pytest.mark.parametrize("path", ["sync", "async"])
def test_cancelled_messages_in_a_mass_send(smtp_server: Any, path: str) -> None:
    mailproviders.configure(EMAIL_PROVIDERS={"default": {"OPTIONS": smtp_server.options()}})

    @hooks.before_send
    def odd(alias: str | None, message: EmailMessage) -> None:
        if message.subject.endswith(("1", "3")):
            raise CancelSend

    datatuple = [(f"S{n}", "B", "from@example.com", ["to@example.com"]) for n in range(5)]
    sent = send_mass_mail(datatuple) if path == "sync" else asyncio.run(asend_mass_mail(datatuple))
    assert sent == 3
    assert [m.parsed()["Subject"] for m in smtp_server.messages] == ["S0", "S2", "S4"]


def test_a_failure_after_a_cancellation_lists_both(
    fault_smtp_server: Callable[..., Any],
) -> None:
    server = fault_smtp_server(refuse_rcpt=["bad@example.com"])
    mailproviders.configure(EMAIL_PROVIDERS={"default": {"OPTIONS": server.options()}})

    @hooks.before_send
    def drop_first(alias: str | None, message: EmailMessage) -> None:
        if message.subject == "S0":
            raise CancelSend

    datatuple = [
        ("S0", "B", "from@example.com", ["to@example.com"]),
        ("S1", "B", "from@example.com", ["to@example.com"]),
        ("S2", "B", "from@example.com", ["bad@example.com"]),
    ]
    with pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
        send_mass_mail(datatuple)
    exc: Any = caught.value
    assert exc.sent_count == 1
    assert [m.subject for m in exc.sent_messages] == ["S1"]
    assert [m.subject for m in hooks.cancelled_messages_of(exc)] == ["S0"]


def test_a_hook_that_raises_is_logged_and_loses_nothing(
    smtp_server: Any, send: Sender, caplog: pytest.LogCaptureFixture
) -> None:
    mailproviders.configure(EMAIL_PROVIDERS={"default": {"OPTIONS": smtp_server.options()}})
    outcomes: list[SendOutcome] = []

    @hooks.before_send
    def half_done(alias: str | None, message: EmailMessage) -> None:
        message.subject = "changed"
        raise RuntimeError("hook bug")

    @hooks.after_send
    def broken(alias: str | None, message: EmailMessage, outcome: SendOutcome) -> None:
        raise KeyError("after bug")

    hooks.after_send(lambda alias, message, outcome: outcomes.append(outcome))
    with caplog.at_level(logging.WARNING, logger="mailproviders"):
        assert send(_message()) == 1
    assert smtp_server.messages[0].parsed()["Subject"] == "Hi"  # as before the broken hook
    assert [o.sent for o in outcomes] == [True]  # the later hook still ran
    failures = [
        r for r in caplog.records if "hook" in r.getMessage() and "raised" in r.getMessage()
    ]
    assert [r.exc_info is not None and r.exc_info[0] for r in failures] == [RuntimeError, KeyError]
    assert all(r.levelno == logging.WARNING for r in failures)


def test_after_send_sees_a_failure(fault_smtp_server: Callable[..., Any], send: Sender) -> None:
    server = fault_smtp_server(refuse_rcpt=["bad@example.com"])
    mailproviders.configure(EMAIL_PROVIDERS={"default": {"OPTIONS": server.options()}})
    outcomes: list[SendOutcome] = []
    hooks.after_send(lambda alias, message, outcome: outcomes.append(outcome))
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(_message("bad@example.com"))
    (outcome,) = outcomes
    assert not outcome.sent
    assert isinstance(outcome.exception, smtplib.SMTPRecipientsRefused)
    assert outcome.sent_using is None
    assert outcome.duration >= 0
    assert "bad@example.com" in outcome.refused_recipients


def test_after_send_names_the_member_of_a_failover_that_took_it(send: Sender) -> None:
    mailproviders.configure(
        EMAIL_PROVIDERS={
            "default": "failover://down,up",
            "down": {"OPTIONS": {"host": "127.0.0.1", "port": 9, "timeout": 5}},
            "up": "locmem://",
        }
    )
    seen: list[tuple[str | None, str | None]] = []
    hooks.after_send(lambda alias, message, outcome: seen.append((alias, outcome.sent_using)))
    assert send(_message()) == 1
    assert seen == [("default", "up")]


def test_async_hooks_are_awaited_on_the_async_path_and_run_on_the_sync_one() -> None:
    mailproviders.configure(EMAIL_PROVIDERS={"default": "locmem://"})
    calls: list[str] = []

    @hooks.before_send
    async def before(alias: str | None, message: EmailMessage) -> None:
        await asyncio.sleep(0)
        message.extra_headers["X-Async"] = "yes"
        calls.append("before")

    @hooks.after_send
    async def after(alias: str | None, message: EmailMessage, outcome: SendOutcome) -> None:
        await asyncio.sleep(0)
        calls.append(f"after {outcome.sent}")

    assert asyncio.run(asend_mail("S", "B", "from@example.com", ["to@example.com"])) == 1
    assert send_mail("S", "B", "from@example.com", ["to@example.com"]) == 1

    async def sync_send_inside_a_loop() -> int:  # the hook runs in a helper thread
        return send_mail("S", "B", "from@example.com", ["to@example.com"])

    assert asyncio.run(sync_send_inside_a_loop()) == 1
    assert calls == ["before", "after True"] * 3
    assert [m.extra_headers.get("X-Async") for m in outbox] == ["yes"] * 3


def test_async_cancel_on_both_paths() -> None:
    mailproviders.configure(EMAIL_PROVIDERS={"default": "locmem://"})

    @hooks.before_send
    async def cancel(alias: str | None, message: EmailMessage) -> None:
        raise CancelSend("async says no")

    assert asyncio.run(asend_mail("S", "B", "from@example.com", ["to@example.com"])) == 0
    assert send_mail("S", "B", "from@example.com", ["to@example.com"]) == 0
    assert len(outbox) == 0


def test_a_hook_that_removes_every_recipient_cancels() -> None:
    mailproviders.configure(EMAIL_PROVIDERS={"default": "locmem://"})
    outcomes: list[SendOutcome] = []
    hooks.before_send(lambda alias, message: message.to.clear())
    hooks.after_send(lambda alias, message, outcome: outcomes.append(outcome))
    assert send_mail("S", "B", "from@example.com", ["to@example.com"]) == 0
    assert [o.cancelled for o in outcomes] == [True]
    assert len(outbox) == 0


def test_registration_decorator_duplicates_and_removal() -> None:
    def hook(alias: str | None, message: EmailMessage) -> None:
        message.subject = "x" + message.subject

    assert hooks.before_send(hook) is hook
    hooks.before_send(hook)  # twice: still once
    mailproviders.configure(EMAIL_PROVIDERS={"default": "locmem://"})
    send_mail("S", "B", "from@example.com", ["to@example.com"])
    assert hooks.remove(hook) is True
    assert hooks.remove(hook) is False
    send_mail("S", "B", "from@example.com", ["to@example.com"])
    assert [m.subject for m in outbox] == ["xS", "S"]
    with pytest.raises(TypeError, match="needs a function"):
        hooks.before_send("not callable")  # type: ignore[type-var]


def test_hooks_are_public_from_the_package() -> None:
    assert mailproviders.hooks is hooks
    assert "hooks" in dir(mailproviders)


def test_no_hooks_and_no_policies_call_the_backend_once_with_every_message() -> None:
    # The straight-through path: one send_messages call with the whole batch.
    from mailproviders.backends.locmem import EmailBackend

    calls: list[int] = []

    class Recording(EmailBackend):
        def send_messages(self, messages: Any) -> int:
            calls.append(len(messages))
            return super().send_messages(messages)

    mailproviders.configure(EMAIL_PROVIDERS={"default": {"BACKEND": Recording}})
    datatuple = [(f"S{n}", "B", "from@example.com", ["to@example.com"]) for n in range(3)]
    assert send_mass_mail(datatuple) == 3
    assert calls == [3]
    hooks.after_send(lambda alias, message, outcome: None)
    assert send_mass_mail(datatuple) == 3
    assert calls == [3, 1, 1, 1]


def test_a_message_cancelled_in_an_earlier_batch_is_not_reported_as_sent() -> None:
    from mailproviders.backends.locmem import EmailBackend
    from mailproviders.sendplan import MASS_MAIL_BATCH

    class FailsOnLast(EmailBackend):
        def send_messages(self, messages: Any) -> int:
            if any(m.subject == "last" for m in messages):
                raise ConnectionResetError("gone")
            return super().send_messages(messages)

    mailproviders.configure(EMAIL_PROVIDERS={"default": {"BACKEND": FailsOnLast}})
    hooks.before_send(_cancel_first)
    datatuple = [
        (f"S{n}", "B", "f@example.com", ["t@example.com"]) for n in range(MASS_MAIL_BATCH)
    ]
    datatuple.append(("last", "B", "f@example.com", ["t@example.com"]))
    with pytest.raises(ConnectionResetError) as caught:
        send_mass_mail(datatuple)
    exc: Any = caught.value
    assert exc.sent_count == MASS_MAIL_BATCH - 1
    assert [m.subject for m in exc.sent_messages] == [f"S{n}" for n in range(1, MASS_MAIL_BATCH)]


def _cancel_first(alias: str | None, message: EmailMessage) -> None:
    if message.subject == "S0":
        raise CancelSend


def test_after_send_sees_the_servers_reply_to_the_message(smtp_server: Any, send: Sender) -> None:
    mailproviders.configure(EMAIL_PROVIDERS={"default": {"OPTIONS": smtp_server.options()}})
    outcomes: list[SendOutcome] = []

    @hooks.after_send
    def record(alias: str | None, message: EmailMessage, outcome: SendOutcome) -> None:
        outcomes.append(outcome)

    message = _message()
    assert send(message) == 1
    [outcome] = outcomes
    assert outcome.sent
    assert outcome.server_reply == "250 Message accepted for delivery"
    # and on the caller's message, as refused_recipients is
    assert message.server_reply == "250 Message accepted for delivery"  # type: ignore[attr-defined]
