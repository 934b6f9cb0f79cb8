"""Messages per second: native async SMTP with K connections against the sync path.

    python bench/async_send.py [-n 2000] [--sink /path/to/sink.py]

Sends ``n`` messages to a local SMTP sink running in another process: first through the
sync ``send_messages`` over one connection, then through ``asend_messages`` with K
concurrent connections (K = 1, 4, 16; each connection is one backend instance in its own
task, sending its share in batches), and prints messages/s and the ratio to the sync
path. The sink is aiosmtpd with a counting handler, or, with ``--sink``, the benchmark
harness's sink script (``sink.py serve`` printing ``READY <port>``). Each run checks that
the sink received every message.
"""

from __future__ import annotations

import argparse
import asyncio
import smtplib
import socket
import subprocess
import sys
import time

from mailproviders.backends.smtp import EmailBackend
from mailproviders.message import EmailMessage

BATCH = 50


def serve() -> None:
    """Run an aiosmtpd sink; print READY <port>; count messages; exit when stdin closes."""
    from aiosmtpd.controller import Controller

    class Counter:
        count = 0

        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            Counter.count += 1
            return "250 OK"

        async def handle_NOOP(
            self, server: object, session: object, envelope: object, arg: str
        ) -> str:
            return f"250 count={Counter.count}"

    with socket.socket() as probe:  # aiosmtpd's Controller needs a concrete port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Counter(), hostname="127.0.0.1", port=port)
    controller.start()
    print(f"READY {port}", flush=True)
    sys.stdin.read()
    controller.stop()


def _messages(n: int, tag: str) -> list[EmailMessage]:
    return [
        EmailMessage(
            f"{tag} {i}",
            "Hello,\nthis is a benchmark message.\n",
            "a@example.com",
            ["b@example.com"],
        )
        for i in range(n)
    ]


def _received(port: int, stats_command: str) -> int:
    with smtplib.SMTP("127.0.0.1", port) as client:
        _code, reply = client.docmd(stats_command)
    return int(reply.decode().split("count=")[1].split()[0])


def run_sync(port: int, n: int) -> float:
    messages = _messages(n, "sync")
    start = time.perf_counter()
    with EmailBackend(host="127.0.0.1", port=port) as backend:
        for i in range(0, n, BATCH):
            backend.send_messages(messages[i : i + BATCH])
    return time.perf_counter() - start


async def _connection(port: int, messages: list[EmailMessage]) -> None:
    async with EmailBackend(host="127.0.0.1", port=port) as backend:
        for i in range(0, len(messages), BATCH):
            await backend.asend_messages(messages[i : i + BATCH])


def run_async(port: int, n: int, k: int) -> float:
    messages = _messages(n, f"async{k}")
    shares = [messages[i::k] for i in range(k)]

    async def main() -> None:
        await asyncio.gather(*(_connection(port, share) for share in shares))

    start = time.perf_counter()
    asyncio.run(main())
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("--sink", help="harness sink.py (default: built-in aiosmtpd sink)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    if args.sink:
        command = [sys.executable, args.sink, "serve", "--impl", "threaded"]
        stats = "XSTATS"
    else:
        command, stats = [sys.executable, __file__, "--serve"], "NOOP"
    sink = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert sink.stdout is not None
        port = int(sink.stdout.readline().split()[1])
        expected = _received(port, stats)
        sync_seconds = run_sync(port, args.n)
        expected += args.n
        assert _received(port, stats) == expected, "the sink did not receive every message"
        print(f"sync, 1 conn: {args.n / sync_seconds:8.0f} msg/s")
        for k in (1, 4, 16):
            seconds = run_async(port, args.n, k)
            expected += args.n
            assert _received(port, stats) == expected, "the sink did not receive every message"
            ratio = sync_seconds / seconds
            print(f"async, K={k:<2}: {args.n / seconds:8.0f} msg/s  ({ratio:.2f}x sync)")
    finally:
        assert sink.stdin is not None
        sink.stdin.close()
        sink.wait(timeout=10)


if __name__ == "__main__":
    main()
