"""Failover between email APIs and to SMTP, end to end: providers written as DSNs in real
environment variables, ``send_mail(using=…)``, local API servers (api_fakes.py) and a
real SMTP server (aiosmtpd, smtp_fixtures.py). Sync and async.

A 503 or a 429 moves the messages on; a permanent refusal does not; a message whose
request was read but never answered is not resent.

API references the local servers follow (details in api_fakes.py):
https://postmarkapp.com/developer/api/email-api,
https://www.twilio.com/docs/sendgrid/api-reference/mail-send/mail-send,
https://resend.com/docs/api-reference/emails/send-email,
https://documentation.mailgun.com/docs/mailgun/api-reference/openapi-final/tag/Messages/.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest
from api_fakes import FakeAPI

import mailproviders
from mailproviders import send_mail
from mailproviders.backends.http.errors import APIError, APIUnavailable
from mailproviders.exceptions import possibly_sent_messages_of
from smtp_fixtures import SMTPTestServer

MODES = ["sync", "async"]


def _send(mode: str, subject: str = "Hi") -> int:
    args = (subject, "Body", "shop@example.com", ["ann@example.com"])
    if mode == "sync":
        return send_mail(*args, using="mail")
    return asyncio.run(mailproviders.asend_mail(*args, using="mail"))


def _configure(monkeypatch: pytest.MonkeyPatch, **providers: str) -> None:
    for alias, dsn in providers.items():
        monkeypatch.setenv(f"EMAIL_PROVIDERS__{alias}", dsn)
    mailproviders.configure()


@pytest.mark.parametrize("mode", MODES)
def test_an_api_answering_503_fails_over_to_smtp(
    make_api: Callable[[str], FakeAPI],
    smtp_server: SMTPTestServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    mode: str,
) -> None:
    postmark = make_api("postmark")
    postmark.fail(503, times=10)
    _configure(
        monkeypatch,
        mail="failover://postmark,relay",
        postmark=postmark.dsn(),
        relay=f"smtp://{smtp_server.host}:{smtp_server.port}",
    )
    with caplog.at_level(logging.WARNING, logger="mailproviders"):
        assert _send(mode) == 1
    assert [str(m.parsed()["Subject"]) for m in smtp_server.messages] == ["Hi"]
    assert postmark.received == [] and postmark.requests
    [warning] = [r for r in caplog.records if r.name == "mailproviders"]
    assert "'postmark'" in warning.getMessage() and "HTTP 503" in warning.getMessage()
    assert postmark.key not in caplog.text


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("status", [503, 429])
def test_an_api_fails_over_to_another_api(
    make_api: Callable[[str], FakeAPI],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    mode: str,
    status: int,
) -> None:
    sendgrid, resend = make_api("sendgrid"), make_api("resend")
    sendgrid.fail(status, times=10, headers={"Retry-After": "30"})
    _configure(
        monkeypatch,
        mail="failover://sendgrid,resend",
        sendgrid=sendgrid.dsn(),
        resend=resend.dsn(),
    )
    assert _send(mode) == 1
    assert [r.subject for r in resend.received] == ["Hi"] and sendgrid.received == []
    assert sendgrid.key not in caplog.text and resend.key not in caplog.text


@pytest.mark.parametrize("mode", MODES)
def test_a_permanent_refusal_does_not_fail_over(
    make_api: Callable[[str], FakeAPI], monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    mailgun, postmark = make_api("mailgun"), make_api("postmark")
    _configure(
        monkeypatch,
        mail="failover://mailgun,postmark",
        mailgun=mailgun.dsn("revoked-key-1"),
        postmark=postmark.dsn(),
    )
    with pytest.raises(APIError) as caught:
        _send(mode)
    assert caught.value.status == 401 and not isinstance(caught.value, OSError)
    assert postmark.requests == []  # a refused key is not the next provider's business
    assert "revoked-key-1" not in str(caught.value)


@pytest.mark.parametrize("mode", MODES)
def test_a_request_read_but_never_answered_is_not_resent(
    make_api: Callable[[str], FakeAPI],
    smtp_server: SMTPTestServer,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
) -> None:
    resend = make_api("resend")
    resend.hold()
    _configure(
        monkeypatch,
        mail="failover://resend,relay",
        resend=resend.dsn() + "?timeout=0.3",
        relay=f"smtp://{smtp_server.host}:{smtp_server.port}",
    )
    with pytest.raises(APIUnavailable) as caught:
        _send(mode)
    assert [m.subject for m in possibly_sent_messages_of(caught.value)] == ["Hi"]
    assert caught.value.sent_count == 0  # type: ignore[attr-defined]
    assert smtp_server.messages == []  # not delivered twice
