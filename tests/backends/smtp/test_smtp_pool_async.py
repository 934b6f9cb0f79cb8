"""The SMTP connection pool, native async side (aiosmtplib): one pool per event loop
shared by its tasks, with the rules of the sync side. Servers as in test_smtp_pool.py."""

from __future__ import annotations

import asyncio
import itertools
import logging
import smtplib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from test_smtp_pool import PoolServer, serve, use

import mailproviders
from mailproviders import EmailMessage, asend_mail, providers
from mailproviders.exceptions import possibly_sent_messages_of
from smtp_fixtures import ScriptedConnection, ScriptedServer, ServerFactory


@pytest.fixture
def pool_server() -> Iterator[PoolServer]:
    server = PoolServer()
    try:
        yield server
    finally:
        server.stop()


async def send_one(number: int = 0) -> int:
    return await asend_mail(
        f"Hi {number}", "Body", "from@example.com", ["to@example.com"], using="pooled"
    )


def test_consecutive_asend_mail_calls_share_one_connection(pool_server: PoolServer) -> None:
    use(pool_server, size=1)

    async def main() -> tuple[int, int]:
        for number in range(30):
            assert await send_one(number) == 1
        return pool_server.connections, pool_server.quits

    assert asyncio.run(main()) == (1, 0)
    assert len(set(pool_server.message_ids)) == 30
    assert pool_server.quits == 1  # the loop's shutdown closed the pool


def test_aclose_all_says_quit_and_a_new_pool_follows(pool_server: PoolServer) -> None:
    use(pool_server, size=1)

    async def main() -> None:
        await send_one(1)
        await providers.aclose_all()
        assert pool_server.quits == 1
        await send_one(2)

    asyncio.run(main())
    assert pool_server.connections == 2


def test_tasks_share_at_most_size_connections(pool_server: PoolServer) -> None:
    use(pool_server, size=3)

    async def main() -> None:
        await asyncio.gather(*(send_one(number) for number in range(40)))

    asyncio.run(main())
    assert len(pool_server.message_ids) == len(set(pool_server.message_ids)) == 40
    assert pool_server.connections <= 3
    assert pool_server.peak <= 3


def test_each_event_loop_has_its_own_pool(pool_server: PoolServer) -> None:
    use(pool_server, size=1)

    def run() -> None:
        async def main() -> None:
            for number in range(5):
                await send_one(number)

        asyncio.run(main())

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert pool_server.connections == 3
    assert len(set(pool_server.message_ids)) == 15


def test_a_connection_the_server_closed_while_idle_is_replaced(
    pool_server: PoolServer, caplog: pytest.LogCaptureFixture
) -> None:
    use(pool_server, size=2)

    async def main() -> None:
        await send_one(1)
        assert pool_server.hang_up_all() == 1  # blocking: this loop has not seen it yet
        with caplog.at_level(logging.INFO, logger="mailproviders"):
            await send_one(2)
            await send_one(3)

    asyncio.run(main())
    assert pool_server.connections == 2
    assert len(pool_server.message_ids) == len(set(pool_server.message_ids)) == 3
    assert "lost before the message went out" not in caplog.text  # found before MAIL FROM


def test_a_connection_lost_at_mail_from_is_replaced_and_the_message_sent_once(
    scripted_smtp_server: Callable[..., ScriptedServer],
) -> None:
    delivered: list[int] = []
    numbers = itertools.count()

    def script(conn: ScriptedConnection) -> None:
        if next(numbers) == 0:
            assert conn.until("DATA")
            conn.reply("354 go ahead")
            conn.read_data()
            delivered.append(1)  # before the reply: the client may check at once
            conn.reply("250 queued")
            conn.command()  # the next MAIL FROM: hang up without a reply
            return
        serve(conn, delivered)

    server = scripted_smtp_server(script)
    use(server, size=1)

    async def main() -> int:
        await send_one(1)
        return await send_one(2)

    assert asyncio.run(main()) == 1
    assert delivered == [1, 1]
    assert server.connections == 2


def test_a_possibly_delivered_message_is_not_resent_and_its_connection_dropped(
    fault_smtp_server: ServerFactory,
) -> None:
    server = fault_smtp_server(drop_after_data_at=2)
    mailproviders.configure(EMAIL_PROVIDERS={"pooled": {"OPTIONS": server.options(pool=True)}})

    async def main() -> BaseException:
        await send_one(1)
        with pytest.raises(smtplib.SMTPServerDisconnected) as caught:
            await send_one(2)
        await send_one(3)
        return caught.value

    error = asyncio.run(main())
    assert len(possibly_sent_messages_of(error)) == 1
    assert server.data_count == 3
    assert [m.parsed()["Subject"] for m in server.messages] == ["Hi 1", "Hi 3"]
    assert server.connection_count == 2


def test_a_send_cancelled_mid_message_does_not_return_its_connection(
    fault_smtp_server: ServerFactory,
) -> None:
    server = fault_smtp_server(stall_at="DATA", stall_at_number=2)
    mailproviders.configure(EMAIL_PROVIDERS={"pooled": {"OPTIONS": server.options(pool=True)}})

    async def main() -> None:
        await send_one(1)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(send_one(2), 0.5)  # cancelled waiting for the reply
        await send_one(3)

    asyncio.run(main())
    assert server.data_count == 3
    assert [m.parsed()["Subject"] for m in server.messages] == ["Hi 1", "Hi 3"]
    assert server.connection_count == 2


def test_a_task_cancelled_while_its_spent_connection_says_quit_frees_the_slot(
    scripted_smtp_server: Callable[..., ScriptedServer],
) -> None:
    quit_seen = threading.Event()

    def script(conn: ScriptedConnection) -> None:
        if conn.until("DATA"):
            conn.reply("354 go ahead")
            conn.read_data()
            conn.reply("250 queued")
        if conn.until("QUIT", greeting=""):  # left unanswered
            quit_seen.set()
        threading.Event().wait(5)

    server = scripted_smtp_server(script)
    options = server.options(timeout=1.0, pool={"size": 1, "max_messages": 1})
    mailproviders.configure(EMAIL_PROVIDERS={"pooled": {"OPTIONS": options}})

    async def main() -> None:
        first = asyncio.ensure_future(send_one(1))
        while not quit_seen.is_set():  # the message is in; its spent connection quits
            await asyncio.sleep(0.01)
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        assert await send_one(2) == 1  # the cancelled task did not keep the only slot

    asyncio.run(main())
    assert server.connections == 2


def test_max_messages_and_noop_probe(pool_server: PoolServer) -> None:
    use(pool_server, size=1, max_messages=3, probe_after=0)

    async def main() -> None:
        for number in range(7):
            await send_one(number)
        async with providers["pooled"] as backend:
            messages = [EmailMessage(f"B{i}", "x", "f@x.org", ["t@x.org"]) for i in range(2)]
            await backend.asend_messages(messages)

    asyncio.run(main())
    assert pool_server.connections == 3  # 3 + 3 + (1 + 2)
    assert pool_server.quits == 3  # two spent, then the loop's shutdown
    # NOOP before each reuse from the pool: messages 2, 3, 5, 6 and the aopen().
    assert pool_server.noops == 5


def test_a_busy_pool_makes_a_task_wait_then_time_out(pool_server: PoolServer) -> None:
    options: dict[str, Any] = pool_server.options(timeout=0.3, pool={"size": 1})
    mailproviders.configure(EMAIL_PROVIDERS={"pooled": {"OPTIONS": options}})

    async def main() -> None:
        holder = providers["pooled"]
        await holder.aopen()
        with pytest.raises(TimeoutError, match="stayed busy"):
            await send_one(1)
        waiting = asyncio.ensure_future(send_one(2))
        await asyncio.sleep(0.05)
        await holder.aclose()
        assert await waiting == 1

    asyncio.run(main())
    assert pool_server.connections == 1
    assert len(pool_server.message_ids) == 1


def test_sync_close_all_from_another_thread_closes_the_loops_pool(
    pool_server: PoolServer,
) -> None:
    use(pool_server, size=1)

    async def main() -> None:
        await send_one(1)
        await asyncio.to_thread(providers.close_all)
        for _ in range(1000):  # the QUIT runs on this loop: let it
            if pool_server.quits:
                break
            await asyncio.sleep(0.01)
        assert pool_server.quits == 1
        await send_one(2)

    asyncio.run(main())
    assert pool_server.connections == 2
