"""PIPELINING (RFC 2920), sync and native async, against an own asyncio server that
records which commands arrived in one read (``pipelining_server`` in smtp_fixtures.py),
Postfix's ``smtp-sink`` and a real Postfix."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import Callable, Iterable

import pytest

from mailproviders.backends.smtp import EmailBackend
from mailproviders.exceptions import possibly_sent_messages_of, sent_messages_of
from mailproviders.handler import configure, providers
from mailproviders.message import EmailMessage
from smtp_fixtures import PipeliningServer, PostfixServer, Send, SMTPSink, async_send

Servers = Callable[..., PipeliningServer]


def message(n: int, to: list[str] | None = None) -> EmailMessage:
    return EmailMessage(
        f"m-{n}",
        f"body of m-{n}\n.leading dot\n",
        "sender@example.com",
        to or [f"rcpt{n}@example.com"],
        headers={"Message-ID": f"<m-{n}@pipelining.test>"},
    )


def ids(messages: Iterable[EmailMessage]) -> list[str]:
    return [str(m.extra_headers["Message-ID"]) for m in messages]


ENVELOPE_3 = ["MAIL", "RCPT", "RCPT", "RCPT", "DATA"]


def test_envelope_goes_out_in_one_write(send: Send, pipelining_server: Servers) -> None:
    server = pipelining_server()
    to = ["a@example.com", "b@example.com", "c@example.com"]
    assert send(EmailBackend(**server.options()), [message(1, to), message(2, to)]) == 2
    assert server.envelope_reads() == [ENVELOPE_3, ENVELOPE_3]
    assert server.message_ids() == ["<m-1@pipelining.test>", "<m-2@pipelining.test>"]
    assert server.accepted[0].endswith(b"\r\n..leading dot\r\n")  # dot-stuffed on the wire


def test_long_recipient_list_goes_out_in_groups(send: Send, pipelining_server: Servers) -> None:
    server = pipelining_server()
    to = [f"r{n}@example.com" for n in range(250)]
    assert send(EmailBackend(**server.options()), [message(1, to)]) == 1
    commands = [verb for reads in server.reads for verbs in reads for verb in verbs]
    assert commands.count("RCPT") == 250
    assert commands.count("DATA") == 1
    # at most 100 commands per write, each group's replies read before the next goes out
    assert server.envelope_reads() == [["MAIL"] + ["RCPT"] * 99]
    assert max(len(verbs) for reads in server.reads for verbs in reads) == 100
    assert server.message_ids() == ["<m-1@pipelining.test>"]


@pytest.mark.parametrize(
    ("advertised", "option"), [(False, True), (True, False)], ids=["not-advertised", "off"]
)
def test_no_pipelining_without_it(
    send: Send, pipelining_server: Servers, advertised: bool, option: bool
) -> None:
    server = pipelining_server(pipelining=advertised)
    backend = EmailBackend(**server.options(pipelining=option))
    to = ["a@example.com", "b@example.com"]
    assert send(backend, [message(1, to), message(2, to)]) == 2
    reads = [verbs for reads in server.reads for verbs in reads if verbs]
    assert all(len(verbs) == 1 for verbs in reads), reads
    assert server.message_ids() == ["<m-1@pipelining.test>", "<m-2@pipelining.test>"]


def test_refused_recipient_inside_a_pipelined_envelope(
    send: Send, pipelining_server: Servers
) -> None:
    server = pipelining_server(refuse=frozenset({"bad@example.com"}))
    partly = message(1, ["good@example.com", "bad@example.com"])
    refused = message(2, ["bad@example.com"])
    after = message(3)
    backend = EmailBackend(**server.options())
    assert send(backend, [partly]) == 1
    assert partly.refused_recipients == {"bad@example.com": (550, "no such user here")}
    with pytest.raises(smtplib.SMTPRecipientsRefused) as info:
        send(backend, [refused, after])
    assert info.value.recipients == {"bad@example.com": (550, b"no such user here")}
    assert info.value.sent_count == 0  # type: ignore[attr-defined]
    assert possibly_sent_messages_of(info.value) == []  # certainly not accepted
    assert refused.refused_recipients == {"bad@example.com": (550, "no such user here")}
    # the envelope went out whole; DATA was refused (554), then RSET; nothing sent
    assert server.envelope_reads()[-1] == ["MAIL", "RCPT", "DATA"]
    assert "RSET" in [verb for verbs in server.reads[-1] for verb in verbs]
    assert send(backend, [after]) == 1
    assert server.message_ids() == ["<m-1@pipelining.test>", "<m-3@pipelining.test>"]


def test_refusal_keeps_an_open_session_usable(send: Send, pipelining_server: Servers) -> None:
    server = pipelining_server(refuse=frozenset({"bad@example.com"}))
    backend = EmailBackend(**server.options())

    async def both() -> int:
        await backend.aopen()
        try:
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                await backend.asend_messages([message(1, ["bad@example.com"])])
            return await backend.asend_messages([message(2)])
        finally:
            await backend.aclose()

    if send is async_send:
        assert asyncio.run(both()) == 1
    else:
        with backend:
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                backend.send_messages([message(1, ["bad@example.com"])])
            assert backend.send_messages([message(2)]) == 1
    assert len(server.reads) == 1  # one connection: RSET kept it usable
    assert server.message_ids() == ["<m-2@pipelining.test>"]


def test_connection_lost_after_pipelined_data(send: Send, pipelining_server: Servers) -> None:
    server = pipelining_server(drop_after_data=2)
    messages = [message(n) for n in (1, 2, 3)]
    with pytest.raises(smtplib.SMTPServerDisconnected) as info:
        send(EmailBackend(**server.options()), messages)
    assert sent_messages_of(info.value) == messages[:1]
    assert possibly_sent_messages_of(info.value) == [messages[1]]
    assert server.message_ids(server.unanswered) == ["<m-2@pipelining.test>"]
    assert server.envelope_reads() == [["MAIL", "RCPT", "DATA"]] * 2


def test_failover_does_not_resend_after_pipelined_data(pipelining_server: Servers) -> None:
    primary = pipelining_server(drop_after_data=2)
    backup = pipelining_server()
    configure(
        EMAIL_PROVIDERS={
            "mail": "failover://primary,backup",
            "primary": {"BACKEND": "smtp", "OPTIONS": primary.options()},
            "backup": {"BACKEND": "smtp", "OPTIONS": backup.options()},
        }
    )
    messages = [message(n) for n in (1, 2, 3, 4)]
    with pytest.raises(smtplib.SMTPServerDisconnected) as info:
        providers["mail"].send_messages(messages)
    assert possibly_sent_messages_of(info.value) == [messages[1]]
    assert primary.message_ids() == ["<m-1@pipelining.test>"]
    assert backup.message_ids() == ["<m-3@pipelining.test>", "<m-4@pipelining.test>"]
    assert backup.envelope_reads() == [["MAIL", "RCPT", "DATA"]] * 2


def test_smtp_sink_counts_a_pipelined_bulk_send(send: Send, smtp_sink: SMTPSink) -> None:
    messages = [message(n, ["a@example.com", "b@example.com"]) for n in range(300)]
    assert send(EmailBackend(**smtp_sink.options()), messages) == 300
    assert smtp_sink.count(300) == 300


def test_postfix_smtputf8_with_pipelining(send: Send, postfix_server: PostfixServer) -> None:
    to = ["jürgen@example.com", "plain@example.com"]
    utf8 = EmailMessage("Grüße", "Hallo\n", "sender@example.com", to)
    assert send(EmailBackend(**postfix_server.options()), [utf8, message(2)]) == 2
    deliveries = postfix_server.deliveries(3)
    delivered = sorted(a for recipients in deliveries.values() for a in recipients)
    assert delivered == ["jürgen@example.com", "plain@example.com", "rcpt2@example.com"]
    with EmailBackend(**postfix_server.options()) as backend:
        assert backend.connection is not None
        backend.connection.ehlo_or_helo_if_needed()
        assert backend.connection.has_extn("pipelining")  # so the sends above pipelined
