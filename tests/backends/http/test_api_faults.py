"""The fault matrix of the four httpx-based API backends, sync and async.

Each API runs on a local server keeping its documented contract (api_fakes.py cites the
reference pages): a wrong key (401; Resend answers 403 ``invalid_api_key``), the API's
validation error (422, or 400 for SendGrid and Mailgun) naming what is wrong, 429 with
``Retry-After``, 500, connection refused, a connection never answered, and a request
read whole but never answered. Permanent failures are ``APIError`` (not ``OSError``);
the others ``APIUnavailable`` (an ``OSError``); ``sent_count`` is exact; the key never
shows in an error, its notes or the log.

API references the local servers follow (details in api_fakes.py):
https://postmarkapp.com/developer/api/email-api,
https://www.twilio.com/docs/sendgrid/api-reference/mail-send/mail-send,
https://resend.com/docs/api-reference/emails/send-email,
https://documentation.mailgun.com/docs/mailgun/api-reference/openapi-final/tag/Messages/.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from api_fakes import FakeAPI

import mailproviders
from mailproviders import EmailMessage, providers
from mailproviders.backends.http.errors import APIError, APIUnavailable
from mailproviders.exceptions import possibly_sent_messages_of, sent_messages_of

MODES = ["sync", "async"]


def _dsn(api: FakeAPI, endpoint: str | None = None, **query: object) -> str:
    dsn = api.dsn()
    if endpoint is not None:
        dsn = dsn.replace(api.endpoint.removeprefix("http://"), endpoint.removeprefix("http://"))
    return dsn + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def _messages(count: int) -> list[EmailMessage]:
    return [
        EmailMessage(f"n{n}", f"Body {n}", "shop@example.com", ["a@example.com"])
        for n in range(count)
    ]


def _send(dsn: str, messages: list[EmailMessage], mode: str) -> APIError:
    """Send ``messages`` through ``dsn``; return the error (the test fails without one)."""
    mailproviders.configure(EMAIL_PROVIDERS={"mail": dsn})
    backend = providers.create_connection("mail")
    with pytest.raises(APIError) as caught:
        if mode == "sync":
            backend.send_messages(messages)
        else:
            asyncio.run(backend.asend_messages(messages))
    return caught.value


def _shows_no_key(exc: BaseException, key: str, caplog: pytest.LogCaptureFixture) -> None:
    shown = [str(exc), repr(exc), *getattr(exc, "__notes__", [])]
    shown += [record.getMessage() for record in caplog.records]
    assert not [text for text in shown if key in text]


@pytest.fixture(autouse=True)
def _debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # httpx and httpcore log every request at DEBUG


@pytest.mark.parametrize("mode", MODES)
def test_wrong_key(api: FakeAPI, mode: str, caplog: pytest.LogCaptureFixture) -> None:
    error = _send(api.dsn("wrong-key-123"), _messages(2), mode)
    assert not isinstance(error, OSError)
    assert error.status == (403 if api.name == "resend" else 401)
    assert error.alias == "mail" and f"HTTP {error.status}" in str(error)
    assert error.sent_count == 0 and api.received == []  # type: ignore[attr-defined]
    _shows_no_key(error, "wrong-key-123", caplog)


@pytest.mark.parametrize("mode", MODES)
def test_validation_error_is_permanent_and_sent_count_exact(
    api: FakeAPI, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    first, empty, third = _messages(3)
    empty.body = ""  # every API refuses a message without a body
    error = _send(api.dsn(), [first, empty, third], mode)
    assert not isinstance(error, OSError)
    assert error.status == api.validation_status
    assert error.sent_count == 1 and sent_messages_of(error) == [first]  # type: ignore[attr-defined]
    assert [r.subject for r in api.received] == ["n0"]
    assert first.provider_message_id == api.received[0].message_id  # type: ignore[attr-defined]
    described = " ".join([error.detail, *error.field_errors, *error.field_errors.values()])
    assert any(word in described.lower() for word in ("text", "content", "body"))
    if api.name == "sendgrid":  # the one API that names the field
        assert list(error.field_errors) == ["content"]
    _shows_no_key(error, api.key, caplog)


@pytest.mark.parametrize("mode", MODES)
def test_429_honours_retry_after(
    api: FakeAPI, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    mailproviders.configure(EMAIL_PROVIDERS={"mail": api.dsn()})
    first, second = _messages(2)
    providers["mail"].send_messages([first])
    api.fail(429, headers={"Retry-After": "7"})
    error = _send(api.dsn(), [second], mode)
    assert isinstance(error, APIUnavailable) and isinstance(error, OSError)
    assert (error.status, error.retry_after) == (429, 7.0)
    assert "retry after 7 s" in str(error)
    assert error.sent_count == 0 and possibly_sent_messages_of(error) == []  # type: ignore[attr-defined]
    _shows_no_key(error, api.key, caplog)


@pytest.mark.parametrize("mode", MODES)
def test_500_after_one_message(api: FakeAPI, mode: str, caplog: pytest.LogCaptureFixture) -> None:
    messages = _messages(3)
    mailproviders.configure(EMAIL_PROVIDERS={"mail": api.dsn()})
    providers["mail"].send_messages(messages[:1])
    api.received.clear()
    api.fail(500)
    error = _send(api.dsn(), messages[1:], mode)
    assert isinstance(error, APIUnavailable) and error.status == 500
    assert error.sent_count == 0 and api.received == []  # type: ignore[attr-defined]
    _shows_no_key(error, api.key, caplog)


@pytest.mark.parametrize("mode", MODES)
def test_connection_refused(
    api: FakeAPI, refused_endpoint: str, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    error = _send(_dsn(api, refused_endpoint), _messages(1), mode)
    assert isinstance(error, APIUnavailable) and error.status is None
    assert "ConnectError" in str(error) and refused_endpoint in str(error)
    assert possibly_sent_messages_of(error) == []
    _shows_no_key(error, api.key, caplog)


@pytest.mark.parametrize("mode", MODES)
def test_connection_never_answered(
    api: FakeAPI, unanswered_endpoint: str, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    error = _send(_dsn(api, unanswered_endpoint, timeout=0.3), _messages(1), mode)
    assert isinstance(error, APIUnavailable)
    assert "ConnectTimeout" in str(error) and "timeout=0.3 s" in str(error)
    assert possibly_sent_messages_of(error) == []  # the request never left: not delivered
    _shows_no_key(error, api.key, caplog)


@pytest.mark.parametrize("mode", MODES)
def test_timeout_after_the_request_was_sent(
    api: FakeAPI, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    api.hold()
    message = _messages(1)[0]
    error = _send(_dsn(api, timeout=0.3), [message], mode)
    assert isinstance(error, APIUnavailable)
    assert "ReadTimeout" in str(error) and "after sending the request" in str(error)
    assert possibly_sent_messages_of(error) == [message]
    assert error.sent_count == 0  # type: ignore[attr-defined]
    assert len(api.requests) == 1  # the API read it: it may act on it
    _shows_no_key(error, api.key, caplog)
