"""Memory of the SMTP send path (issue 15, item 21), measured with tracemalloc against a
scripted server that discards the data: the sync and async paths send from the rendered
bytes without copying them (dot-stuffing and the final CRLF.CRLF go out in slices)."""

from __future__ import annotations

import asyncio
import os
import re
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailproviders.backends.smtp import EmailBackend, session
from mailproviders.message import EmailMessage
from smtp_fixtures import Script, ScriptedConnection, ScriptedServer

ATTACHMENT = 16 * 1024 * 1024


class Prerendered(EmailMessage):
    """A message whose serialization is done once, before the measurement: serializing
    is measured on its own (another part of the package); this measures the SMTP path."""

    rendered: bytes = b""

    def as_bytes(self, *args: Any, **kwargs: Any) -> bytes:
        return self.rendered


def sink(conn: ScriptedConnection) -> None:
    command = conn.until("DATA")
    while command:
        conn.reply("354 go ahead")
        conn.read_data()
        conn.reply("250 discarded")
        command = conn.until("DATA", greeting="")


def big_message() -> Prerendered:
    message = Prerendered(
        "Big", "Body\n.a line with a leading dot\n", "a@example.com", ["b@x.org"]
    )
    message.attach("blob.bin", os.urandom(ATTACHMENT), "application/octet-stream")
    message.rendered = EmailMessage.as_bytes(message, linesep="\r\n")
    return message


def peak_of(function: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("path", ["sync", "async"])
def test_sending_adds_little_beyond_the_rendered_message(
    path: str, scripted_smtp_server: Callable[[Script], ScriptedServer]
) -> None:
    server = scripted_smtp_server(sink)
    backend = EmailBackend(**server.options(timeout=30.0))
    message = big_message()
    size = len(message.rendered)
    if path == "sync":
        peak = peak_of(lambda: backend.send_messages([message]))
    else:
        peak = peak_of(lambda: asyncio.run(backend.asend_messages([message])))
    # Before: the sync path copied the message once more (the stuffed payload plus the
    # terminator), the async path 4.7 times. Now: slices of 64 KiB.
    print(f"{path}: rendered {size / 2**20:.1f} MiB, send path peak {peak / 2**20:.2f} MiB")
    assert peak < 0.25 * size, f"the {path} send path allocated {peak / size:.2f}x the message"
    assert message.refused_recipients == {}


@given(
    data=st.lists(st.sampled_from([b".", b"\r\n", b"\n", b"a", b"..", b"\r\n.\r\n"])).map(
        b"".join
    ),
    chunk=st.integers(min_value=1, max_value=8),
)
def test_slices_are_the_dot_stuffed_message(data: bytes, chunk: int) -> None:
    # What the DATA command must carry: a dot doubled at the start of every line, then
    # CRLF.CRLF (after a CRLF of its own when the data does not end with one).
    expected = re.sub(rb"(?m)^\.", b"..", data)
    expected += b".\r\n" if expected.endswith(b"\r\n") else b"\r\n.\r\n"
    pieces = list(session.stuffed(data, chunk))
    assert b"".join(bytes(piece) for piece in pieces) == expected
    assert all(len(piece) <= chunk + 1 for piece in pieces[:-1])  # + a stuffed dot
