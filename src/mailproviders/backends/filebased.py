"""File backend: writes messages to a new ``.log`` file in a directory."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
import threading
import time
from collections.abc import Iterable
from io import FileIO
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Final

from mailproviders.backends.base import NOT_GIVEN, BaseEmailBackend, NotGiven
from mailproviders.backends.console import render
from mailproviders.config.options import directory_path
from mailproviders.exceptions import InvalidEmailProvider, record_sent

if TYPE_CHECKING:
    from mailproviders.message import EmailMessage

__all__ = ["EmailBackend"]


class EmailBackend(BaseEmailBackend):
    """Write messages to a file in the directory ``file_path``, each followed by a line of
    79 ``-``.

    The directory is created when the first message is written (building the backend
    creates nothing). Each instance writes to its own file, named
    ``YYYYMMDD-HHMMSS-<random>.log`` (local time) so that ``ls`` sorts files by time;
    a session opened with :meth:`open` and ended with :meth:`close` gets a new file.
    Messages are written whole: a failure never leaves part of a message in the file.
    Files are created with mode 0600 and missing directories with 0700 (the umask may
    only narrow them); a symbolic link put in place of the session's file is never
    followed (``OSError``).

    Raises :class:`~mailproviders.exceptions.InvalidEmailProvider` (option ``file_path``)
    when ``file_path`` exists and is not a writable directory.
    """

    def __init__(
        self,
        *,
        alias: str | None = None,
        file_path: str | PathLike[str],
        fail_silently: bool | NotGiven = NOT_GIVEN,
    ) -> None:
        super().__init__(alias=alias, fail_silently=fail_silently)
        #: The directory, as a string (a ``Path`` given is converted).
        self.file_path: str = os.fspath(file_path)
        self._directory = Path(self.file_path)
        try:
            directory_path(self.file_path)
        except ValueError as exc:
            raise InvalidEmailProvider(str(exc), alias=alias, option="file_path") from None
        if self._directory.is_dir() and not os.access(self._directory, os.W_OK | os.X_OK):
            raise InvalidEmailProvider(
                f"the directory {self.file_path!r} is not writable",
                alias=alias,
                option="file_path",
            )
        #: The file of the current session (``None`` until the first message is written).
        self.current_file: Path | None = None
        self._file: FileIO | None = None
        self._lock = threading.RLock()

    def open(self) -> bool:
        """Create the directory and this session's file unless already open; return whether
        this call opened it.

        Raises ``OSError`` when the directory or file cannot be created.
        """
        with self._lock:
            return self._open()

    def _open(self) -> bool:
        if self._file is not None:
            return False
        if self.current_file is None:
            _make_directories(self._directory)
            self._file, self.current_file = _create_unique(self._directory)
        else:  # a later call of the same session: keep writing to its file
            self._file = _reopen(self.current_file)
        return True

    def close(self) -> None:
        """Close the file; the next session writes to a new file."""
        with self._lock:
            self._close_file()
            self.current_file = None

    def _close_file(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            file.close()

    def send_messages(self, messages: Iterable[EmailMessage]) -> int:
        """Write ``messages`` and return how many were written (all of them).

        Raises what serializing a message or writing raises (``ValueError``, ``OSError``),
        carrying ``sent_count``/``sent_messages``; the failed message leaves no trace.
        """
        sent: list[EmailMessage] = []
        with self._lock:
            opened_here = False
            try:
                for message in messages:
                    data = render(message).encode("utf-8")
                    if self._file is None:
                        opened_here = self._open()
                    _write_whole(self._file, data)
                    sent.append(message)
            except Exception as exc:
                record_sent(exc, sent)
                raise
            finally:
                if opened_here:
                    # Without an explicit open() the file stays this instance's file.
                    self._close_file()
        return len(sent)

    def __repr__(self) -> str:
        return (
            f"<{type(self).__module__}.{type(self).__qualname__} alias={self.alias!r}, "
            f"file_path={self.file_path!r}>"
        )


#: Messages hold password-reset links and the like: only the owner may read them.
FILE_MODE: Final = 0o600
DIRECTORY_MODE: Final = 0o700
# A symbolic link put in place of the session's file is never followed (O_NOFOLLOW), and
# a file that is not a regular one (a FIFO would block the writer) is refused.
_FLAGS: Final = os.O_WRONLY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0) | os.O_NONBLOCK


def _make_directories(directory: Path) -> None:
    """Create ``directory`` and its missing parents, each with :data:`DIRECTORY_MODE`
    (existing ones are left as they are)."""
    missing = []
    while not directory.exists() and directory != directory.parent:
        missing.append(directory)
        directory = directory.parent
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):  # created meanwhile by another writer
            path.mkdir(mode=DIRECTORY_MODE)


def _open_regular(path: Path, flags: int) -> FileIO:
    descriptor = os.open(path, flags | _FLAGS, FILE_MODE)
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise OSError(errno.EINVAL, "not a regular file; refusing to write to it", str(path))
        os.set_blocking(descriptor, True)
        return FileIO(descriptor, "w")
    except BaseException:
        os.close(descriptor)
        raise


def _create_unique(directory: Path) -> tuple[FileIO, Path]:
    """Create a new, empty file (mode :data:`FILE_MODE`) named by the local time and a
    random token."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    while True:
        path = directory / f"{stamp}-{secrets.token_hex(4)}.log"
        try:
            return _open_regular(path, os.O_CREAT | os.O_EXCL), path
        except FileExistsError:  # pragma: no cover - a 32-bit token collision
            continue


def _reopen(path: Path) -> FileIO:
    """Open the session's file again to append; raises ``OSError`` (``ELOOP``) when it was
    replaced by a symbolic link, and when it is no longer a regular file."""
    try:
        return _open_regular(path, os.O_APPEND)
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        message = "the session's file was replaced by a symbolic link; not following it"
        raise OSError(errno.ELOOP, message, str(path)) from None


def _write_whole(file: FileIO | None, data: bytes) -> None:
    """Write all of ``data`` or, on failure, cut the file back to where it was."""
    assert file is not None
    start = file.seek(0, os.SEEK_END)
    view = memoryview(data)
    try:
        while view:
            written = file.write(view)
            view = view[written or 0 :]
    except BaseException:
        with contextlib.suppress(OSError):
            file.truncate(start)
        raise
