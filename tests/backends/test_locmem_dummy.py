"""locmem (copies into the outbox) and dummy (counts only) backends."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from mailproviders import MailProvidersDeprecationWarning
from mailproviders.backends import dummy, locmem
from mailproviders.message import EmailMessage


@pytest.fixture
def outbox() -> Iterator[list[EmailMessage]]:
    locmem.outbox.clear()
    try:
        yield locmem.outbox
    finally:
        locmem.outbox.clear()


def make_message(n: int = 0, to: list[str] | None = None) -> EmailMessage:
    recipients = ["to@example.com"] if to is None else to
    return EmailMessage(f"Subject {n}", f"Body {n}", "from@example.com", recipients)


def test_appends_independent_copies(outbox: list[EmailMessage]) -> None:
    identity = id(outbox)
    message = make_message(1)
    message.extra_headers["X-Tag"] = "a"
    assert locmem.EmailBackend(alias="tests").send_messages([message]) == 1
    [copy] = outbox
    assert copy is not message
    message.to.append("late@example.com")
    message.extra_headers["X-Tag"] = "changed"
    assert copy.to == ["to@example.com"]
    assert copy.extra_headers == {"X-Tag": "a"}
    assert copy.sent_using == "tests"
    assert message.sent_using is None
    assert id(locmem.outbox) == identity


def test_connection_not_copied(outbox: list[EmailMessage]) -> None:
    backend = locmem.EmailBackend()
    message = make_message()
    with pytest.warns(MailProvidersDeprecationWarning):
        message.connection = backend
    backend.send_messages([message])
    with pytest.warns(MailProvidersDeprecationWarning):
        assert outbox[0].connection is None
        assert message.connection is backend
    assert outbox[0].sent_using is None


def test_messages_without_recipients_skipped(outbox: list[EmailMessage]) -> None:
    messages = [make_message(1, to=[]), make_message(2)]
    assert locmem.EmailBackend().send_messages(iter(messages)) == 1
    assert [m.subject for m in outbox] == ["Subject 2"]


def test_invalid_message_raises_like_a_real_backend(outbox: list[EmailMessage]) -> None:
    bad = make_message(2)
    bad.extra_headers["X-Bad"] = "line\nbreak"
    messages = [make_message(1), bad]
    with pytest.raises(ValueError) as info:
        locmem.EmailBackend().send_messages(messages)
    assert info.value.sent_messages == [messages[0]]  # type: ignore[attr-defined]
    assert [m.subject for m in outbox] == ["Subject 1"]


def test_threads_append_everything(outbox: list[EmailMessage]) -> None:
    backend = locmem.EmailBackend()

    def send(t: int) -> None:
        for m in range(25):
            backend.send_messages([make_message(t * 100 + m)])

    threads = [threading.Thread(target=send, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(m.subject for m in outbox) == sorted(
        f"Subject {t * 100 + m}" for t in range(8) for m in range(25)
    )


def test_dummy_counts_and_sends_nothing(outbox: list[EmailMessage]) -> None:
    backend = dummy.EmailBackend()
    assert backend.send_messages([make_message(1), make_message(2, to=[])]) == 2
    assert backend.send_messages(make_message(n) for n in range(1000)) == 1000
    assert backend.send_messages([]) == 0
    assert outbox == []
