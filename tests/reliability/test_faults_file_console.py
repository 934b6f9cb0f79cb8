"""File and console backends under faults: a clear error, an exact ``sent_count``, no
partial message left behind, and the backend usable afterwards.

Tests run as root, where a directory without write permission is still writable, so the
write failures here use mechanisms that bind root too: a path whose parent is a regular
file (``NotADirectoryError``) and ``RLIMIT_FSIZE`` in a subprocess (``EFBIG`` part-way
through a message).
"""

from __future__ import annotations

import errno
import io
import json
import subprocess
import sys
import textwrap
from email import message_from_string
from pathlib import Path

import pytest
from reliability_helpers import batch

from mailproviders.backends.console import SEPARATOR
from mailproviders.backends.console import EmailBackend as ConsoleBackend
from mailproviders.backends.filebased import EmailBackend as FileBackend
from mailproviders.exceptions import InvalidEmailProvider


def _subjects(text: str) -> list[str]:
    """Subjects of the complete messages in a file/console output (each ends in SEPARATOR)."""
    chunks = text.split(SEPARATOR + "\n")
    assert chunks[-1] == "", f"a partial message is left at the end: {chunks[-1][:80]!r}"
    return [str(message_from_string(chunk)["Subject"]) for chunk in chunks[:-1]]


def test_parent_of_file_path_is_a_regular_file(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")
    backend = FileBackend(file_path=blocker / "mail")
    with pytest.raises(NotADirectoryError) as info:
        backend.send_messages(batch(5))
    assert str(blocker) in str(info.value)
    assert info.value.sent_count == 0  # type: ignore[attr-defined]
    assert blocker.read_text() == "not a directory"
    blocker.unlink()
    assert backend.send_messages(batch(2, tag="again")) == 2
    (written,) = (blocker / "mail").iterdir()
    assert _subjects(written.read_text()) == ["again-1", "again-2"]


def test_file_path_that_is_a_regular_file_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("")
    with pytest.raises(InvalidEmailProvider, match="exists and is not a directory") as info:
        FileBackend(alias="files", file_path=path)
    assert info.value.option == "file_path"
    assert info.value.alias == "files"


_FSIZE_SCRIPT = textwrap.dedent(
    """
    import json, resource, signal, sys
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
    import mailproviders
    from mailproviders.backends.filebased import EmailBackend
    from mailproviders.message import EmailMessage

    mailproviders.configure(EMAIL_PROVIDERS={})
    def batch(tag):
        return [
            EmailMessage(f"{tag}-{n}", "x" * 3000, "a@example.com", ["b@example.com"])
            for n in range(1, 6)
        ]
    backend = EmailBackend(file_path=sys.argv[1])
    backend.open()
    resource.setrlimit(resource.RLIMIT_FSIZE, (8000, resource.RLIM_INFINITY))
    result = {}
    try:
        backend.send_messages(batch("first"))
    except Exception as exc:
        result.update(type=type(exc).__name__, errno=exc.errno, text=str(exc),
                      sent_count=exc.sent_count)
    result["after_failure"] = backend.current_file.read_text()
    resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY,) * 2)
    result["again"] = backend.send_messages(batch("again"))
    backend.close()
    print(json.dumps(result))
    """
)


def test_file_size_limit_part_way_through_a_message(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-c", _FSIZE_SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result = json.loads(run.stdout)
    assert result["type"] == "OSError"
    assert result["errno"] == errno.EFBIG
    assert "File too large" in result["text"]
    assert result["sent_count"] == 2
    assert _subjects(result["after_failure"]) == ["first-1", "first-2"]
    assert result["again"] == 5
    (written,) = tmp_path.iterdir()
    assert _subjects(written.read_text()) == [
        "first-1",
        "first-2",
        *(f"again-{n}" for n in range(1, 6)),
    ]


class _FailingStream(io.StringIO):
    """A real text stream whose ``write`` fails from the ``fail_at``-th call on."""

    def __init__(self, fail_at: int) -> None:
        super().__init__()
        self.fail_at = fail_at
        self.calls = 0

    def write(self, text: str) -> int:
        self.calls += 1
        if self.calls >= self.fail_at:
            raise OSError(errno.EPIPE, "Broken pipe")
        return super().write(text)


def test_console_stream_write_raises() -> None:
    stream = _FailingStream(fail_at=3)
    backend = ConsoleBackend(stream=stream)
    with pytest.raises(BrokenPipeError, match="Broken pipe") as info:
        backend.send_messages(batch(5))
    assert info.value.sent_count == 2  # type: ignore[attr-defined]
    assert _subjects(stream.getvalue()) == ["m-1", "m-2"]
    stream.fail_at = 100
    assert backend.send_messages(batch(2, tag="again")) == 2
    assert _subjects(stream.getvalue()) == ["m-1", "m-2", "again-1", "again-2"]


def test_file_message_that_fails_to_serialize_leaves_no_trace(tmp_path: Path) -> None:
    messages = batch(3)
    messages[1].extra_headers["X-Bad"] = "line\r\nInjected: yes"
    backend = FileBackend(file_path=tmp_path)
    with pytest.raises(ValueError, match="X-Bad") as info:
        backend.send_messages(messages)
    assert info.value.sent_count == 1  # type: ignore[attr-defined]
    (written,) = tmp_path.iterdir()
    assert _subjects(written.read_text()) == ["m-1"]
