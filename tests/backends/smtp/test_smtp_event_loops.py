"""One SMTP backend used from two event loops at once (issue 15, item 18): two threads,
each running its own ``asyncio.run()``, share the instance; each loop gets its own async
connection and lock, and neither waits on the other's."""

from __future__ import annotations

import asyncio
import threading

from mailproviders.backends.smtp import EmailBackend
from mailproviders.message import EmailMessage
from smtp_fixtures import SMTPTestServer

ROUNDS = 10


def message(subject: str) -> EmailMessage:
    return EmailMessage(subject, "Body", "from@example.com", ["to@example.com"])


def test_two_threads_with_their_own_event_loops_share_one_backend(
    smtp_server: SMTPTestServer,
) -> None:
    backend = EmailBackend(**smtp_server.options(timeout=2.0))
    barrier = threading.Barrier(2)
    results: dict[str, int] = {}
    errors: dict[str, BaseException] = {}

    def worker(name: str) -> None:
        async def main() -> int:
            await backend.aopen()
            assert backend.async_connection is not None
            await asyncio.to_thread(barrier.wait, 30)  # both loops hold a connection now
            count = 0
            for n in range(ROUNDS):
                count += await backend.asend_messages([message(f"{name}-{n}")])
                await asyncio.sleep(0.001)  # let the other thread interleave
            await asyncio.to_thread(barrier.wait, 30)  # neither closes before both sent
            await backend.aclose()
            assert backend.async_connection is None
            return count

        try:
            results[name] = asyncio.run(main())
        except BaseException as exc:  # reported below, with the thread's name
            errors[name] = exc

    threads = [threading.Thread(target=worker, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10 * backend.timeout)  # a hang shows as a live thread
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    assert errors == {}
    assert results == {"a": ROUNDS, "b": ROUNDS}
    subjects = sorted(str(received.parsed()["Subject"]) for received in smtp_server.messages)
    assert subjects == sorted(f"{name}-{n}" for name in "ab" for n in range(ROUNDS))
    assert smtp_server.connection_count == 2  # one connection per event loop
    assert backend.async_connection is None  # outside any loop


def test_a_later_event_loop_gets_a_fresh_connection(smtp_server: SMTPTestServer) -> None:
    backend = EmailBackend(**smtp_server.options())

    async def send_and_leave_open(subject: str) -> None:
        await backend.aopen()
        assert await backend.asend_messages([message(subject)]) == 1

    asyncio.run(send_and_leave_open("first"))  # the loop ends with its connection open
    asyncio.run(send_and_leave_open("second"))
    assert smtp_server.connection_count == 2
    assert len(backend._loop_states or {}) == 1  # the closed loop's entry was dropped
