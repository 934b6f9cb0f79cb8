"""Per-context instances of the handler, and round-robin rotation that belongs to the alias.

A web server handles each request in a new thread or asyncio task: consecutive sends
must still rotate a, b, a, b…, and finished threads and tasks must leave nothing behind.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import tracemalloc
import weakref
from collections import Counter

import mailproviders
from mailproviders import EmailMessage, outbox, providers
from mailproviders.backends.base import BaseEmailBackend


def _rotation_config() -> None:
    mailproviders.configure(
        EMAIL_PROVIDERS={"mail": "roundrobin://a,b", "a": "locmem://", "b": "locmem://"}
    )


def _message(n: int) -> EmailMessage:
    return EmailMessage(f"m-{n}", "body", "from@example.com", ["to@example.com"])


def _members_used() -> Counter[str | None]:
    return Counter(message.sent_using for message in outbox)


def test_rotation_across_new_threads() -> None:
    _rotation_config()
    for n in range(10):
        thread = threading.Thread(target=lambda n=n: _message(n).send(using="mail"))
        thread.start()
        thread.join()
    assert _members_used() == {"a": 5, "b": 5}
    assert [m.sent_using for m in outbox] == ["a", "b"] * 5


def test_rotation_across_new_tasks() -> None:
    _rotation_config()

    async def main() -> None:
        for n in range(10):
            await asyncio.create_task(_message(n).asend(using="mail"))

    asyncio.run(main())
    assert [m.sent_using for m in outbox] == ["a", "b"] * 5


def test_rotation_across_instances_and_calls() -> None:
    _rotation_config()
    for n in range(4):
        providers.create_connection("mail").send_messages([_message(n)])
    providers["mail"].send_messages([_message(4), _message(5)])
    assert [m.sent_using for m in outbox] == ["a", "b"] * 3


def test_rotation_restarts_with_a_new_configuration() -> None:
    _rotation_config()
    _message(0).send(using="mail")
    _rotation_config()
    _message(1).send(using="mail")
    assert [m.sent_using for m in outbox] == ["a", "a"]


def test_rotation_shared_by_concurrent_threads() -> None:
    _rotation_config()
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        for n in range(25):
            _message(n).send(using="mail")

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _members_used() == {"a": 100, "b": 100}


def test_finished_thread_leaves_no_cached_instance() -> None:
    _rotation_config()
    seen: list[weakref.ref[BaseEmailBackend]] = []

    def touch() -> None:
        backend = providers["mail"]
        assert providers["mail"] is backend  # cached within the thread
        seen.append(weakref.ref(backend))

    threads = [threading.Thread(target=touch) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    gc.collect()
    assert len(seen) == 20
    assert [ref() for ref in seen] == [None] * 20


def test_close_all_still_closes_live_cached_instances() -> None:
    _rotation_config()
    backend = providers["mail"]
    backend.open()
    assert backend._opened is not None  # type: ignore[attr-defined]
    providers.close_all()
    assert backend._opened is None  # type: ignore[attr-defined]
    assert providers["mail"] is not backend  # a new generation of the cache


def test_twenty_thousand_tasks_leave_under_a_megabyte() -> None:
    _rotation_config()

    async def touch() -> None:
        providers["mail"]

    async def run(count: int) -> None:
        for start in range(0, count, 500):
            await asyncio.gather(*(touch() for _ in range(start, min(start + 500, count))))
        for _ in range(3):  # let the loop run the finished tasks' done-callbacks
            await asyncio.sleep(0)

    async def main() -> int:
        await run(200)  # warm up: imports, first instances, event loop internals
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            await run(20_000)
            gc.collect()
            return tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()

    growth = asyncio.run(main())
    print(f"memory growth after 20,000 tasks: {growth / 1024:.1f} KiB")
    assert growth < 1024 * 1024
