"""Sending through the four httpx-based API backends (Postmark, SendGrid, Resend, Mailgun),
each against a local server that keeps the provider's documented contract (the contracts
and the API reference pages they follow are in api_fakes.py).

Every case runs for every API, through the sync methods and their async twins.

API references the local servers follow (details in api_fakes.py):
https://postmarkapp.com/developer/api/email-api,
https://www.twilio.com/docs/sendgrid/api-reference/mail-send/mail-send,
https://resend.com/docs/api-reference/emails/send-email,
https://documentation.mailgun.com/docs/mailgun/api-reference/openapi-final/tag/Messages/.
"""

from __future__ import annotations

import asyncio
import email.message
from collections.abc import Callable
from typing import Any

import pytest
from api_fakes import MAILGUN_DOMAIN, FakeAPI

import mailproviders
from mailproviders import EmailMessage, EmailMultiAlternatives, providers, send_mail
from mailproviders.backends.base import BaseEmailBackend
from mailproviders.backends.http.errors import APIError

MODES = ["sync", "async"]


def send(backend: BaseEmailBackend, messages: list[EmailMessage], mode: str) -> int:
    if mode == "sync":
        return backend.send_messages(messages)
    return asyncio.run(backend.asend_messages(messages))


def rich_message() -> EmailMultiAlternatives:
    """A message using every feature the APIs share."""
    message = EmailMultiAlternatives(
        "Grüße, order 42",
        "Plain body",
        "Shop Ltd <shop@example.com>",
        ["Ann Example <ann@example.com>"],
        cc=["cc@example.com"],
        bcc=["hidden@example.com"],
        reply_to=["Support <support@example.com>"],
        headers={"X-Campaign": "spring", "List-Unsubscribe": "<https://example.com/u>"},
    )
    message.attach_alternative('<p>HTML body <img src="cid:logo@shop"></p>', "text/html")
    message.attach("invoice.pdf", b"%PDF-1.4 bytes", "application/pdf")
    logo = email.message.MIMEPart()
    logo.set_content(
        b"\x89PNG...", maintype="image", subtype="png", cid="<logo@shop>", filename="logo.png"
    )
    message.attach(logo)
    message.tags = ["receipt"]  # type: ignore[attr-defined]
    message.metadata = {"order_id": "42", "shard": 7}  # type: ignore[attr-defined]
    return message


@pytest.mark.parametrize("mode", MODES)
def test_every_field_reaches_the_api(api: FakeAPI, mode: str) -> None:
    mailproviders.configure(EMAIL_PROVIDERS={"mail": api.dsn()})
    message = rich_message()
    assert send(providers["mail"], [message], mode) == 1
    [got] = api.received
    assert got.sender == "Shop Ltd <shop@example.com>"
    assert got.to == ["Ann Example <ann@example.com>"]
    assert (got.cc, got.bcc) == (["cc@example.com"], ["hidden@example.com"])
    assert got.reply_to == ["Support <support@example.com>"]
    assert got.subject == "Grüße, order 42"
    assert (got.text, got.html) == ("Plain body", '<p>HTML body <img src="cid:logo@shop"></p>')
    assert got.headers == {"X-Campaign": "spring", "List-Unsubscribe": "<https://example.com/u>"}
    pdf, logo = got.attachments
    assert pdf == ("invoice.pdf", b"%PDF-1.4 bytes", "application/pdf", None)
    assert logo[1:] == (b"\x89PNG...", "image/png", "logo@shop")  # inline, by Content-ID
    assert got.tags == ["receipt"]
    assert got.metadata == {"order_id": "42", "shard": "7"}
    assert message.provider_message_id == got.message_id  # type: ignore[attr-defined]


@pytest.mark.parametrize("mode", MODES)
def test_send_mail_with_a_dsn_from_the_environment(
    api: FakeAPI, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMAIL_PROVIDERS__transactional", api.dsn())
    mailproviders.configure()
    args = ("Welcome", "Hello", "shop@example.com", ["ann@example.com"])
    if mode == "sync":
        assert send_mail(*args, using="transactional") == 1
    else:
        assert asyncio.run(mailproviders.asend_mail(*args, using="transactional")) == 1
    assert [(r.subject, r.to, r.text) for r in api.received] == [
        ("Welcome", ["ann@example.com"], "Hello")
    ]


KEYS_BY_SCHEME = {
    "postmark+api": "T",
    "sendgrid+api": "K",
    "resend+api": "K",
    "mailgun+api": "K:d.example",
}


@pytest.mark.parametrize("scheme", sorted(KEYS_BY_SCHEME))
@pytest.mark.parametrize("mode", MODES)
def test_one_connection_serves_every_message_of_a_call(
    counting_server: Any, scheme: str, mode: str
) -> None:
    host = counting_server.endpoint.removeprefix("http://")
    mailproviders.configure(
        EMAIL_PROVIDERS={"mail": f"{scheme}://{KEYS_BY_SCHEME[scheme]}@{host}"}
    )
    messages = [
        EmailMessage(f"n{n}", "Body", "shop@example.com", ["a@example.com"]) for n in range(3)
    ]
    assert send(providers["mail"], messages, mode) == 3
    assert (counting_server.requests, counting_server.connections) == (3, 1)
    assert [m.provider_message_id for m in messages] == ["m-1"] * 3  # type: ignore[attr-defined]


def test_a_cached_instance_reuses_its_connection_across_calls(counting_server: Any) -> None:
    host = counting_server.endpoint.removeprefix("http://")
    mailproviders.configure(EMAIL_PROVIDERS={"mail": f"postmark+api://T@{host}"})
    for n in range(3):
        send_mail(f"n{n}", "Body", "shop@example.com", ["a@example.com"], using="mail")
    assert providers["mail"] is providers["mail"]
    assert (counting_server.requests, counting_server.connections) == (3, 1)


@pytest.mark.parametrize("mode", MODES)
def test_messages_without_recipients_are_skipped(api: FakeAPI, mode: str) -> None:
    mailproviders.configure(EMAIL_PROVIDERS={"mail": api.dsn()})
    messages = [EmailMessage("none", "Body", "shop@example.com", []), rich_message()]
    assert send(providers["mail"], messages, mode) == 1
    assert [r.subject for r in api.received] == ["Grüße, order 42"]


@pytest.mark.parametrize("mode", MODES)
def test_open_checks_the_key_and_sends_nothing(api: FakeAPI, mode: str) -> None:
    mailproviders.configure(EMAIL_PROVIDERS={"mail": api.dsn(), "bad": api.dsn("wrong-key")})

    def opened(alias: str) -> None:
        backend = providers.create_connection(alias)
        if mode == "sync":
            with backend:
                pass
        else:

            async def run() -> None:
                async with backend:
                    pass

            asyncio.run(run())

    opened("mail")
    assert api.received == [] and len(api.requests) == 1
    with pytest.raises(APIError) as caught:
        opened("bad")
    assert caught.value.status in (401, 403) and not isinstance(caught.value, OSError)
    assert api.key not in str(caught.value) and "wrong-key" not in str(caught.value)


def test_a_sending_only_resend_key_passes_verification(make_api: Callable[[str], Any]) -> None:
    api = make_api("resend")
    api.sending_only = True
    mailproviders.configure(EMAIL_PROVIDERS={"mail": api.dsn()})
    with providers.create_connection("mail"):
        pass


def test_mailgun_posts_to_the_domain_of_the_dsn(make_api: Callable[[str], Any]) -> None:
    api = make_api("mailgun")
    mailproviders.configure(EMAIL_PROVIDERS={"mail": api.dsn()})
    assert providers["mail"].domain == MAILGUN_DOMAIN  # type: ignore[attr-defined]
    send_mail("Hi", "Body", "shop@example.com", ["a@example.com"], using="mail")
    assert api.requests[0].path == f"/v3/{MAILGUN_DOMAIN}/messages"


@pytest.mark.parametrize("mode", MODES)
def test_postmark_reports_inactive_recipients(make_api: Callable[[str], Any], mode: str) -> None:
    api = make_api("postmark")
    mailproviders.configure(EMAIL_PROVIDERS={"mail": api.dsn()})
    backend = providers["mail"]
    partly = EmailMessage(
        "A", "Body", "shop@example.com", ["ok@example.com", "inactive1@example.com"]
    )
    assert send(backend, [partly], mode) == 1
    assert list(partly.refused_recipients) == ["inactive1@example.com"]
    assert partly.refused_recipients["inactive1@example.com"][0] == 406
    wholly = EmailMessage("B", "Body", "shop@example.com", ["inactive2@example.com"])
    with pytest.raises(APIError) as caught:
        send(backend, [wholly], mode)
    assert (caught.value.status, caught.value.code) == (422, "406")
    assert list(wholly.refused_recipients) == ["inactive2@example.com"]
    assert caught.value.sent_count == 0  # type: ignore[attr-defined]


def test_message_send_reports_the_provider_message_id_on_the_callers_message(
    api: FakeAPI,
) -> None:
    # message.send() hands a filled-in copy to the backend; what the backend reports on
    # it comes back to the caller's object, sync and async.
    mailproviders.configure(EMAIL_PROVIDERS={"mail": api.dsn()})
    message = rich_message()
    assert message.send(using="mail") == 1
    assert message.provider_message_id == api.received[-1].message_id  # type: ignore[attr-defined]
    again = rich_message()
    assert asyncio.run(again.asend(using="mail")) == 1
    assert again.provider_message_id == api.received[-1].message_id  # type: ignore[attr-defined]
