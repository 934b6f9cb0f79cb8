"""Connection reuse (issue 16 item 1): N ``send_mail`` calls, one after another, through a
pooled SMTP provider (``OPTIONS: {"pool": true}``) against the same calls through the
same provider without the pool, in one run; the ratio is unpooled time / pooled time.

Run from the project root with the project's interpreter (aiosmtpd and trustme are test
dependencies; Django is not needed):

    .venv/bin/python bench/pool.py                        # 2,000 calls; RTT 0 and 2 ms
    .venv/bin/python bench/pool.py -n 200 --rtt 0         # a quick look

Servers, each in a child process, pinned with the client to one CPU as the reference
harness does (``--no-pin`` to turn that off):

- ``plain``: the harness's reference sink (``../shared/bench/sink.py``, "threaded"), which
  writes its replies ``--rtt`` ms after each chunk it receives;
- ``starttls+auth``: aiosmtpd offering STARTTLS (a trustme certificate), AUTH and
  PIPELINING, as production relays do (TLS and AUTH make a connection costly to set up),
  behind a proxy (in the same child) that delays everything the server sends by ``--rtt``
  ms.

Each sample sends the same simple message (one recipient) ``n`` times with
``send_mail(..., using=alias)``; the server's counter must grow by exactly ``n``. Outputs:
a table (µs per call and the ratio) and ``bench/results/<stamp>-pool.{json,md}``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT.parent / "shared"))  # the reference harness, as package "bench"

TIMEOUT = 60.0
USER, PASSWORD = "bench", "bench-password"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve-tls", help="(internal) the STARTTLS+AUTH server")
    serve.add_argument("--cert", required=True)
    serve.add_argument("--key", required=True)
    serve.add_argument("--rtt-ms", type=float, default=0.0)
    serve.add_argument("--cpu", type=int)
    parser.add_argument("-n", type=int, default=2000, help="send_mail calls per sample")
    parser.add_argument("--rtt", type=float, action="append", help="ms (repeatable)")
    parser.add_argument("-r", "--reps", type=int, default=1, help="samples per cell")
    parser.add_argument("--no-pin", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "serve-tls":
        serve_tls(args.cert, args.key, args.rtt_ms, args.cpu)
        return 0
    results = measure(args.n, args.rtt or [0.0, 2.0], args.reps, pin=not args.no_pin)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = ROOT / "bench" / "results" / f"{stamp}-pool.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    table = report(results)
    out.with_suffix(".md").write_text(table)
    print(table)
    print(f"saved {out} and {out.with_suffix('.md')}")
    return 0


# --- the STARTTLS + AUTH server (child process) ----------------------------------------


def serve_tls(cert: str, key: str, rtt_ms: float, cpu: int | None) -> None:
    """aiosmtpd with STARTTLS and AUTH, counting messages (XSTATS, as the harness's sinks
    answer it); with ``rtt_ms``, clients connect through a proxy delaying what the server
    sends. Prints ``READY <client port> <count port>``; serves until stdin closes."""
    import ssl

    from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd's deprecation notes
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    count = 0

    class Handler:
        async def handle_EHLO(
            self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
        ) -> list[str]:
            # As production relays do (and the plain sink): aiosmtpd reads commands in
            # order, so clients may pipeline them (RFC 2920).
            session.host_name = hostname
            return [*responses[:-1], "250-PIPELINING", responses[-1]]

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            nonlocal count
            count += 1
            return "250 OK"

    class CountingSMTP(SMTP):  # type: ignore[misc]
        async def smtp_XSTATS(self, arg: str) -> None:
            await self.push(f"250 count={count} bytes=0")

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            USER.encode(),
            PASSWORD.encode(),
        )
        return AuthResult(success=ok)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: CountingSMTP(
                Handler(), hostname="bench", tls_context=context, authenticator=authenticate
            ),
            "127.0.0.1",
            0,
        )
        port = server.sockets[0].getsockname()[1]
        front = port
        if rtt_ms:
            proxy = await asyncio.start_server(
                lambda r, w: _proxy(r, w, port, rtt_ms / 1000), "127.0.0.1", 0
            )
            front = proxy.sockets[0].getsockname()[1]
        print(f"READY {front} {port}", flush=True)
        done = asyncio.Event()

        def wait_for_stdin() -> None:
            sys.stdin.read()
            loop.call_soon_threadsafe(done.set)

        threading.Thread(target=wait_for_stdin, daemon=True).start()
        await done.wait()

    asyncio.run(run())


async def _proxy(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int, delay: float
) -> None:
    upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", port)
    for stream in (writer, upstream_writer):
        stream.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter, late: float) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()

        async def write() -> None:
            while (item := await queue.get()) is not None:
                await asyncio.sleep(max(0.0, item[0] - loop.time()))
                sink.write(item[1])
                await sink.drain()
            sink.close()

        writing = asyncio.ensure_future(write())
        with contextlib.suppress(OSError):
            while data := await source.read(65536):
                queue.put_nowait((loop.time() + late, data))
        queue.put_nowait(None)
        with contextlib.suppress(OSError):
            await writing

    with contextlib.suppress(asyncio.CancelledError):  # the server shutting down
        await asyncio.gather(
            pump(reader, upstream_writer, 0.0), pump(upstream_reader, writer, delay)
        )


@contextlib.contextmanager
def tls_server(rtt_ms: float, cpu: int | None, directory: Path) -> Iterator[tuple[int, int]]:
    """Run :func:`serve_tls` in a child; yields (client port, count port)."""
    command = [sys.executable, __file__, "serve-tls", "--rtt-ms", repr(rtt_ms)]
    command += ["--cert", str(directory / "cert.pem"), "--key", str(directory / "key.pem")]
    if cpu is not None:
        command += ["--cpu", str(cpu)]
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        line = child.stdout.readline().split()
        if not line or line[0] != "READY":
            raise RuntimeError(f"the TLS server did not start: {line}")
        yield int(line[1]), int(line[2])
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(10)


def received(port: int) -> int:
    """The messages a server has counted (XSTATS)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        lines = sock.makefile("rb")
        lines.readline()  # greeting
        sock.sendall(b"XSTATS\r\n")
        reply = lines.readline().decode()
        sock.sendall(b"QUIT\r\n")
    return int(dict(part.split("=") for part in reply.split()[1:])["count"])


# --- the client ----------------------------------------------------------------------------


def measure(n: int, rtts: list[float], reps: int, *, pin: bool) -> dict[str, Any]:
    import trustme
    from bench.sink import SinkProcess, pinned_cpu

    import mailproviders

    cpu = pinned_cpu() if pin else None
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    samples: dict[str, dict[str, list[float]]] = {}
    with contextlib.ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        ca = trustme.CA()
        ca.cert_pem.write_to_path(str(directory / "ca.pem"))
        leaf = ca.issue_cert("127.0.0.1")
        leaf.private_key_pem.write_to_path(str(directory / "key.pem"))
        leaf.cert_chain_pems[0].write_to_path(str(directory / "cert.pem"))
        providers: dict[str, Any] = {}
        counters: dict[str, Callable[[], int]] = {}
        for rtt in rtts:
            sink = stack.enter_context(SinkProcess("threaded", cpu, rtt_ms=rtt))
            front, back = stack.enter_context(tls_server(rtt, cpu, directory))
            servers = {
                "plain": {"host": sink.host, "port": sink.port},
                "starttls+auth": {
                    "host": "127.0.0.1",
                    "port": front,
                    "use_tls": True,
                    "ssl_cafile": str(directory / "ca.pem"),
                    "username": USER,
                    "password": PASSWORD,
                },
            }
            counters[f"plain {rtt:g}"] = sink.count
            counters[f"starttls+auth {rtt:g}"] = lambda back=back: received(back)
            for kind, options in servers.items():
                for pooled in (False, True):
                    alias = f"{kind} {rtt:g} {'pooled' if pooled else 'unpooled'}"
                    extra = {"pool": True} if pooled else {}
                    providers[alias] = {"OPTIONS": {**options, "timeout": TIMEOUT, **extra}}
        mailproviders.configure(EMAIL_PROVIDERS=providers)
        for rep in range(reps):
            for cell, count in counters.items():
                order = ["unpooled", "pooled"][:: 1 if rep % 2 == 0 else -1]
                for name in order:
                    seconds = _sample(f"{cell} {name}", n, count)
                    samples.setdefault(cell, {}).setdefault(name, []).append(seconds / n * 1e6)
                    print(
                        f"# {cell} ms, {name}: {seconds / n * 1e6:,.0f} µs/call", file=sys.stderr
                    )
        mailproviders.providers.close_all()
    return {
        "n": n,
        "reps": reps,
        "pinned_cpu": cpu,
        "python": sys.version.split()[0],
        "samples_us_per_call": samples,
    }


def _sample(alias: str, n: int, count: Callable[[], int]) -> float:
    from bench.payloads import SIMPLE as p

    import mailproviders

    mailproviders.providers.close_all()  # every sample starts without an open connection
    before = count()
    gc.collect()
    start = time.perf_counter()
    for _ in range(n):
        mailproviders.send_mail(p.subject, p.body, p.from_email, list(p.to), using=alias)
    elapsed = time.perf_counter() - start
    got = count() - before
    if got != n:
        raise RuntimeError(f"{alias}: the server got {got} of {n} messages")
    return elapsed


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def report(results: dict[str, Any]) -> str:
    samples: dict[str, dict[str, list[float]]] = results["samples_us_per_call"]
    lines = [
        f"# pool: {results['n']} send_mail calls per sample, one after another, "
        f"{results['reps']} sample(s) per cell (median), pinned CPU {results['pinned_cpu']}, "
        f"Python {results['python']}",
        "",
        "| server, RTT | without pool | with pool | ratio |",
        "|---|---:|---:|---:|",
    ]
    for cell, cells in samples.items():
        kind, rtt = cell.rsplit(" ", 1)
        unpooled, pooled = _median(cells["unpooled"]), _median(cells["pooled"])
        lines.append(
            f"| {kind}, {rtt} ms | {unpooled:,.0f} µs | {pooled:,.0f} µs | "
            f"{unpooled / pooled:.2f}× |"  # noqa: RUF001
        )
    lines.append("")
    lines.append("µs per send_mail call; ratio = time without the pool / time with it")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
