"""Console backend: whole messages, separators, flushing, threads, failing streams."""

from __future__ import annotations

import io
import sys
import threading
import time
from pathlib import Path

import pytest

from mailproviders.backends.console import SEPARATOR, EmailBackend
from mailproviders.exceptions import InvalidEmailProvider
from mailproviders.legacy import MailProvidersDeprecationWarning
from mailproviders.message import EmailMessage


def make_message(n: int, lines: int = 3) -> EmailMessage:
    body = "".join(f"message {n} line {i}\n" for i in range(lines))
    return EmailMessage(f"Subject {n}", body, "from@example.com", ["to@example.com"])


def split_messages(output: str) -> list[str]:
    """The messages in ``output``: each ends with a separator line."""
    parts = output.split(f"\n{SEPARATOR}\n")
    assert parts[-1] == "", "output must end with a separator line"
    return parts[:-1]


def test_writes_message_then_separator() -> None:
    stream = io.StringIO()
    backend = EmailBackend(stream=stream)
    assert backend.send_messages([make_message(1), make_message(2)]) == 2
    first, second = split_messages(stream.getvalue())
    assert "Subject: Subject 1" in first
    assert "message 1 line 2" in first
    assert "Subject: Subject 2" in second
    assert len(SEPARATOR) == 79
    assert set(SEPARATOR) == {"-"}


def test_default_stream_is_stdout_at_send_time(capsys: pytest.CaptureFixture[str]) -> None:
    backend = EmailBackend()
    backend.send_messages([make_message(1)])
    assert "Subject: Subject 1" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["stdout", "stderr"])
def test_stream_by_name(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    EmailBackend(stream=name).send_messages([make_message(1)])  # type: ignore[arg-type]
    out, err = capsys.readouterr()
    written, other = (out, err) if name == "stdout" else (err, out)
    assert "Subject: Subject 1" in written
    assert other == ""


def test_unknown_stream_name() -> None:
    with pytest.raises(InvalidEmailProvider) as info:
        EmailBackend(alias="dev", stream="stdcrap")  # type: ignore[arg-type]
    assert (info.value.alias, info.value.option) == ("dev", "stream")


def test_flushes_after_each_message(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    with path.open("w", buffering=1 << 20) as stream:
        EmailBackend(stream=stream).send_messages([make_message(1)])
        assert "Subject: Subject 1" in path.read_text()  # visible before the stream closes


class LineByLineStream(io.StringIO):
    """A stream whose write is not atomic (like many wrappers around terminals): it
    writes line by line and lets other threads run in between."""

    def write(self, text: str) -> int:
        for line in text.splitlines(keepends=True):
            super().write(line)
            time.sleep(0)
        return len(text)


def test_threads_never_interleave() -> None:
    stream = LineByLineStream()
    backend = EmailBackend(stream=stream)
    threads_count, per_thread = 8, 20

    def send(t: int) -> None:
        for m in range(per_thread):
            backend.send_messages([make_message(t * 1000 + m, lines=10)])

    threads = [threading.Thread(target=send, args=(t,)) for t in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    messages = split_messages(stream.getvalue())
    assert len(messages) == threads_count * per_thread
    seen = set()
    for text in messages:
        n = int(text.split("Subject: Subject ", 1)[1].split("\n", 1)[0])
        body = "".join(f"message {n} line {i}\n" for i in range(10))
        assert text.endswith(body)  # Django's layout keeps the final newline
        assert text.count("Subject:") == 1
        seen.add(n)
    assert len(seen) == threads_count * per_thread


def test_failing_stream_raises_with_sent_count() -> None:
    stream = io.StringIO()
    stream.close()
    with pytest.raises(ValueError) as info:
        EmailBackend(stream=stream).send_messages([make_message(1)])
    assert info.value.sent_count == 0  # type: ignore[attr-defined]


def test_serialization_failure_midway_writes_nothing_of_it() -> None:
    stream = io.StringIO()
    bad = make_message(2)
    bad.extra_headers["X-Bad"] = "line\nbreak"
    messages = [make_message(1), bad, make_message(3)]
    with pytest.raises(ValueError, match="X-Bad") as info:
        EmailBackend(stream=stream).send_messages(messages)
    assert info.value.sent_messages == [messages[0]]  # type: ignore[attr-defined]
    [only] = split_messages(stream.getvalue())
    assert "Subject 1" in only


def test_legacy_fail_silently_swallows_write_errors() -> None:
    stream = io.StringIO()
    stream.close()
    with pytest.warns(MailProvidersDeprecationWarning):
        backend = EmailBackend(stream=stream, fail_silently=True)
    assert backend.send_messages([make_message(1)]) == 0


def test_repr() -> None:
    assert "'stderr'" in repr(EmailBackend(alias="dev", stream="stderr"))
    assert "'dev'" in repr(EmailBackend(alias="dev", stream=sys.stderr))


def test_blank_line_before_separator_as_in_django() -> None:
    """Django writes the message, a blank line, then the separator: code splitting the
    output on ``"\\n" + 79 dashes`` gets each message back with its final newline."""
    stream = io.StringIO()
    EmailBackend(stream=stream).send_messages(
        [EmailMessage("Hi", "Body\n", "from@example.com", ["to@example.com"])]
    )
    output = stream.getvalue()
    assert output.endswith(f"Body\n\n{SEPARATOR}\n")
    message = output.split("\n" + "-" * 79)[0]
    assert message.endswith("Body\n")
