"""452 "too many recipients" (issue 15, item 16): the rest of the recipients go in further
transactions (RFC 5321 4.5.3.1.10), on the sync and async paths, against aiosmtpd answering
452 after N recipients and against a real Postfix (``postfix_server`` in smtp_fixtures.py)."""

from __future__ import annotations

import logging
import smtplib

import pytest

from mailproviders.backends.smtp import EmailBackend
from mailproviders.exceptions import possibly_sent_messages_of
from mailproviders.message import EmailMessage
from smtp_fixtures import PostfixServer, Send, ServerFactory


def addresses(count: int, domain: str = "example.org") -> list[str]:
    return [f"r{n:04}@{domain}" for n in range(count)]


def message(to: list[str]) -> EmailMessage:
    return EmailMessage("Many", "Body", "from@example.com", to)


def test_rest_of_the_recipients_go_in_further_transactions(
    send: Send, fault_smtp_server: ServerFactory
) -> None:
    server = fault_smtp_server(rcpt_limit=3)
    to = addresses(10)
    sent = message(to)
    assert send(EmailBackend(**server.options()), [sent]) == 1
    assert [received.rcpt_tos for received in server.messages] == [
        to[0:3],
        to[3:6],
        to[6:9],
        to[9:10],
    ]
    assert sent.refused_recipients == {}
    assert server.connection_count == 1


def test_refusals_across_transactions_are_all_reported(
    send: Send, fault_smtp_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    to = addresses(1000)
    refused = to[100:1000:3]  # 300 refused with 550, spread over the transactions
    server = fault_smtp_server(rcpt_limit=100, refuse_rcpt=refused)
    sent = message(to)
    with caplog.at_level(logging.WARNING, logger="mailproviders"):
        assert send(EmailBackend(**server.options()), [sent]) == 1
    delivered = [address for received in server.messages for address in received.rcpt_tos]
    assert sorted(delivered) == sorted(set(to) - set(refused))
    assert set(sent.refused_recipients) == set(refused)
    assert {code for code, _ in sent.refused_recipients.values()} == {550}
    [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
    text = record.getMessage()
    assert "refused 300 recipient(s)" in text
    assert "and 295 more" in text
    assert sum(address in text for address in refused) == 5  # the first few, not all
    assert len(text) < 1000


def test_no_progress_means_the_rest_is_refused(
    send: Send, fault_smtp_server: ServerFactory
) -> None:
    # The first recipient is refused (550) and the server takes no more than one per
    # transaction: the 452 for the second comes with nothing accepted, so the client
    # stops there instead of retrying for ever.
    to = addresses(4)
    server = fault_smtp_server(rcpt_limit=0, refuse_rcpt=to[:1])
    sent = message(to)
    with pytest.raises(smtplib.SMTPRecipientsRefused) as info:
        send(EmailBackend(**server.options()), [sent])
    assert set(info.value.recipients) == set(to)
    assert info.value.recipients[to[0]][0] == 550
    assert {info.value.recipients[a][0] for a in to[1:]} == {452}
    assert set(sent.refused_recipients) == set(to)
    assert server.messages == []


def test_failure_in_a_later_transaction_marks_the_message_possibly_sent(
    send: Send, fault_smtp_server: ServerFactory
) -> None:
    server = fault_smtp_server(rcpt_limit=2, mail_reply="451 4.3.0 try later", mail_reply_at=2)
    sent = message(addresses(4))
    with pytest.raises(smtplib.SMTPSenderRefused) as info:
        send(EmailBackend(**server.options()), [sent])
    assert [received.rcpt_tos for received in server.messages] == [addresses(2)]
    assert possibly_sent_messages_of(info.value) == [sent]
    assert any("already delivered to some" in note for note in info.value.__notes__)


def test_postfix_recipient_limit(send: Send, postfix_server: PostfixServer) -> None:
    limit = postfix_server.recipient_limit
    to = addresses(4 * limit + 2)
    assert send(EmailBackend(**postfix_server.options()), [message(to)]) == 1
    deliveries = postfix_server.deliveries(len(to))
    assert sorted(a for recipients in deliveries.values() for a in recipients) == sorted(to)
    # one queued message per transaction: limit, limit, limit, limit, 2
    assert sorted(map(len, deliveries.values())) == [2] + [limit] * 4
