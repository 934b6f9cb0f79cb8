"""Replies no SMTP library would send, from a scripted server on 127.0.0.1, through the
sync and the native async path: a deadline per reply (issue 15, item 7) and one
classification of "certainly not accepted" versus "possibly delivered" (item 9)."""

from __future__ import annotations

import asyncio
import smtplib
import time
from collections.abc import Callable
from typing import Any

import pytest

from mailproviders.backends.smtp import EmailBackend, SMTPProtocolError
from mailproviders.exceptions import possibly_sent_messages_of, sent_messages_of
from mailproviders.message import EmailMessage
from smtp_fixtures import Script, ScriptedConnection, ScriptedServer, Send

TIMEOUT = 0.5
TRICKLE = 0.1  # seconds between two continuation lines: well within TIMEOUT


def message() -> EmailMessage:
    return EmailMessage("Hi", "Body\n.dot line\n", "from@example.com", ["to@example.com"])


def trickle(conn: ScriptedConnection, line: str, *, seconds: float) -> None:
    """Send ``line`` every TRICKLE seconds for ``seconds``: each read gets data in time."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        conn.reply(line)
        time.sleep(TRICKLE)


def greeting_trickle(conn: ScriptedConnection) -> None:
    trickle(conn, "220-hold on", seconds=20 * TIMEOUT)
    conn.until("DATA", greeting="220 ready at last")


def end_of_data_trickle(conn: ScriptedConnection) -> None:
    conn.until("DATA")
    conn.reply("354 go ahead")
    conn.read_data()
    trickle(conn, "250-still working", seconds=20 * TIMEOUT)
    conn.reply("250 accepted at last")


@pytest.mark.parametrize("script", [greeting_trickle, end_of_data_trickle])
def test_trickled_continuation_lines_cannot_stretch_the_timeout(
    script: Script, send: Send, scripted_smtp_server: Callable[[Script], ScriptedServer]
) -> None:
    server = scripted_smtp_server(script)
    backend = EmailBackend(**server.options(timeout=TIMEOUT))
    start = time.monotonic()
    with pytest.raises(OSError) as info:  # smtplib's errors, TimeoutError: all OSError
        send(backend, [message()])
    elapsed = time.monotonic() - start
    # One reply may take `timeout`; a command is sent, then its reply awaited: well
    # under 3x. Without a deadline per reply this runs for the 20x of the trickle.
    assert elapsed < 3 * TIMEOUT, f"gave up after {elapsed / TIMEOUT:.1f}x the timeout"
    text = " ".join([str(info.value), *getattr(info.value, "__notes__", [])])
    assert "timeout" in text
    assert f"127.0.0.1:{server.port}" in text


def garbage_after_data(conn: ScriptedConnection) -> None:
    conn.until("DATA")
    conn.reply("354 go ahead")
    conn.read_data()
    conn.reply("OK!")


def oversized_after_data(conn: ScriptedConnection) -> None:
    conn.until("DATA")
    conn.reply("354 go ahead")
    conn.read_data()
    conn.reply("250 " + "x" * 40_000)


def odd_code_after_data(conn: ScriptedConnection) -> None:
    conn.until("DATA")
    conn.reply("354 go ahead")
    conn.read_data()
    conn.reply("220 what was that?")


def refusal_after_data(conn: ScriptedConnection) -> None:
    conn.until("DATA")
    conn.reply("354 go ahead")
    conn.read_data()
    conn.reply("554 5.7.1 rejected as spam")
    conn.until("QUIT", greeting="")


def hang_up_after_data(conn: ScriptedConnection) -> None:
    conn.until("DATA")
    conn.reply("354 go ahead")
    conn.read_data()


def hang_up_before_354(conn: ScriptedConnection) -> None:
    conn.until("DATA")  # the client is waiting for 354: hang up instead


def garbage_before_354(conn: ScriptedConnection) -> None:
    conn.until("DATA")
    conn.reply("OK!")


def garbage_to_mail_from(conn: ScriptedConnection) -> None:
    conn.until("MAIL")
    conn.reply("hello?")


CELLS: list[tuple[Script, type[BaseException], bool]] = [
    # script, exception type (the same on both paths), possibly delivered
    (garbage_after_data, SMTPProtocolError, True),
    (oversized_after_data, SMTPProtocolError, True),
    (odd_code_after_data, smtplib.SMTPDataError, True),
    (hang_up_after_data, smtplib.SMTPServerDisconnected, True),
    (refusal_after_data, smtplib.SMTPDataError, False),
    (hang_up_before_354, smtplib.SMTPServerDisconnected, False),
    (garbage_before_354, SMTPProtocolError, False),
    (garbage_to_mail_from, SMTPProtocolError, False),
]


@pytest.mark.parametrize(
    ("script", "kind", "possibly_sent"), CELLS, ids=[cell[0].__name__ for cell in CELLS]
)
def test_possibly_delivered_classification(
    script: Script,
    kind: type[BaseException],
    possibly_sent: bool,
    send: Send,
    scripted_smtp_server: Callable[[Script], ScriptedServer],
) -> None:
    server = scripted_smtp_server(script)
    sent = message()
    with pytest.raises(smtplib.SMTPException) as info:
        send(EmailBackend(**server.options(timeout=5.0)), [sent])
    assert type(info.value) is kind
    assert sent_messages_of(info.value) == []
    assert possibly_sent_messages_of(info.value) == ([sent] if possibly_sent else [])


def test_protocol_error_names_the_server_and_closes(
    send: Send, scripted_smtp_server: Callable[[Script], ScriptedServer]
) -> None:
    server = scripted_smtp_server(garbage_after_data)
    backend = EmailBackend(**server.options(timeout=5.0))
    with pytest.raises(SMTPProtocolError) as info:
        send(backend, [message()])
    text = " ".join([str(info.value), *info.value.__notes__])
    assert "OK!" in text
    assert f"127.0.0.1:{server.port}" in text
    assert isinstance(info.value, smtplib.SMTPServerDisconnected)  # a broken session


def test_explicit_connection_is_dropped_after_an_ambiguous_reply(
    scripted_smtp_server: Callable[[Script], ScriptedServer],
) -> None:
    def odd_then_fine(conn: ScriptedConnection) -> None:
        if server.connections == 1:
            odd_code_after_data(conn)
            conn.until("QUIT", greeting="")
        else:
            refusal_after_data(conn)

    server = scripted_smtp_server(odd_then_fine)
    backend = EmailBackend(**server.options(timeout=5.0))

    async def main() -> list[Any]:
        await backend.aopen()
        errors: list[Any] = []
        for _ in range(2):
            try:
                await backend.asend_messages([message()])
            except smtplib.SMTPDataError as exc:
                errors.append(exc.smtp_code)
        await backend.aclose()
        return errors

    assert asyncio.run(main()) == [220, 554]
    assert server.connections == 2  # the session after "220" at end of data was dropped
    backend.open()
    with pytest.raises(smtplib.SMTPDataError):
        backend.send_messages([message()])
    assert backend.connection is not None  # a refusal keeps the session
    backend.close()


def test_the_reply_to_an_accepted_message_is_recorded_on_it(smtp_server: Any, send: Send) -> None:
    # send: the shared sync/async fixture of tests/backends/smtp/conftest.py
    message = EmailMessage("s", "b", "from@example.com", ["to@example.com"])
    assert send(EmailBackend(**smtp_server.options()), [message]) == 1
    assert message.server_reply == "250 Message accepted for delivery"  # type: ignore[attr-defined]
