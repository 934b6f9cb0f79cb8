"""Circuit-breaking composites against real SMTP servers on loopback: a member that failed
at connection level is skipped by every thread and task for ``retry_period`` seconds
(server-side connection counts), tried again after it (an injected clock), closed by a
success; each change of state logged once."""

from __future__ import annotations

import asyncio
import logging
import smtplib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from composite_helpers import batch, refusing, setup, smtp
from mailproviders.asending import asend_mail
from mailproviders.backends.circuit import MemberHealth
from mailproviders.exceptions import sent_messages_of
from mailproviders.handler import configure, providers
from mailproviders.sending import send_mail
from smtp_fixtures import ServerFactory


class Clock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(providers.circuits, "clock", fake)
    return fake


@dataclass
class DeadServer:
    """Accepts TCP connections and closes each at once, before any greeting: a member
    that is down although its port answers. Counts the connections it got."""

    sock: socket.socket
    connections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def options(self) -> dict[str, Any]:
        return {"host": "127.0.0.1", "port": self.sock.getsockname()[1], "timeout": 10.0}


@pytest.fixture
def dead_server() -> Iterator[DeadServer]:
    sock = socket.create_server(("127.0.0.1", 0))
    sock.settimeout(0.05)  # accept() wakes up now and then to see whether to stop
    server, stop = DeadServer(sock), threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            with server.lock:
                server.connections += 1
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join(10)
        sock.close()


def circuit_logs(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "mailproviders.circuit" and record.levelno == level
    ]


def send(n: int, using: str = "mail") -> int:
    return send_mail(f"s{n}", "body", "from@example.com", [f"to{n}@example.com"], using=using)


def states(alias: str = "mail") -> dict[str, str]:
    return {health.member: health.state for health in providers.health(alias)}


def test_dead_member_is_skipped_by_every_thread_then_retried_and_closed(
    fault_smtp_server: ServerFactory, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    # The primary refuses the first MAIL FROM with 421 and works afterwards.
    primary = fault_smtp_server(mail_reply="421 4.3.2 going down", mail_reply_at=1)
    backup = fault_smtp_server()
    setup("failover://primary,backup", primary=smtp(primary), backup=smtp(backup))
    caplog.set_level(logging.INFO, logger="mailproviders")
    assert send(0) == 1
    assert (primary.connection_count, len(backup.messages)) == (1, 1)
    assert states() == {"primary": "open", "backup": "closed"}

    def worker(first: int) -> None:
        for n in range(first, first + 5):
            assert send(n) == 1

    threads = [threading.Thread(target=worker, args=(10 * t,)) for t in range(1, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 20 messages from 4 threads: none went near the primary.
    assert primary.connection_count == 1
    assert len(backup.messages) == 21
    clock.now += 59.9
    assert send(100) == 1
    assert primary.connection_count == 1
    clock.now += 0.1  # the period has ended: one trial, which succeeds
    assert states()["primary"] == "half-open"
    assert send(101) == 1
    assert (primary.connection_count, len(primary.messages)) == (2, 1)
    assert states() == {"primary": "closed", "backup": "closed"}
    assert send(102) == 1
    assert len(primary.messages) == 2 and len(backup.messages) == 22
    [opened] = circuit_logs(caplog, logging.WARNING)
    assert "'mail'" in opened and "'primary'" in opened and "421" in opened
    [closed] = circuit_logs(caplog, logging.INFO)
    assert "'mail'" in closed and "'primary'" in closed and "closed" in closed


def test_a_failed_trial_reopens_for_another_period(
    dead_server: DeadServer,
    fault_smtp_server: ServerFactory,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    backup = fault_smtp_server()
    setup(
        "failover://primary,backup",
        primary={"BACKEND": "smtp", "OPTIONS": dead_server.options()},
        backup=smtp(backup),
    )
    caplog.set_level(logging.INFO, logger="mailproviders")
    for n in range(5):
        assert send(n) == 1
    assert dead_server.connections == 1
    clock.now += 60
    for n in range(5):
        assert send(n) == 1
    assert dead_server.connections == 2  # one trial, failed: open again
    [health] = [h for h in providers.health("mail") if h.member == "primary"]
    assert health == MemberHealth("mail", "primary", "open", health.reason, 60.0, failures=2)
    assert health.reason is not None and "SMTPServerDisconnected" in health.reason
    assert len(circuit_logs(caplog, logging.WARNING)) == 2  # opened, reopened
    assert circuit_logs(caplog, logging.INFO) == []
    assert len(backup.messages) == 10


def test_refused_port_is_not_tried_again_within_the_period(
    fault_smtp_server: ServerFactory, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    dead, backup = refusing(fault_smtp_server), fault_smtp_server()
    setup("failover://dead,backup", dead=smtp(dead), backup=smtp(backup))
    with caplog.at_level(logging.WARNING, logger="mailproviders"):
        for n in range(6):
            assert send(n) == 1
    failovers = [r for r in caplog.records if r.name == "mailproviders"]
    assert len(failovers) == 1  # one attempt at the dead member, then skipped silently
    assert len(circuit_logs(caplog, logging.WARNING)) == 1
    assert "ConnectionRefusedError" in circuit_logs(caplog, logging.WARNING)[0]
    assert backup.connection_count == 6 and len(backup.messages) == 6


def test_asyncio_tasks_share_the_open_circuit(
    dead_server: DeadServer, fault_smtp_server: ServerFactory, clock: Clock
) -> None:
    backup = fault_smtp_server()
    setup(
        "failover://primary,backup",
        primary={"BACKEND": "smtp", "OPTIONS": dead_server.options()},
        backup=smtp(backup),
    )

    async def one(n: int) -> int:
        return await asend_mail("s", "b", "from@example.com", [f"t{n}@x.test"], using="mail")

    async def main() -> list[int]:
        assert await one(0) == 1
        return await asyncio.gather(*(one(n) for n in range(1, 21)))

    assert asyncio.run(main()) == [1] * 20
    assert dead_server.connections == 1
    assert len(backup.messages) == 21
    assert states() == {"primary": "open", "backup": "closed"}


def test_round_robin_rotation_skips_an_open_member(
    dead_server: DeadServer, fault_smtp_server: ServerFactory, clock: Clock
) -> None:
    a, c = fault_smtp_server(), fault_smtp_server()
    setup(
        "roundrobin://a,b,c",
        a=smtp(a),
        b={"BACKEND": "smtp", "OPTIONS": dead_server.options()},
        c=smtp(c),
    )
    for n in range(1, 10):
        assert send(n) == 1
    assert dead_server.connections == 1  # b failed once (message 2, sent by c instead)
    # Turns: a, b→c, c, a, (b)→c, c, a, (b)→c, c.
    assert [len(a.messages), len(c.messages)] == [3, 6]
    assert states() == {"a": "closed", "b": "open", "c": "closed"}


def test_round_robin_in_one_call_and_from_threads(
    dead_server: DeadServer, fault_smtp_server: ServerFactory, clock: Clock
) -> None:
    a = fault_smtp_server()
    setup("roundrobin://a,b", a=smtp(a), b={"BACKEND": "smtp", "OPTIONS": dead_server.options()})
    assert providers["mail"].send_messages(batch(4)) == 4
    threads = [threading.Thread(target=send, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert dead_server.connections == 1
    assert len(a.messages) == 12


def test_when_every_member_is_open_each_is_still_tried(
    dead_server: DeadServer,
    fault_smtp_server: ServerFactory,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # a is dead; b refuses its first MAIL FROM with 421 then works.
    b = fault_smtp_server(mail_reply="421 4.3.2 busy", mail_reply_at=1)
    setup("failover://a,b", a={"BACKEND": "smtp", "OPTIONS": dead_server.options()}, b=smtp(b))
    caplog.set_level(logging.INFO, logger="mailproviders")
    with pytest.raises(smtplib.SMTPSenderRefused) as raised:
        send(1)
    assert sent_messages_of(raised.value) == []
    assert states() == {"a": "open", "b": "open"}
    clock.now += 1  # both still open: the message is not given up without trying
    assert send(2) == 1
    assert dead_server.connections == 2 and len(b.messages) == 1
    assert states() == {"a": "open", "b": "closed"}
    assert len(circuit_logs(caplog, logging.WARNING)) == 2  # a and b opened, once each
    assert len(circuit_logs(caplog, logging.INFO)) == 1  # b closed


def test_skipped_member_is_the_last_resort(fault_smtp_server: ServerFactory, clock: Clock) -> None:
    flaky = fault_smtp_server(mail_reply="421 4.3.2 busy", mail_reply_at=1)
    backup = fault_smtp_server(mail_reply="451 4.3.0 later", mail_reply_at=2)
    setup("failover://flaky,backup", flaky=smtp(flaky), backup=smtp(backup))
    assert send(1) == 1  # flaky opens, backup takes it
    assert send(2) == 1  # backup fails (451 to MAIL): the open flaky one is tried, works
    assert [len(flaky.messages), len(backup.messages)] == [1, 1]
    assert states() == {"flaky": "closed", "backup": "open"}


def test_a_refused_message_does_not_open_the_circuit(
    fault_smtp_server: ServerFactory, clock: Clock
) -> None:
    primary = fault_smtp_server(refuse_rcpt=["bad@example.com"])
    backup = fault_smtp_server()
    setup("failover://primary,backup", primary=smtp(primary), backup=smtp(backup))
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send_mail("s", "b", "from@example.com", ["bad@example.com"], using="mail")
    assert states() == {"primary": "closed", "backup": "closed"}
    assert send(1) == 1
    assert len(primary.messages) == 1 and backup.connection_count == 0


def test_retry_period_zero_tries_the_member_every_time(
    dead_server: DeadServer, fault_smtp_server: ServerFactory, clock: Clock
) -> None:
    backup = fault_smtp_server()
    configure(
        EMAIL_PROVIDERS={
            "mail": {"BACKEND": "failover", "OPTIONS": {"using": ["p", "b"], "retry_period": 0}},
            "p": {"BACKEND": "smtp", "OPTIONS": dead_server.options()},
            "b": smtp(backup),
        }
    )
    for n in range(4):
        assert send(n) == 1
    assert dead_server.connections == 4
    assert states() == {"p": "closed", "b": "closed"}


def test_configure_closes_every_circuit(
    dead_server: DeadServer, fault_smtp_server: ServerFactory, clock: Clock
) -> None:
    backup = fault_smtp_server()
    providers_map = {
        "mail": "failover://p,b",
        "p": {"BACKEND": "smtp", "OPTIONS": dead_server.options()},
        "b": smtp(backup),
    }
    configure(EMAIL_PROVIDERS=providers_map)
    send(1)
    assert states()["p"] == "open"
    configure(EMAIL_PROVIDERS=providers_map)
    assert states()["p"] == "closed"
    send(2)
    assert dead_server.connections == 2


def test_retry_period_from_a_dsn_query(
    dead_server: DeadServer, fault_smtp_server: ServerFactory, clock: Clock
) -> None:
    backup = fault_smtp_server()
    setup(
        "failover://p,b?retry_period=5",
        p={"BACKEND": "smtp", "OPTIONS": dead_server.options()},
        b=smtp(backup),
    )
    send(1)
    clock.now += 4.9
    send(2)
    assert dead_server.connections == 1
    clock.now += 0.1
    send(3)
    assert dead_server.connections == 2


def test_round_robin_tasks_skip_an_open_member(
    dead_server: DeadServer, fault_smtp_server: ServerFactory, clock: Clock
) -> None:
    a = fault_smtp_server()
    setup("roundrobin://a,b", a=smtp(a), b={"BACKEND": "smtp", "OPTIONS": dead_server.options()})

    async def one(n: int) -> int:
        return await asend_mail("s", "b", "from@example.com", [f"t{n}@x.test"], using="mail")

    async def main() -> list[int]:
        first = [await one(0), await one(1)]  # a, then b fails and a takes it
        return first + list(await asyncio.gather(*(one(n) for n in range(2, 12))))

    assert asyncio.run(main()) == [1] * 12
    assert dead_server.connections == 1
    assert len(a.messages) == 12
    assert states() == {"a": "closed", "b": "open"}
