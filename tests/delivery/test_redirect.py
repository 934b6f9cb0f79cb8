"""REDIRECT: recipients not allowed go to the redirect addresses, in the envelope and the
headers, with the originals in X-Original-To/Cc and Bcc never in a header. The function on
its own, then end to end through a provider to a real SMTP server, sync and async."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from mailproviders import EmailMessage
from mailproviders.asending import asend_mail
from mailproviders.delivery.redirect import is_allowed, redirected
from mailproviders.handler import configure
from mailproviders.message.rendered import RenderedMessage
from mailproviders.sending import send_mail
from smtp_fixtures import ServerFactory, SMTPTestServer

DEV = ["dev@example.com"]
ALLOW = ["*@example.com", "QA+*@Corp.test"]


def message(**extra: Any) -> EmailMessage:
    arguments: dict[str, Any] = {
        "subject": "Hello",
        "body": "Body\n",
        "from_email": "app@example.com",
        "to": ["Ann <ann@example.com>", "bob@customer.org"],
        "cc": ["carol@customer.org", "qa+7@corp.test"],
        "bcc": ["secret-bcc@partner.net", "audit@example.com"],
    }
    return EmailMessage(**{**arguments, **extra})


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("ann@example.com", True),
        ("ANN@EXAMPLE.COM", True),
        ("Ann Other <ann@example.com>", True),
        ("qa+12@corp.test", True),
        ("ann@example.com.evil.org", False),
        ("ann@sub.example.com", False),
        ("bob@customer.org", False),
        ("qa@corp.test", False),
    ],
)
def test_allow_globs_match_the_address_case_insensitively(address: str, allowed: bool) -> None:
    assert is_allowed(address, ALLOW) is allowed


def test_international_domains_match_either_form() -> None:
    assert is_allowed("jo@bücher.de", ["*@xn--bcher-kva.de"])
    assert is_allowed("jo@bücher.de", ["*@BÜCHER.de"])
    assert not is_allowed("jo@buecher.de", ["*@bücher.de"])


def test_an_address_in_an_ascii_domain_matches_a_unicode_pattern() -> None:
    assert is_allowed("jo@xn--bcher-kva.de", ["*@bücher.de"])
    assert is_allowed("Jo <JO@XN--BCHER-KVA.DE>", ["jo@BÜCHER.de"])


@pytest.mark.parametrize(
    "address",
    [
        "ann@example.com (x) <bob@evil.test>",  # an address hidden after a comment
        "ann@example.com, bob@evil.test",  # two addresses in one entry
        "Ann <ann@example.com>, bob@evil.test",
        '"ann@example.com"@evil.test',  # a quoted local part that looks allowed
        "ann@example.com@evil.test",
    ],
)
def test_an_address_that_is_not_one_mailbox_is_never_allowed(address: str) -> None:
    assert not is_allowed(address, ["*@example.com"])


def test_empty_entries_are_not_counted_as_redirected_recipients() -> None:
    allowed = message(to=["", "ann@example.com"], cc=[""], bcc=[])
    assert redirected(allowed, to=DEV, allow=ALLOW, alias=None) is allowed


def test_an_unparsable_recipient_is_redirected_by_a_provider() -> None:
    from mailproviders import outbox

    configure(
        EMAIL_PROVIDERS={"default": {"BACKEND": "locmem", "REDIRECT": {"to": DEV, "allow": ALLOW}}}
    )
    smuggled = "ann@example.com, bob@evil.test"
    assert send_mail("s", "b", "app@example.com", [smuggled, "ann@example.com"]) == 1
    assert outbox[-1].to == ["ann@example.com", *DEV]
    assert outbox[-1].message()["X-Original-To"] == f"{smuggled}, ann@example.com"


def test_disallowed_recipients_are_replaced_in_a_copy(caplog: pytest.LogCaptureFixture) -> None:
    original = message(headers={"X-Tag": "t"})
    before = (
        list(original.to),
        list(original.cc),
        list(original.bcc),
        dict(original.extra_headers),
    )
    with caplog.at_level(logging.INFO, logger="mailproviders"):
        result = redirected(original, to=DEV, allow=ALLOW, alias="staging")
    assert result is not original
    assert (original.to, original.cc, original.bcc, original.extra_headers) == before
    assert result.to == ["Ann <ann@example.com>", "dev@example.com"]
    assert result.cc == ["qa+7@corp.test"]
    assert result.bcc == ["audit@example.com"]
    assert result.extra_headers == {
        "X-Tag": "t",
        "X-Original-To": "Ann <ann@example.com>, bob@customer.org",
        "X-Original-Cc": "carol@customer.org, qa+7@corp.test",
    }
    [record] = [r for r in caplog.records if r.name == "mailproviders"]
    assert record.levelno == logging.INFO
    text = record.getMessage()
    assert "'staging'" in text and "replaced 3 of 6" in text and "goes to 4" in text
    assert "customer.org" not in text and "partner.net" not in text


def test_bcc_never_reaches_a_header() -> None:
    original = message(to=["ann@example.com"], cc=[], bcc=["hidden@partner.net"])
    result = redirected(original, to=DEV, allow=ALLOW, alias="a")
    data = result.message().as_string()
    assert "hidden@partner.net" not in data
    assert result.recipients() == ["ann@example.com", "dev@example.com"]


def test_everything_allowed_is_returned_unchanged(caplog: pytest.LogCaptureFixture) -> None:
    original = message(to=["a@example.com"], cc=[], bcc=["qa+1@corp.test"])
    with caplog.at_level(logging.INFO, logger="mailproviders"):
        assert redirected(original, to=DEV, allow=ALLOW, alias="a") is original
    assert caplog.records == []


def test_no_allow_list_redirects_everyone_and_targets_are_not_doubled() -> None:
    original = message(to=["x@a.test", "DEV@example.com"], cc=[], bcc=[])
    result = redirected(original, to=DEV, allow=[], alias=None)
    assert result.to == ["dev@example.com"]
    kept = redirected(original, to=DEV, allow=["dev@*"], alias=None)
    assert kept.to == ["DEV@example.com"]  # already there: not added twice


def test_a_to_header_override_is_recorded_and_replaced() -> None:
    original = message(to=["x@a.test"], cc=[], bcc=[], headers={"to": "Everyone <all@a.test>"})
    result = redirected(original, to=DEV, allow=ALLOW, alias=None)
    assert result.extra_headers == {"X-Original-To": "Everyone <all@a.test>"}
    assert str(result.message()["To"]) == "dev@example.com"


def test_a_rendered_message_gets_a_new_envelope_and_a_count_header() -> None:
    data = b"From: app@example.com\r\nTo: bob@customer.org\r\nSubject: Hi\r\n\r\nBody\r\n"
    original = RenderedMessage(
        data,
        from_email="app@example.com",
        recipients=["bob@customer.org", "ann@example.com", "hidden@partner.net"],
    )
    result = redirected(original, to=DEV, allow=ALLOW, alias="x")
    assert original.to == ["bob@customer.org", "ann@example.com", "hidden@partner.net"]
    assert original.data == data
    assert result.to == ["ann@example.com", "dev@example.com"]
    assert result.data == (
        b"X-Mailproviders-Redirected: 2 of 3 envelope recipient(s) replaced\r\n" + data
    )
    assert b"partner.net" not in result.data
    assert redirected(original, to=DEV, allow=["*"], alias="x") is original


# --- end to end: a provider with REDIRECT, a real SMTP server ---------------------------


def redirecting(server: SMTPTestServer, **redirect: Any) -> None:
    policy = {"to": DEV, "allow": ALLOW, **redirect}
    configure(
        EMAIL_PROVIDERS={
            "default": {"BACKEND": "smtp", "OPTIONS": server.options(), "REDIRECT": policy}
        }
    )


def check_received(server: SMTPTestServer) -> None:
    [received] = server.messages
    assert received.rcpt_tos == ["ann@example.com", "dev@example.com", "qa+7@corp.test"]
    parsed = received.parsed()
    assert parsed["To"] == "Ann <ann@example.com>, dev@example.com"
    assert parsed["Cc"] == "qa+7@corp.test"
    assert parsed["X-Original-To"] == "Ann <ann@example.com>, bob@customer.org"
    assert parsed["X-Original-Cc"] == "carol@customer.org, qa+7@corp.test"
    assert b"partner.net" not in received.data and b"audit@" not in received.data


def test_end_to_end_through_smtp(
    fault_smtp_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    server = fault_smtp_server()
    redirecting(server)
    original = message(bcc=["secret-bcc@partner.net"])
    with caplog.at_level(logging.INFO, logger="mailproviders"):
        assert original.send() == 1
    check_received(server)
    assert original.to == ["Ann <ann@example.com>", "bob@customer.org"]
    assert original.bcc == ["secret-bcc@partner.net"]
    assert sum("REDIRECT replaced 3 of 5" in r.getMessage() for r in caplog.records) == 1


def test_end_to_end_async(fault_smtp_server: ServerFactory) -> None:
    server = fault_smtp_server()
    redirecting(server)
    original = message(bcc=["secret-bcc@partner.net"])
    assert asyncio.run(original.asend()) == 1
    check_received(server)


def test_send_mail_functions_sync_and_async(fault_smtp_server: ServerFactory) -> None:
    server = fault_smtp_server()
    redirecting(server, allow=[])
    assert send_mail("s", "b", "app@example.com", ["ann@example.com", "x@y.test"]) == 1
    assert asyncio.run(asend_mail("s", "b", "app@example.com", ["z@y.test"])) == 1
    assert [m.rcpt_tos for m in server.messages] == [["dev@example.com"], ["dev@example.com"]]


def test_redirect_from_environment_variables(
    fault_smtp_server: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = fault_smtp_server()
    monkeypatch.setenv("EMAIL_PROVIDERS__default", f"smtp://127.0.0.1:{server.port}")
    monkeypatch.setenv("EMAIL_PROVIDERS__default__REDIRECT__to", '["dev@example.com"]')
    monkeypatch.setenv("EMAIL_PROVIDERS__default__REDIRECT__allow", '["*@example.com"]')
    configure()
    assert send_mail("s", "b", "app@example.com", ["ann@example.com", "x@y.test"]) == 1
    assert server.messages[0].rcpt_tos == ["ann@example.com", "dev@example.com"]
