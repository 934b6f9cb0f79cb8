"""The Celery queue path: how fast messages are enqueued, and delivered end to end.

Starts its own ``redis-server`` (free 127.0.0.1 port, tmp dir, no persistence) and the
reference harness's SMTP sink (``../shared/bench/sink.py``, "threaded", optionally
``--rtt`` ms away), then measures:

- **enqueue**: N messages through the ``celery`` provider (``mailproviders.backends.celery``)
  — one ``send_mass_mail`` call, and ``send_mail`` from 8 threads — in messages/s;
- **end to end**: one Celery worker process (``app.worker_main``, the mailproviders task
  registered by ``register_tasks``) at each pool/concurrency given, delivering through
  an ``smtp`` provider to the sink; N messages enqueued as fast as possible while it runs,
  timed until the sink's counter has grown by exactly N (checked, as is the Redis record
  of every Message-ID).

Run from the project root with the project's interpreter (needs the ``celery`` extra and
``redis-server``):

    .venv/bin/python bench/queue_throughput.py  # 2,000 messages, RTT 0
    .venv/bin/python bench/queue_throughput.py -n 500 --rtt 20 --worker threads:8

Prints a Markdown table and writes ``bench/results/<stamp>-queue.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SINK = ROOT.parent / "shared" / "bench" / "sink.py"
QUEUE = "mail"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_redis(directory: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    command = [shutil.which("redis-server") or "/usr/bin/redis-server", "--bind", "127.0.0.1"]
    command += ["--port", str(port), "--dir", directory, "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    import redis

    client = redis.Redis(port=port)
    for _ in range(500):
        try:
            client.ping()
            return process, f"redis://127.0.0.1:{port}/0"
        except redis.ConnectionError:
            time.sleep(0.02)
    raise RuntimeError("redis-server did not start")


def start_sink(rtt: float) -> tuple[subprocess.Popen[str], int]:
    command = [sys.executable, str(SINK), "serve", "--impl", "threaded"]
    if rtt:
        command += ["--rtt-ms", str(rtt)]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline().split()
    assert line and line[0] == "READY", line
    return process, int(line[1])


def sink_count(port: int) -> int:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        code, reply = smtp.docmd("XSTATS")
    assert code == 250, reply
    return int(reply.decode().split()[0].removeprefix("count="))


def wait_count(port: int, target: int, limit: float = 600.0) -> None:
    end = time.monotonic() + limit
    while sink_count(port) < target:
        if time.monotonic() > end:
            raise RuntimeError(f"sink stuck at {sink_count(port)} of {target}")
        time.sleep(0.005)


def configure(redis_url: str, sink_port: int) -> None:
    import mailproviders

    options = {"deliver_with": "smtp", "broker_url": redis_url, "queue": QUEUE}
    mailproviders.configure(
        EMAIL_PROVIDERS={
            "smtp": f"smtp://127.0.0.1:{sink_port}",
            "queue": {"BACKEND": "celery", "OPTIONS": options},
        }
    )


def messages(n: int, tag: str) -> list[Any]:
    from mailproviders import EmailMessage

    return [
        EmailMessage(f"{tag} {i}", "Body " * 40, "me@example.com", [f"to{i}@example.com"])
        for i in range(n)
    ]


def enqueue_batch(n: int) -> float:
    from mailproviders import providers

    batch = messages(n, "batch")
    start = time.perf_counter()
    assert providers["queue"].send_messages(batch) == n
    return n / (time.perf_counter() - start)


def enqueue_threads(n: int, threads: int = 8) -> float:
    from mailproviders import send_mail

    def run(count: int, number: int) -> None:
        for i in range(count):
            assert send_mail(f"t{number} {i}", "Body", "me@x.org", ["you@x.org"], using="queue")

    workers = [threading.Thread(target=run, args=(n // threads, t)) for t in range(threads)]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return (n // threads * threads) / (time.perf_counter() - start)


def call_latency(using: str, calls: int = 50) -> float:
    """Median milliseconds of one ``send_mail`` call (what a request waits) via ``using``."""
    import statistics

    from mailproviders import send_mail

    times = []
    for i in range(calls):
        start = time.perf_counter()
        assert send_mail(f"latency {i}", "Body", "me@x.org", ["you@x.org"], using=using)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def drain(redis_url: str) -> None:
    import redis

    redis.Redis.from_url(redis_url).flushdb()


def end_to_end(n: int, redis_url: str, sink_port: int, pool: str, concurrency: int) -> float:
    env = {
        **os.environ,
        "BENCH_REDIS": redis_url,
        "EMAIL_PROVIDERS": json.dumps({"smtp": f"smtp://127.0.0.1:{sink_port}"}),
    }
    command = [sys.executable, __file__, "worker", "--pool", pool, "-c", str(concurrency)]
    worker = subprocess.Popen(command, env=env)
    try:
        from mailproviders import providers

        before = sink_count(sink_port)
        providers["queue"].send_messages(messages(1, "warm-up"))
        wait_count(sink_port, before + 1)  # the worker is up and delivering
        before += 1
        batch = messages(n, f"{pool}-{concurrency}")
        start = time.perf_counter()
        providers["queue"].send_messages(batch)
        wait_count(sink_port, before + n)
        elapsed = time.perf_counter() - start
        assert sink_count(sink_port) == before + n, "a message was delivered twice"
        return n / elapsed
    finally:
        worker.terminate()
        worker.wait(timeout=60)


def run_worker(pool: str, concurrency: int) -> None:
    from celery import Celery

    from mailproviders.integrations.celery import register_tasks

    app = Celery("bench", broker=os.environ["BENCH_REDIS"], set_as_current=False)
    app.conf.update(task_serializer="json", accept_content=["json"], task_default_queue=QUEUE)
    register_tasks(app)
    argv = ["worker", "--pool", pool, "-c", str(concurrency), "--loglevel", "WARNING"]
    argv += ["-Q", QUEUE, "--without-heartbeat", "--without-mingle", "--without-gossip"]
    app.worker_main(argv)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    worker = sub.add_parser("worker", help="(internal) run one worker")
    worker.add_argument("--pool", default="threads")
    worker.add_argument("-c", type=int, default=1)
    parser.add_argument("-n", type=int, default=2000, help="messages per measurement")
    parser.add_argument("--rtt", type=float, default=0.0, help="sink round trip, ms")
    parser.add_argument(
        "--worker",
        action="append",
        dest="workers",
        help="pool:concurrency (repeatable); default prefork:1 threads:4 threads:8 prefork:2",
    )
    args = parser.parse_args(argv)
    if args.command == "worker":
        run_worker(args.pool, args.c)
        return 0
    specs = args.workers or ["prefork:1", "threads:4", "threads:8", "prefork:2"]
    results: dict[str, Any] = {"n": args.n, "rtt_ms": args.rtt, "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as directory:
        redis_process, redis_url = start_redis(directory)
        sink, port = start_sink(args.rtt)
        try:
            configure(redis_url, port)
            results["enqueue_batch"] = enqueue_batch(args.n)
            drain(redis_url)
            results["enqueue_8_threads"] = enqueue_threads(args.n)
            drain(redis_url)
            results["ms per send_mail, direct SMTP"] = call_latency("smtp")
            results["ms per send_mail, queue"] = call_latency("queue")
            drain(redis_url)
            for spec in specs:
                pool, _, concurrency = spec.partition(":")
                rate = end_to_end(args.n, redis_url, port, pool, int(concurrency or 1))
                results[f"delivered {pool}:{concurrency}"] = rate
                drain(redis_url)
        finally:
            sink.terminate()
            redis_process.terminate()
    print(f"\n{args.n} messages, sink RTT {args.rtt:g} ms, {os.cpu_count()} CPUs\n")
    print("| measurement | value |\n|---|---:|")
    for key, value in results.items():
        if isinstance(value, float) and key != "rtt_ms":
            unit = "" if key.startswith("ms ") else " messages/s"
            print(f"| {key} | {value:,.1f}{unit} |")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = ROOT / "bench" / "results" / f"{stamp}-queue.json"
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\nsaved {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
