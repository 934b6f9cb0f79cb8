"""Every built-in non-HTTP backend accepts a RenderedMessage and sends its exact bytes
(the HTTP API backends: tests/backends/http/test_api_rendered.py)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable

import pytest

import mailproviders
from mailproviders import RenderedMessage, outbox, providers
from mailproviders.backends import console, dummy, filebased, locmem
from mailproviders.backends.smtp import EmailBackend as SMTPBackend
from smtp_fixtures import SMTPTestServer, async_send, sync_send

Send = Callable[[SMTPBackend, list[RenderedMessage]], int]
SENDS = pytest.mark.parametrize("send", [sync_send, async_send], ids=["sync", "async"])

# LF line ends on purpose (as a framework may hand them over), a line starting with a
# dot, 8-bit UTF-8 in the body, odd header folding and order nobody would generate.
DATA = (
    b"X-First: kept first\n"
    b"Subject: Rendered elsewhere\n"
    b"From: Shop <shop@example.com>\n"
    b"To: ann@example.com\n"
    b"X-Folded: a\n\tcontinued\n"
    b"Message-ID: <rendered.1@example.com>\n"
    b"Content-Type: text/plain; charset=utf-8\n"
    b"Content-Transfer-Encoding: 8bit\n"
    b"\n"
    b"Gr\xc3\xbc\xc3\x9fe\n.leading dot\n..two dots\nlast line\n"
)
WIRE = DATA.replace(b"\n", b"\r\n")


def rendered(n: int = 0, recipients: list[str] | None = None) -> RenderedMessage:
    data = DATA.replace(b"rendered.1@", f"rendered.{n}@".encode())
    return RenderedMessage(
        data,
        from_email="Bounces <bounces@example.com>",
        recipients=recipients or ["ann@example.com", "Hidden <hidden@example.com>"],
    )


def wire(n: int = 0) -> bytes:
    return WIRE.replace(b"rendered.1@", f"rendered.{n}@".encode())


@SENDS
def test_smtp_writes_the_exact_bytes(smtp_server: SMTPTestServer, send: Send) -> None:
    backend = SMTPBackend(**smtp_server.options())
    assert send(backend, [rendered(1), rendered(2)]) == 2
    first, second = smtp_server.messages
    assert first.data == wire(1) and second.data == wire(2)
    assert first.mail_from == "bounces@example.com"
    assert first.rcpt_tos == ["ann@example.com", "hidden@example.com"]
    assert not first.smtputf8


@SENDS
def test_smtp_uses_smtputf8_for_a_non_ascii_envelope(
    smtp_server: SMTPTestServer, send: Send
) -> None:
    message = RenderedMessage(DATA, from_email="jörg@example.com", recipients=["zoë@example.com"])
    assert send(SMTPBackend(**smtp_server.options()), [message]) == 1
    [received] = smtp_server.messages
    assert received.smtputf8 and received.data == WIRE
    assert received.rcpt_tos == ["zoë@example.com"]


@SENDS
def test_smtp_452_continuation_sends_the_same_bytes_to_every_recipient(
    fault_smtp_server: Callable[..., SMTPTestServer], send: Send
) -> None:
    server = fault_smtp_server(rcpt_limit=2)
    recipients = [f"r{i}@example.com" for i in range(5)]
    assert send(SMTPBackend(**server.options()), [rendered(3, recipients)]) == 1
    assert {m.data for m in server.messages} == {wire(3)}
    assert sorted(r for m in server.messages for r in m.rcpt_tos) == recipients


@SENDS
def test_smtp_max_connections_sends_each_message_exactly(
    smtp_server: SMTPTestServer, send: Send
) -> None:
    backend = SMTPBackend(**smtp_server.options(max_connections=3))
    assert send(backend, [rendered(n) for n in range(9)]) == 9
    assert sorted(m.data for m in smtp_server.messages) == sorted(wire(n) for n in range(9))


@SENDS
def test_smtp_pipelining_sends_the_stuffed_bytes(
    pipelining_server: Callable[..., object], send: Send
) -> None:
    server = pipelining_server()
    backend = SMTPBackend(**server.options())  # type: ignore[attr-defined]
    assert send(backend, [rendered(4), rendered(5)]) == 2
    stuffed = [wire(n).replace(b"\r\n.", b"\r\n..") for n in (4, 5)]
    assert server.accepted == stuffed  # type: ignore[attr-defined]
    assert any(len(r) > 1 for r in server.envelope_reads())  # type: ignore[attr-defined]


def test_send_mail_path_with_provider_defaults_keeps_the_bytes(
    smtp_server: SMTPTestServer,
) -> None:
    mailproviders.configure(
        EMAIL_PROVIDERS={
            "mail": {
                "BACKEND": "smtp",
                "OPTIONS": smtp_server.options(),
                "DEFAULTS": {"reply_to": ["r@example.com"], "headers": {"X-Added": "1"}},
            }
        }
    )
    message = rendered(6)
    assert message.send(using="mail") == 1
    assert asyncio.run(message.asend(using="mail")) == 1
    assert [m.data for m in smtp_server.messages] == [wire(6), wire(6)]


def test_console_shows_the_bytes() -> None:
    stream = io.StringIO()
    assert console.EmailBackend(stream=stream).send_messages([rendered(7)]) == 1
    text = DATA.replace(b"rendered.1@", b"rendered.7@").decode()
    assert stream.getvalue() == f"{text}\n{console.SEPARATOR}\n"


def test_file_shows_the_bytes(tmp_path: pytest.TempPathFactory) -> None:
    backend = filebased.EmailBackend(file_path=tmp_path)  # type: ignore[arg-type]
    assert backend.send_messages([rendered(8)]) == 1
    assert backend.current_file is not None
    written = backend.current_file.read_bytes()
    expected = DATA.replace(b"rendered.1@", b"rendered.8@")
    assert written == expected + b"\n" + console.SEPARATOR.encode() + b"\n"


def test_locmem_stores_it_with_sent_using() -> None:
    mailproviders.configure(EMAIL_PROVIDERS={"tests": "locmem://"})
    outbox.clear()
    message = rendered(9)
    assert providers["tests"].send_messages([message]) == 1
    [kept] = outbox
    assert isinstance(kept, RenderedMessage) and kept is not message
    assert kept.data == message.data and kept.sent_using == "tests"
    assert kept.recipients() == message.recipients()
    assert locmem.outbox is outbox


def test_dummy_counts_it() -> None:
    assert dummy.EmailBackend().send_messages([rendered(), rendered()]) == 2
