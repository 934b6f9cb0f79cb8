"""Native async SMTP under concurrency and cancellation, against a real server."""

from __future__ import annotations

import asyncio

import pytest

from mailproviders import EmailMessage, configure, providers
from mailproviders.backends.smtp import EmailBackend
from mailproviders.exceptions import possibly_sent_messages_of
from reliability.reliability_helpers import client_sockets
from smtp_fixtures import ServerFactory, SMTPTestServer

TASKS = 200


class CachedSMTP(EmailBackend):
    """The SMTP backend, reused by ``providers`` within one asyncio task."""

    cacheable = True


def _message(tag: str) -> EmailMessage:
    return EmailMessage(
        tag,
        "body\n",
        "sender@example.com",
        ["to@example.com"],
        headers={"Message-ID": f"<{tag}@t>"},
    )


def test_tasks_send_through_their_own_cached_backend(smtp_server: SMTPTestServer) -> None:
    configure(
        EMAIL_PROVIDERS={
            "default": {"BACKEND": f"{__name__}.CachedSMTP", "OPTIONS": smtp_server.options()}
        }
    )
    backends: list[object] = []

    async def task(n: int) -> int:
        async with providers["default"] as backend:
            backends.append(backend)
            first = await _message(f"{n}-a").asend()
            assert providers["default"] is backend  # cached for this task
            return first + await _message(f"{n}-b").asend()

    async def main() -> list[int]:
        try:
            return await asyncio.gather(*(task(n) for n in range(TASKS)))
        finally:
            await providers.aclose_all()

    assert asyncio.run(main()) == [2] * TASKS
    assert len({id(backend) for backend in backends}) == TASKS
    ids = [str(m.parsed()["Message-ID"]) for m in smtp_server.messages]
    assert sorted(ids) == sorted(f"<{n}-{x}@t>" for n in range(TASKS) for x in "ab")
    assert smtp_server.connection_count == TASKS  # one connection per task, reused
    assert client_sockets(smtp_server.port) == 0


@pytest.mark.parametrize("tls", ["none", "ssl"])
def test_cancelled_mid_send_leaves_no_open_connection(
    tls: str, fault_smtp_server: ServerFactory
) -> None:
    server = fault_smtp_server(tls=tls, stall_at="DATA", stall_at_number=1)
    backend = EmailBackend(**server.options())
    stalled = _message("stalled")

    async def main() -> BaseException:
        await backend.aopen()
        sending = asyncio.create_task(backend.asend_messages([stalled]))
        while server.data_count < 1:  # the message's data is on the server, no reply yet
            await asyncio.sleep(0.005)
        sending.cancel()
        with pytest.raises(asyncio.CancelledError) as info:
            await sending
        await asyncio.sleep(0)  # the transport releases its socket on the next iteration
        assert backend.async_connection is None
        assert client_sockets(server.port) == 0
        assert await backend.asend_messages([_message("after")]) == 1
        return info.value

    cancelled = asyncio.run(main())
    assert possibly_sent_messages_of(cancelled) == [stalled]
    assert [str(m.parsed()["Subject"]) for m in server.messages] == ["after"]
    assert client_sockets(server.port) == 0
