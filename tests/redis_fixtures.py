"""A real Redis server for the Celery queue tests (the Debian ``redis-server`` package;
scripts/test installs it when missing).

``redis_server`` starts one on a free 127.0.0.1 port with its own tmp dir (no
persistence), and stops it after the test. ``server.stop()`` / ``server.start()``
take it down and bring it back on the same port, for broker-outage tests.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RedisServer:
    """A ``redis-server`` process of this test."""

    directory: Path
    port: int = field(default_factory=_free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        """A client of database 0."""
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=10)

    def start(self) -> None:
        """Start the server (on the same port again after :meth:`stop`); waits until it
        answers PING."""
        command = [
            shutil.which("redis-server") or "/usr/bin/redis-server",
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.directory),
            "--save", "",
            "--appendonly", "no",
            "--protected-mode", "yes",
        ]  # fmt: skip
        log = (self.directory / "redis.log").open("ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        end = time.monotonic() + 20
        while True:
            try:
                if self.client().ping():
                    return
            except redis.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > end:
                    raise RuntimeError(
                        "redis-server did not start: " + (self.directory / "redis.log").read_text()
                    ) from None
                time.sleep(0.02)

    def stop(self) -> None:
        """Stop the server now; safe to call twice."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            process.wait(timeout=20)


@pytest.fixture
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A running Redis server on a free 127.0.0.1 port, stopped after the test."""
    assert shutil.which("redis-server") or Path("/usr/bin/redis-server").exists(), (
        "redis-server is not installed (scripts/test installs it)"
    )
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- a Celery worker app on that Redis, with the mailproviders task -----------------------


def wait_for(predicate: Callable[[], bool], *, timeout: float = 60.0) -> None:
    """Poll ``predicate`` until it is true; fail after ``timeout`` s (a broken test must
    not hang; no test compares elapsed times)."""
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "condition not reached within the wait bound"
        time.sleep(0.01)


def worker_app(server: RedisServer, *, queue: str = "mail") -> Any:
    """A Celery app on ``server`` (JSON only) consuming ``queue``, with the mailproviders
    task registered."""
    from celery import Celery

    from mailproviders.integrations.celery import register_tasks

    app = Celery("mailproviders-tests", broker=server.url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_default_queue=queue,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        worker_prefetch_multiplier=4,
    )
    register_tasks(app)
    return app


@contextmanager
def running_worker(app: Any, *, pool: str = "solo", concurrency: int = 1) -> Iterator[Any]:
    """An in-process Celery worker (celery.contrib.testing) for ``app``, stopped after."""
    from celery.contrib.testing.worker import start_worker

    with start_worker(
        app,
        pool=pool,
        concurrency=concurrency,
        perform_ping_check=False,
        loglevel="WARNING",
        shutdown_timeout=30,
    ) as worker:
        yield worker
