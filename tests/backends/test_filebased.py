"""File backend: naming, one file per instance/session, whole messages, threads, failures."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import resource
import signal
import stat
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


def test_file_path_is_a_string_whatever_was_given(tmp_path: Path) -> None:
    for given in (tmp_path, str(tmp_path)):
        backend = EmailBackend(file_path=given)
        assert backend.file_path == str(tmp_path)
        assert type(backend.file_path) is str
    assert str(tmp_path) in repr(backend)


def test_open_says_whether_it_opened_the_file(tmp_path: Path) -> None:
    backend = EmailBackend(file_path=tmp_path)
    assert backend.open() is True
    assert backend.open() is False
    backend.send_messages([make_message(1)])
    backend.close()
    assert backend.open() is True
    backend.close()
    assert len(log_files(tmp_path)) == 2


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
    assert all(text.endswith(body) for text in messages)
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


# --- permissions and symbolic links ----------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@contextlib.contextmanager
def umask(value: int) -> Iterator[None]:
    previous = os.umask(value)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.parametrize("mask", [0o000, 0o022])
def test_files_are_0600_and_new_directories_0700(tmp_path: Path, mask: int) -> None:
    # Messages hold password-reset links: nobody but the owner may read them, whatever
    # the umask allows.
    existing = tmp_path / "existing"
    existing.mkdir(mode=0o755)
    existing.chmod(0o755)
    target = existing / "new" / "deeper"
    with umask(mask):
        assert EmailBackend(file_path=target).send_messages([make_message(1)]) == 1
        with EmailBackend(file_path=target) as backend:  # an opened session: the same
            backend.send_messages([make_message(2)])
    files = log_files(target)
    assert len(files) == 2 and [mode(path) for path in files] == [0o600, 0o600]
    assert mode(existing / "new") == mode(target) == 0o700
    assert mode(existing) == 0o755  # a directory that existed is left as it was


def test_a_symlink_put_in_place_of_the_session_file_is_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    backend = EmailBackend(file_path=tmp_path / "out")
    backend.send_messages([make_message(1)])  # not opened: the next call reopens by name
    session_file = backend.current_file
    assert session_file is not None
    session_file.unlink()
    session_file.symlink_to(victim)
    with pytest.raises(OSError, match="replaced by a symbolic link") as info:
        backend.send_messages([make_message(2)])
    assert info.value.errno == errno.ELOOP
    assert info.value.sent_count == 0  # type: ignore[attr-defined]
    assert victim.read_text() == "precious\n"
    assert session_file.is_symlink()


def test_a_fifo_put_in_place_of_the_session_file_does_not_block(tmp_path: Path) -> None:
    backend = EmailBackend(file_path=tmp_path / "out")
    backend.send_messages([make_message(1)])
    session_file = backend.current_file
    assert session_file is not None
    session_file.unlink()
    os.mkfifo(session_file)  # opening it to write would wait for a reader forever
    with pytest.raises(OSError):
        backend.send_messages([make_message(2)])
    session_file.unlink()
    session_file.write_text("")  # a regular file again: the session goes on
    assert backend.send_messages([make_message(3)]) == 1
    assert subjects_in(session_file) == ["Subject 3"]


def test_a_symlink_in_place_of_a_new_file_name_is_not_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Were a new file's random name taken already (by a symbolic link to anywhere),
    # creating it fails and another name is drawn: nothing is written through the link.
    import mailproviders.backends.filebased as filebased

    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (out / "20260101-000000-deadbeef.log").symlink_to(victim)
    tokens = iter(["deadbeef", "cafebabe"])
    monkeypatch.setattr(filebased.secrets, "token_hex", lambda _: next(tokens))
    real = time.strftime
    monkeypatch.setattr(
        filebased.time,
        "strftime",
        lambda form, *rest: "20260101-000000" if form == "%Y%m%d-%H%M%S" else real(form, *rest),
    )
    backend = EmailBackend(file_path=out)
    assert backend.send_messages([make_message(1)]) == 1
    assert backend.current_file == out / "20260101-000000-cafebabe.log"
    assert victim.read_text() == "precious\n"
