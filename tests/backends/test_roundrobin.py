"""Round-robin backend against real SMTP servers on loopback (and locmem for threads)."""

from __future__ import annotations

import logging
import smtplib
import threading
from collections import Counter

import pytest

from composite_helpers import batch, ids, refusing, setup, smtp, warnings_of
from mailproviders import outbox
from mailproviders.backends.roundrobin import EmailBackend
from mailproviders.exceptions import possibly_sent_messages_of, sent_messages_of
from mailproviders.handler import providers
from mailproviders.sending import send_mail
from smtp_fixtures import ServerFactory


def test_messages_rotate_across_providers(fault_smtp_server: ServerFactory) -> None:
    a, b, c = fault_smtp_server(), fault_smtp_server(), fault_smtp_server()
    setup("roundrobin://a,b,c", a=smtp(a), b=smtp(b), c=smtp(c))
    assert providers["mail"].send_messages(batch(7)) == 7
    assert ids(a) == ["m-1", "m-4", "m-7"]
    assert ids(b) == ["m-2", "m-5"]
    assert ids(c) == ["m-3", "m-6"]
    # One connection per provider for the whole batch, not one per message.
    assert [s.connection_count for s in (a, b, c)] == [1, 1, 1]


def test_rotation_continues_across_calls_of_one_instance(
    fault_smtp_server: ServerFactory,
) -> None:
    a, b = fault_smtp_server(), fault_smtp_server()
    setup("roundrobin://a,b", a=smtp(a), b=smtp(b))
    for n in range(3):
        send_mail(f"s{n}", "body", "from@example.com", ["to@example.com"], using="mail")
    assert len(a.messages) == 2 and len(b.messages) == 1
    assert providers["mail"] is providers["mail"]  # cached per thread: one rotation


def test_rotation_is_thread_safe() -> None:
    setup("roundrobin://a,b,c", a="locmem://", b="locmem://", c="locmem://")
    backend = EmailBackend(alias="mail", using=["a", "b", "c"], providers=providers)
    barrier = threading.Barrier(4)

    def worker(tag: str) -> None:
        barrier.wait()
        for message in batch(15, tag=tag):
            backend.send_messages([message])

    threads = [threading.Thread(target=worker, args=(f"t{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Counter(message.sent_using for message in outbox) == {"a": 20, "b": 20, "c": 20}
    assert len({message.extra_headers["Message-ID"] for message in outbox}) == 60


def test_a_provider_that_fails_is_skipped(
    fault_smtp_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    b, c = fault_smtp_server(), fault_smtp_server()
    setup("roundrobin://a,b,c", a=smtp(refusing(fault_smtp_server)), b=smtp(b), c=smtp(c))
    with caplog.at_level(logging.WARNING, logger="mailproviders"):
        assert providers["mail"].send_messages(batch(6)) == 6
    assert ids(b) == ["m-1", "m-2", "m-4", "m-5"]
    assert ids(c) == ["m-3", "m-6"]
    [warning] = warnings_of(caplog)  # tried once, then skipped for the rest of the call
    assert "'a'" in warning and "'b'" in warning


def test_transient_reply_moves_the_message_to_the_next(fault_smtp_server: ServerFactory) -> None:
    a, b = fault_smtp_server(mail_reply="451 4.3.0 later", mail_reply_at=2), fault_smtp_server()
    setup("roundrobin://a,b", a=smtp(a), b=smtp(b))
    assert providers["mail"].send_messages(batch(4)) == 4
    assert ids(a) == ["m-1"]
    assert ids(b) == ["m-2", "m-3", "m-4"]


def test_possibly_sent_message_is_not_resent(fault_smtp_server: ServerFactory) -> None:
    a, b = fault_smtp_server(drop_after_data_at=1), fault_smtp_server()
    setup("roundrobin://a,b", a=smtp(a), b=smtp(b))
    messages = batch(4)
    with pytest.raises(smtplib.SMTPServerDisconnected) as info:
        providers["mail"].send_messages(messages)
    assert possibly_sent_messages_of(info.value) == [messages[0]]
    assert ids(b) == ["m-2", "m-3", "m-4"]  # m-1 is nowhere; a is skipped afterwards
    assert a.messages == []
    assert sent_messages_of(info.value) == messages[1:]
    assert info.value.sent_count == 3  # type: ignore[attr-defined]


def test_permanent_error_propagates(fault_smtp_server: ServerFactory) -> None:
    a, b = fault_smtp_server(), fault_smtp_server(refuse_rcpt=["rcpt2@example.com"])
    setup("roundrobin://a,b", a=smtp(a), b=smtp(b))
    messages = batch(3)
    with pytest.raises(smtplib.SMTPRecipientsRefused) as info:
        providers["mail"].send_messages(messages)
    assert ids(a) == ["m-1"] and b.messages == []
    assert sent_messages_of(info.value) == [messages[0]]


def test_every_provider_down(fault_smtp_server: ServerFactory) -> None:
    a = fault_smtp_server()
    setup(
        "roundrobin://a,b,c",
        a=smtp(a),
        b=smtp(refusing(fault_smtp_server)),
        c=smtp(refusing(fault_smtp_server)),
    )
    a.stop()
    with pytest.raises(ConnectionRefusedError) as info:
        providers["mail"].send_messages(batch(2))
    assert info.value.sent_count == 0  # type: ignore[attr-defined]
    assert any("'a', 'b', 'c'" in note for note in info.value.__notes__)


def test_possibly_sent_is_kept_when_a_permanent_error_follows_on_another_member(
    fault_smtp_server: ServerFactory,
) -> None:
    a = fault_smtp_server(drop_after_data_at=1)
    b = fault_smtp_server(refuse_rcpt=["rcpt3@example.com"])
    setup("roundrobin://a,b", a=smtp(a), b=smtp(b))
    messages = batch(3)
    with pytest.raises(smtplib.SMTPRecipientsRefused) as info:
        providers["mail"].send_messages(messages)
    assert a.messages == [] and ids(b) == ["m-2"]
    exc = info.value
    assert possibly_sent_messages_of(exc) == [messages[0]]  # lost on a, never resent
    assert sent_messages_of(exc) == [messages[1]]
    assert exc.sent_count == 1  # type: ignore[attr-defined]
