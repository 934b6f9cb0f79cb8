"""The Celery queue end to end: a real Redis, an in-process Celery worker, aiosmtpd.

The web side enqueues with ``providers["queue"]`` (``mailproviders.backends.celery``); the
worker (``mailproviders.integrations.celery``) delivers through ``providers["smtp"]``.
Deliveries are counted server-side, by Message-ID.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import pytest
from celery import signals

import mailproviders
from mailproviders import EmailMessage, RenderedMessage, providers, send_mail
from mailproviders.integrations.celery import DeliveryRecords
from redis_fixtures import RedisServer, running_worker, wait_for, worker_app
from smtp_fixtures import ServerFactory, SMTPTestServer


def _configure(smtp: SMTPTestServer, redis_server: RedisServer, **queue: Any) -> None:
    options = {
        "deliver_with": "smtp",
        "broker_url": redis_server.url,
        "queue": "mail",
        "retry_delay": 0.05,
        **queue,
    }
    mailproviders.configure(
        EMAIL_PROVIDERS={
            "smtp": {"BACKEND": "smtp", "OPTIONS": smtp.options()},
            "queue": {"BACKEND": "celery", "OPTIONS": options},
        }
    )


def _ids(smtp: SMTPTestServer) -> Counter[str]:
    with smtp._lock:
        return Counter(str(m.parsed()["Message-ID"]) for m in smtp.messages)


def _message(subject: str = "Hi") -> EmailMessage:
    return EmailMessage(subject, "Body", "me@example.com", ["you@example.com"])


def _records(redis_server: RedisServer) -> DeliveryRecords:
    return DeliveryRecords(redis_server.client(), ttl=60)


@pytest.fixture
def retries() -> Any:
    """Message-IDs of the tasks the worker scheduled for a retry (Celery's signal)."""
    seen: list[str] = []

    def on_retry(request: Any = None, **_: Any) -> None:
        seen.append(request.args[0]["message"]["message_id"])

    signals.task_retry.connect(on_retry, weak=False)
    yield seen
    signals.task_retry.disconnect(on_retry)


def test_end_to_end_delivers_the_rendered_bytes(
    smtp_server: SMTPTestServer, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    _configure(smtp_server, redis_server)
    caplog.set_level(logging.INFO, logger="mailproviders")
    message = _message("Queued")
    rendered = RenderedMessage.from_message(message)
    with running_worker(worker_app(redis_server)):
        assert providers["queue"].send_messages([rendered]) == 1
        assert send_mail("Second", "Body", "me@example.com", ["x@example.com"], using="queue")
        wait_for(lambda: len(smtp_server.messages) == 2)
    first = smtp_server.messages[0]
    assert first.data.replace(b"\r\n", b"\n") == rendered.as_bytes()
    assert first.rcpt_tos == ["you@example.com"]
    assert _records(redis_server).state(rendered.message_id or "") == "sent"
    delivered = [r.getMessage() for r in caplog.records if "delivered" in r.getMessage()]
    assert any(f"'smtp': message {rendered.message_id}, attempt 1" in m for m in delivered)


def test_a_transient_fault_is_retried_and_delivered_once(
    fault_smtp_server: ServerFactory,
    redis_server: RedisServer,
    retries: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    smtp = fault_smtp_server(mail_reply="451 4.3.0 try again later", mail_reply_at=1)
    _configure(smtp, redis_server)
    rendered = RenderedMessage.from_message(_message())
    with running_worker(worker_app(redis_server)):
        providers["queue"].send_messages([rendered])
        wait_for(lambda: len(smtp.messages) == 1)
    assert _ids(smtp) == {rendered.message_id: 1}
    assert smtp.mail_count == 2  # refused once, then accepted
    assert retries == [rendered.message_id]
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(f"message {rendered.message_id}, attempt 1: not accepted" in m for m in warned)


def test_a_possibly_delivered_message_is_not_retried(
    fault_smtp_server: ServerFactory,
    redis_server: RedisServer,
    retries: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    smtp = fault_smtp_server(drop_after_data_at=1)
    _configure(smtp, redis_server)
    lost, sentinel = (RenderedMessage.from_message(_message(s)) for s in ("Lost", "After"))
    with running_worker(worker_app(redis_server)):
        providers["queue"].send_messages([lost])
        records = _records(redis_server)
        wait_for(lambda: records.state(lost.message_id or "") == "possibly-sent")
        providers["queue"].send_messages([sentinel])  # the worker runs tasks in order
        wait_for(lambda: len(smtp.messages) == 1)
    assert _ids(smtp) == {sentinel.message_id: 1}
    assert smtp.data_count == 2  # the lost message's data went out once, never again
    assert retries == []
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any(
        f"message {lost.message_id}, attempt 1: may have been delivered" in m for m in errors
    )


def test_a_redelivered_task_is_not_sent_twice(
    smtp_server: SMTPTestServer, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    _configure(smtp_server, redis_server)
    caplog.set_level(logging.INFO, logger="mailproviders")
    rendered = RenderedMessage.from_message(_message())
    crashed = RenderedMessage.from_message(_message("Crashed"))
    # A worker that died after marking this one "sending", before recording the outcome.
    _records(redis_server).claim(crashed.message_id or "", "dead-task")
    queue = providers["queue"]
    with running_worker(worker_app(redis_server)):
        assert queue.send_messages([rendered, rendered, crashed, rendered]) == 4
        wait_for(lambda: sum("skipped" in r.getMessage() for r in caplog.records) == 2)
        wait_for(lambda: any("not sent again" in r.getMessage() for r in caplog.records))
    assert _ids(smtp_server) == {rendered.message_id: 1}


def test_a_permanent_failure_is_not_retried_and_can_be_sent_later(
    fault_smtp_server: ServerFactory,
    redis_server: RedisServer,
    retries: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    smtp = fault_smtp_server(mail_reply="550 5.7.1 rejected", mail_reply_at=1)
    _configure(smtp, redis_server)
    rendered = RenderedMessage.from_message(_message())
    with running_worker(worker_app(redis_server)):
        providers["queue"].send_messages([rendered])
        wait_for(lambda: any("not retried" in r.getMessage() for r in caplog.records))
        assert _records(redis_server).state(rendered.message_id or "") is None
        providers["queue"].send_messages([rendered])  # sent again by hand: delivered
        wait_for(lambda: len(smtp.messages) == 1)
    assert retries == []
    assert _ids(smtp) == {rendered.message_id: 1}


def test_the_worker_applies_the_redirect_of_deliver_with(
    smtp_server: SMTPTestServer, redis_server: RedisServer
) -> None:
    # A staging worker: its SMTP provider must never reach real recipients, even for
    # messages that come through the queue.
    _configure(smtp_server, redis_server)
    settings = providers.settings.EMAIL_PROVIDERS or {}
    mailproviders.configure(
        EMAIL_PROVIDERS={
            "smtp": {
                "BACKEND": "smtp",
                "OPTIONS": smtp_server.options(),
                "REDIRECT": {"to": ["dev@example.com"], "allow": ["*@example.com"]},
            },
            "queue": {"BACKEND": "celery", "OPTIONS": dict(settings["queue"].OPTIONS)},
        }
    )
    message = EmailMessage(
        "Hi", "Body", "me@example.com", ["real@customer.org", "you@example.com"]
    )
    with running_worker(worker_app(redis_server)):
        assert providers["queue"].send_messages([message]) == 1
        wait_for(lambda: len(smtp_server.messages) == 1)
    [received] = smtp_server.messages
    assert sorted(received.rcpt_tos) == ["dev@example.com", "you@example.com"]
