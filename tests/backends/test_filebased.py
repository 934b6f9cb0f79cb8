"""File backend: naming, one file per instance/session, whole messages, threads, failures."""

from __future__ import annotations

import contextlib
import re
import resource
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailproviders.backends.console import SEPARATOR
from mailproviders.backends.filebased import EmailBackend
from mailproviders.exceptions import InvalidEmailProvider
from mailproviders.legacy import MailProvidersDeprecationWarning
from mailproviders.message import EmailMessage

NAME = re.compile(r"^(\d{8}-\d{6})-[0-9a-f]{8}\.log$")


def make_message(n: int, body: str | None = None) -> EmailMessage:
    text = body if body is not None else f"message {n} line 1\nmessage {n} line 2\n"
    return EmailMessage(f"Subject {n}", text, "from@example.com", ["to@example.com"])


def log_files(directory: Path) -> list[Path]:
    return sorted(directory.iterdir())


def messages_in(path: Path) -> list[str]:
    parts = path.read_text().split(f"\n{SEPARATOR}\n")
    assert parts[-1] == "", "the file must end with a separator line"
    return parts[:-1]


def subjects_in(path: Path) -> list[str]:
    return [re.findall(r"^Subject: (.*)$", text, re.M)[0] for text in messages_in(path)]


def test_file_name_sorts_by_local_time(tmp_path: Path) -> None:
    before = time.strftime("%Y%m%d-%H%M%S")
    EmailBackend(file_path=tmp_path).send_messages([make_message(1)])
    after = time.strftime("%Y%m%d-%H%M%S")
    [path] = log_files(tmp_path)
    match = NAME.match(path.name)
    assert match, path.name
    assert before <= match.group(1) <= after
    assert subjects_in(path) == ["Subject 1"]


def test_one_file_per_instance(tmp_path: Path) -> None:
    backend = EmailBackend(file_path=tmp_path)
    backend.send_messages([make_message(1)])
    backend.send_messages([make_message(2), make_message(3)])
    [path] = log_files(tmp_path)
    assert backend.current_file == path
    assert subjects_in(path) == ["Subject 1", "Subject 2", "Subject 3"]
    EmailBackend(file_path=tmp_path).send_messages([make_message(4)])
    assert len(log_files(tmp_path)) == 2


def test_each_open_session_gets_a_new_file(tmp_path: Path) -> None:
    backend = EmailBackend(file_path=tmp_path)
    with backend:
        backend.send_messages([make_message(1)])
        backend.send_messages([make_message(2)])
    with backend:
        backend.send_messages([make_message(3)])
    first, second = sorted(log_files(tmp_path), key=lambda p: len(messages_in(p)))
    assert subjects_in(first) == ["Subject 3"]
    assert subjects_in(second) == ["Subject 1", "Subject 2"]


def test_directory_created_on_first_write_only(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b"
    backend = EmailBackend(file_path=str(target))
    assert not target.exists()
    assert backend.send_messages([]) == 0
    assert not target.exists()
    backend.send_messages([make_message(1)])
    assert len(log_files(target)) == 1


def test_existing_file_is_not_a_directory(tmp_path: Path) -> None:
    existing = tmp_path / "file.txt"
    existing.write_text("x")
    with pytest.raises(InvalidEmailProvider, match="not a directory") as info:
        EmailBackend(alias="files", file_path=existing)
    assert (info.value.alias, info.value.option) == ("files", "file_path")


def run_threads(count: int, target: object) -> None:
    threads = [threading.Thread(target=target, args=(t,)) for t in range(count)]  # type: ignore[arg-type]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_threads_sharing_an_instance(tmp_path: Path) -> None:
    backend = EmailBackend(file_path=tmp_path)
    body = "".join(f"line {i}\n" for i in range(50))

    def send(t: int) -> None:
        for m in range(20):
            backend.send_messages([make_message(t * 100 + m, body)])

    run_threads(8, send)
    [path] = log_files(tmp_path)
    messages = messages_in(path)
    assert len(messages) == 160
    assert all(text.endswith(body.rstrip("\n")) for text in messages)
    assert len(set(subjects_in(path))) == 160


def test_threads_with_own_instances_get_own_files(tmp_path: Path) -> None:
    def send(t: int) -> None:
        backend = EmailBackend(file_path=tmp_path)
        backend.send_messages([make_message(t * 100 + m) for m in range(5)])

    run_threads(8, send)
    files = log_files(tmp_path)
    assert len(files) == 8
    for path in files:
        numbers = {int(s.split()[-1]) // 100 for s in subjects_in(path)}
        assert len(numbers) == 1  # one thread's messages per file
        assert len(messages_in(path)) == 5


def test_serialization_failure_leaves_only_whole_messages(tmp_path: Path) -> None:
    bad = make_message(2)
    bad.extra_headers["X-Bad"] = "line\nbreak"
    messages = [make_message(1), bad, make_message(3)]
    with pytest.raises(ValueError, match="X-Bad") as info:
        EmailBackend(file_path=tmp_path).send_messages(messages)
    assert info.value.sent_messages == [messages[0]]  # type: ignore[attr-defined]
    [path] = log_files(tmp_path)
    assert subjects_in(path) == ["Subject 1"]


@contextlib.contextmanager
def file_size_limit() -> Iterator[None]:
    """Let the kernel refuse writes past 4 KiB (EFBIG), as a full disk would."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)


def test_write_failure_leaves_no_partial_message(tmp_path: Path) -> None:
    backend = EmailBackend(file_path=tmp_path)
    first, big = make_message(1), make_message(2, ("y" * 70 + "\n") * 100)
    with pytest.raises(OSError) as info, file_size_limit():
        # the first message fits under the limit, the second (~7 KiB) crosses it part-way
        backend.send_messages([first, big])
    assert info.value.sent_messages == [first]  # type: ignore[attr-defined]
    [path] = log_files(tmp_path)
    assert subjects_in(path) == ["Subject 1"]


def test_legacy_fail_silently_swallows_errors(tmp_path: Path) -> None:
    with pytest.warns(MailProvidersDeprecationWarning):
        backend = EmailBackend(file_path=tmp_path, fail_silently=True)
    bad = make_message(2)
    bad.extra_headers["X-Bad"] = "line\nbreak"
    assert backend.send_messages([make_message(1), bad]) == 1


def test_repr(tmp_path: Path) -> None:
    text = repr(EmailBackend(alias="files", file_path=tmp_path))
    assert "'files'" in text
    assert str(tmp_path) in text
