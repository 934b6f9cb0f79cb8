"""Concurrency: many threads and asyncio tasks sending at once; every message arrives
exactly once and intact (checked by Message-ID and body on the server / in the files)."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from email import message_from_string
from email.policy import default as default_policy
from pathlib import Path
from typing import Any, ClassVar

import pytest

import mailproviders
from mailproviders.backends.console import SEPARATOR
from mailproviders.backends.filebased import EmailBackend as FileBackend
from mailproviders.backends.smtp import EmailBackend as SMTPBackend
from mailproviders.handler import providers
from mailproviders.message import EmailMessage
from smtp_fixtures import SMTPTestServer

THREADS = 32
PER_THREAD = 50


class CachedSMTPBackend(SMTPBackend):
    """An SMTP backend that ``providers`` caches per thread and per task."""

    cacheable: ClassVar[bool] = True


def _message(worker: str, n: int) -> EmailMessage:
    ident = f"{worker}.{n}"
    return EmailMessage(
        f"subject {ident}",
        f"body of {ident}\n" * 3,
        "sender@example.com",
        [f"rcpt-{worker}@example.com"],
        headers={"Message-ID": f"<{ident}@concurrency.test>"},
    )


def _expected(workers: Iterable[str], per_worker: int) -> set[str]:
    return {f"{w}.{n}" for w in workers for n in range(per_worker)}


def _check_intact(raw_messages: Iterable[Any], expected: set[str]) -> None:
    seen: Counter[str] = Counter()
    for parsed in raw_messages:
        ident = str(parsed["Message-ID"]).strip("<>").removesuffix("@concurrency.test")
        assert str(parsed["Subject"]) == f"subject {ident}"
        assert parsed.get_content() == f"body of {ident}\n" * 3
        seen[ident] += 1
    duplicated = [ident for ident, count in seen.items() if count > 1]
    assert not duplicated, f"delivered twice: {duplicated[:5]}"
    assert set(seen) == expected, f"missing: {sorted(expected - set(seen))[:5]}"


def _server_messages(server: SMTPTestServer) -> list[Any]:
    return [m.parsed() for m in server.messages]


def _run_threads(work: Callable[[str], None]) -> None:
    with ThreadPoolExecutor(THREADS) as pool:
        for future in [pool.submit(work, f"t{i}") for i in range(THREADS)]:
            future.result()


def test_threads_share_one_smtp_backend(smtp_server: SMTPTestServer) -> None:
    backend = SMTPBackend(**smtp_server.options())

    def work(worker: str) -> None:
        for n in range(PER_THREAD):
            assert backend.send_messages([_message(worker, n)]) == 1

    with backend:
        _run_threads(work)
    assert smtp_server.connection_count == 1
    _check_intact(_server_messages(smtp_server), _expected(_workers(), PER_THREAD))


def _workers() -> list[str]:
    return [f"t{i}" for i in range(THREADS)]


def test_threads_use_their_own_cached_provider(smtp_server: SMTPTestServer) -> None:
    backend_path = f"{__name__}.CachedSMTPBackend"
    mailproviders.configure(
        EMAIL_PROVIDERS={"pooled": {"BACKEND": backend_path, "OPTIONS": smtp_server.options()}}
    )
    instances: dict[str, int] = {}
    lock = threading.Lock()

    def work(worker: str) -> None:
        providers["pooled"].open()
        for n in range(PER_THREAD):
            backend = providers["pooled"]
            with lock:
                assert instances.setdefault(worker, id(backend)) == id(backend)
            assert backend.send_messages([_message(worker, n)]) == 1

    threads = [threading.Thread(target=work, args=(w,)) for w in _workers()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    providers.close_all()
    assert len(set(instances.values())) == THREADS
    assert smtp_server.connection_count == THREADS
    _check_intact(_server_messages(smtp_server), _expected(_workers(), PER_THREAD))


def _file_messages(directory: Path) -> list[Any]:
    parsed = []
    for path in directory.iterdir():
        chunks = path.read_text().split("\n" + SEPARATOR + "\n")
        assert chunks[-1] == "", f"{path.name} ends with a partial message"
        parsed += [message_from_string(chunk, policy=default_policy) for chunk in chunks[:-1]]
    return parsed


@pytest.mark.parametrize("shared", [True, False], ids=["one-instance", "instance-per-send"])
def test_threads_write_through_the_file_backend(tmp_path: Path, shared: bool) -> None:
    mailproviders.configure(EMAIL_PROVIDERS={"files": {"BACKEND": "file", "OPTIONS": {
        "file_path": str(tmp_path)}}})  # fmt: skip
    one = FileBackend(file_path=tmp_path)

    def work(worker: str) -> None:
        for n in range(PER_THREAD):
            backend = one if shared else providers["files"]
            assert backend.send_messages([_message(worker, n)]) == 1

    _run_threads(work)
    files = list(tmp_path.iterdir())
    assert len(files) == (1 if shared else THREADS * PER_THREAD)
    _check_intact(_file_messages(tmp_path), _expected(_workers(), PER_THREAD))


TASKS = 200
PER_TASK = 5


def test_asyncio_tasks_use_their_own_cached_provider(smtp_server: SMTPTestServer) -> None:
    backend_path = f"{__name__}.CachedSMTPBackend"
    mailproviders.configure(
        EMAIL_PROVIDERS={"pooled": {"BACKEND": backend_path, "OPTIONS": smtp_server.options()}}
    )
    instances: dict[str, int] = {}

    async def task(worker: str) -> None:
        backend = providers["pooled"]
        instances[worker] = id(backend)
        await asyncio.to_thread(backend.open)
        for n in range(PER_TASK):
            assert providers["pooled"] is backend
            sent = await asyncio.to_thread(backend.send_messages, [_message(worker, n)])
            assert sent == 1

    async def main() -> None:
        await asyncio.gather(*(task(f"a{i}") for i in range(TASKS)))

    asyncio.run(main())
    providers.close_all()
    assert len(set(instances.values())) == TASKS
    assert smtp_server.connection_count == TASKS
    workers = [f"a{i}" for i in range(TASKS)]
    _check_intact(_server_messages(smtp_server), _expected(workers, PER_TASK))


def test_threads_share_an_unopened_smtp_backend(
    smtp_server: SMTPTestServer,
) -> None:
    backend = SMTPBackend(**smtp_server.options())  # never opened: each call connects

    def work(worker: str) -> None:
        for n in range(10):
            assert backend.send_messages([_message(worker, n)]) == 1

    workers = [f"c{i}" for i in range(8)]
    with ThreadPoolExecutor(len(workers)) as pool:
        for future in [pool.submit(work, w) for w in workers]:
            future.result()
    assert backend.connection is None
    assert smtp_server.connection_count == 80
    _check_intact(_server_messages(smtp_server), _expected(workers, 10))
