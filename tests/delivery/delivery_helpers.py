"""Helpers of the delivery tests: a fake clock that records every wait, and an SMTP
server whose first MAIL FROM commands get chosen replies (fixtures in conftest.py)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from mailproviders import EmailMessage
from mailproviders.delivery import clock

#: ``send(message, **kwargs)``: ``message.send()`` or ``asyncio.run(message.asend())``.
Sender = Callable[..., int]


def send_sync(message: EmailMessage, **kwargs: Any) -> int:
    return message.send(**kwargs)


def send_async(message: EmailMessage, **kwargs: Any) -> int:
    return asyncio.run(message.asend(**kwargs))


class FakeClock(clock.Clock):
    """Time that moves only when told: ``sleep``/``asleep`` record the wait asked for
    (in ``waits``, in order) and, with ``advance=True``, move the time on by it."""

    def __init__(self, *, advance: bool = False, random: float = 0.5) -> None:
        self.now = 1000.0
        self.advance = advance
        self.waits: list[float] = []
        self.async_waits: list[float] = []
        self.fixed_random = random
        self.lock = threading.Lock()

    def monotonic(self) -> float:
        with self.lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.waits.append(seconds)
            if self.advance:
                self.now += seconds

    async def asleep(self, seconds: float) -> None:
        with self.lock:
            self.async_waits.append(seconds)
            if self.advance:
                self.now += seconds
        await asyncio.sleep(0)  # let the other tasks run, as a real wait would

    def random(self) -> float:
        return self.fixed_random


@dataclass
class FlakyServer:
    """An aiosmtpd server on 127.0.0.1 that answers the n-th MAIL FROM with
    ``replies[n-1]`` (one starting with 250 accepts) while there are replies left, then
    accepts; ``mail_count`` counts
    MAIL commands and ``messages`` keeps the data of accepted messages."""

    replies: list[str]
    host: str = "127.0.0.1"
    port: int = 0
    mail_count: int = 0
    messages: list[bytes] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def options(self, **extra: Any) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "timeout": 10.0, **extra}

    def message_ids(self) -> list[str]:
        found = []
        for data in self.messages:
            for line in data.split(b"\r\n"):
                if line.lower().startswith(b"message-id:"):
                    found.append(line.split(b":", 1)[1].strip().decode())
        return found

    async def handle_MAIL(
        self, server: SMTP, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        with self.lock:
            self.mail_count += 1
            number = self.mail_count
        if number <= len(self.replies) and not self.replies[number - 1].startswith("250"):
            return self.replies[number - 1]
        envelope.mail_from = address
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        with self.lock:
            self.messages.append(bytes(envelope.original_content))
        return "250 accepted"


class _Controller(Controller):  # type: ignore[misc]
    def _trigger_server(self) -> None:
        # The listening socket exists now: learn the port before the start-up probe.
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def start_flaky(*replies: str) -> tuple[FlakyServer, Controller]:
    """Start a :class:`FlakyServer`; the caller stops the returned controller."""
    server = FlakyServer(list(replies))
    controller = _Controller(server, hostname="127.0.0.1", port=0, ready_timeout=10.0)
    controller.start()
    server.port = controller.port
    return server, controller
