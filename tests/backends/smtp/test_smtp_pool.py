"""The SMTP connection pool (``OPTIONS: {"pool": {...}}``), sync side: reuse across
``send_mail`` calls and threads, stale and spent connections, close_all/exit, failures,
validation. Real aiosmtpd (and scripted socket) servers on 127.0.0.1; everything is
counted server-side. :class:`PoolServer` is also used by test_smtp_pool_async.py.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import itertools
import json
import logging
import os
import smtplib
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

import mailproviders
from mailproviders import EmailMessage, providers, send_mail
from mailproviders.backends.smtp import EmailBackend
from mailproviders.exceptions import InvalidEmailProvider, possibly_sent_messages_of
from smtp_fixtures import ScriptedConnection, ScriptedServer, ServerFactory


class PoolServer:
    """An aiosmtpd server on 127.0.0.1 counting what a pool is about: connections (TCP),
    the most open at once, QUIT and NOOP commands, and the Message-ID of every message."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.connections = self.quits = self.noops = self.peak = 0
        self.live: set[SMTP] = set()
        self.message_ids: list[str] = []
        self.controller = _Controller(self)
        self.controller.start()
        deadline = time.monotonic() + 10  # the start-up probe is not a client
        while self.live and time.monotonic() < deadline:
            time.sleep(0.01)
        with self.lock:
            self.connections = self.peak = 0

    def options(self, **extra: Any) -> dict[str, Any]:
        return {"host": "127.0.0.1", "port": self.controller.port, "timeout": 10.0, **extra}

    def opened(self, session: SMTP) -> None:
        with self.lock:
            self.live.add(session)
            self.peak = max(self.peak, len(self.live))

    def closed(self, session: SMTP) -> None:
        with self.lock:
            self.live.discard(session)

    def hang_up_all(self) -> int:
        """Close every client connection now, as a server's idle timeout does; return how
        many there were, once the server has closed them all."""

        async def hang_up() -> int:
            sessions = list(self.live)
            for session in sessions:
                assert session.transport is not None
                session.transport.close()
            while any(session in self.live for session in sessions):
                await asyncio.sleep(0.001)
            return len(sessions)

        future = asyncio.run_coroutine_threadsafe(hang_up(), self.controller.loop)
        return future.result(10)

    def stop(self) -> None:
        self.controller.stop()


class _Session(SMTP):  # type: ignore[misc]
    def __init__(self, server: PoolServer, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pool_server = server

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self.pool_server.opened(self)

    def connection_lost(self, error: Exception | None) -> None:
        self.pool_server.closed(self)
        super().connection_lost(error)


class _Handler:
    def __init__(self, server: PoolServer) -> None:
        self.server = server

    async def handle_DATA(self, smtp: SMTP, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self.server.lock:
            self.server.message_ids.append(str(parsed["Message-ID"]))
        return "250 OK"

    async def handle_NOOP(self, smtp: SMTP, session: Any, envelope: Any, arg: str) -> str:
        with self.server.lock:
            self.server.noops += 1
        return "250 OK"

    async def handle_QUIT(self, smtp: SMTP, session: Any, envelope: Any) -> str:
        with self.server.lock:
            self.server.quits += 1
        return "221 Bye"


class _Controller(Controller):  # type: ignore[misc]
    def __init__(self, server: PoolServer) -> None:
        super().__init__(_Handler(server), hostname="127.0.0.1", port=0, ready_timeout=10.0)
        self.pool_server = server

    def factory(self) -> SMTP:
        with self.pool_server.lock:
            self.pool_server.connections += 1
        return _Session(self.pool_server, self.handler, **self.SMTP_kwargs)

    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@pytest.fixture
def pool_server() -> Iterator[PoolServer]:
    server = PoolServer()
    try:
        yield server
    finally:
        server.stop()


def use(server: PoolServer | ScriptedServer, **pool: Any) -> None:
    """Configure the provider ``pooled`` for ``server`` with ``pool`` options."""
    mailproviders.configure(EMAIL_PROVIDERS={"pooled": {"OPTIONS": server.options(pool=pool)}})


def send_one(number: int = 0) -> int:
    return send_mail(
        f"Hi {number}", "Body", "from@example.com", ["to@example.com"], using="pooled"
    )


def serve(conn: ScriptedConnection, delivered: list[int], *, greeting: bool = True) -> None:
    """Accept every message on ``conn`` until QUIT (``delivered`` gets one item each)."""
    while conn.until("DATA", greeting="220 scripted ready" if greeting else ""):
        conn.reply("354 go ahead")
        conn.read_data()
        delivered.append(1)  # before the reply: the client may check at once
        conn.reply("250 queued")
        greeting = False


def test_consecutive_send_mail_calls_share_one_connection_until_close_all(
    pool_server: PoolServer,
) -> None:
    use(pool_server, size=1)
    for number in range(50):
        assert send_one(number) == 1
    assert pool_server.connections == 1
    assert len(set(pool_server.message_ids)) == 50
    assert pool_server.quits == 0
    providers.close_all()
    assert pool_server.quits == 1
    send_one()
    assert pool_server.connections == 2  # a new pool after close_all


def test_without_the_option_each_send_mail_has_its_own_connection(
    pool_server: PoolServer,
) -> None:
    mailproviders.configure(EMAIL_PROVIDERS={"pooled": {"OPTIONS": pool_server.options()}})
    for number in range(5):
        send_one(number)
    assert providers["pooled"].pool is None  # type: ignore[attr-defined]
    assert pool_server.connections == pool_server.quits == 5


def test_threads_share_at_most_size_connections(pool_server: PoolServer) -> None:
    use(pool_server, size=3)
    start = threading.Barrier(8)

    def worker(base: int) -> None:
        start.wait()
        for number in range(10):
            send_one(base + number)

    threads = [threading.Thread(target=worker, args=(100 * i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(pool_server.message_ids) == len(set(pool_server.message_ids)) == 80
    assert pool_server.connections <= 3
    assert pool_server.peak <= 3


def test_starttls_and_auth_happen_once_for_many_sends(fault_smtp_server: ServerFactory) -> None:
    server = fault_smtp_server(tls="starttls", auth=True)
    mailproviders.configure(EMAIL_PROVIDERS={"pooled": {"OPTIONS": server.options(pool=True)}})
    for number in range(10):
        send_one(number)
    assert len(server.messages) == 10
    assert server.connection_count == server.auth_attempts == 1


def test_a_connection_the_server_closed_while_idle_is_replaced(
    pool_server: PoolServer, caplog: pytest.LogCaptureFixture
) -> None:
    use(pool_server, size=2)
    send_one(1)
    assert pool_server.hang_up_all() == 1
    with caplog.at_level(logging.INFO, logger="mailproviders"):
        send_one(2)
        send_one(3)
    assert pool_server.connections == 2
    assert len(pool_server.message_ids) == len(set(pool_server.message_ids)) == 3
    assert "lost before the message went out" not in caplog.text  # found before MAIL FROM


def test_a_connection_lost_at_mail_from_is_replaced_and_the_message_sent_once(
    scripted_smtp_server: Callable[..., ScriptedServer], caplog: pytest.LogCaptureFixture
) -> None:
    delivered: list[int] = []
    numbers = itertools.count()

    def script(conn: ScriptedConnection) -> None:
        if next(numbers) == 0:  # one message, then hang up on the next MAIL FROM
            assert conn.until("DATA")
            conn.reply("354 go ahead")
            conn.read_data()
            delivered.append(1)  # before the reply: the client may check at once
            conn.reply("250 queued")
            conn.command()
            return
        serve(conn, delivered)

    server = scripted_smtp_server(script)
    use(server, size=1)
    send_one(1)
    with caplog.at_level(logging.INFO, logger="mailproviders"):
        assert send_one(2) == 1
    assert delivered == [1, 1]
    assert server.connections == 2
    assert "pooled: the pooled connection to 127.0.0.1" in caplog.text


def test_the_second_attempt_goes_over_a_new_connection_not_another_idle_one(
    scripted_smtp_server: Callable[..., ScriptedServer],
) -> None:
    delivered: list[int] = []
    numbers = itertools.count()

    def script(conn: ScriptedConnection) -> None:
        if next(numbers) < 2:  # the first two: one message each, then hang up at MAIL FROM
            assert conn.until("DATA")
            conn.reply("354 go ahead")
            conn.read_data()
            delivered.append(1)  # before the reply: the client may check at once
            conn.reply("250 queued")
            conn.command()
            return
        serve(conn, delivered)

    server = scripted_smtp_server(script)
    use(server, size=2)
    first, second = providers["pooled"], providers["pooled"]
    first.open()
    second.open()  # two connections, both idle once closed
    for backend in (first, second):
        backend.send_messages([EmailMessage("x", "y", "f@example.com", ["t@example.com"])])
        backend.close()
    assert send_one() == 1
    assert delivered == [1, 1, 1]
    assert server.connections == 3


def test_a_connection_held_with_open_and_lost_at_mail_from_is_replaced(
    scripted_smtp_server: Callable[..., ScriptedServer],
) -> None:
    delivered: list[int] = []
    numbers = itertools.count()

    def script(conn: ScriptedConnection) -> None:
        if next(numbers) == 0:
            conn.until("MAIL")  # opened, then gone by the time the first message comes
            return
        serve(conn, delivered)

    server = scripted_smtp_server(script)
    use(server, size=1)
    with providers["pooled"] as backend:
        message = EmailMessage("x", "y", "f@example.com", ["t@example.com"])
        assert backend.send_messages([message]) == 1
    assert delivered == [1]
    assert server.connections == 2


def test_a_new_connection_lost_at_mail_from_is_not_retried(
    scripted_smtp_server: Callable[..., ScriptedServer],
) -> None:
    def script(conn: ScriptedConnection) -> None:
        conn.until("MAIL")  # then hang up

    server = scripted_smtp_server(script)
    use(server, size=1)
    with pytest.raises(smtplib.SMTPServerDisconnected):
        send_one()
    assert server.connections == 1


def test_a_possibly_delivered_message_is_not_resent_and_its_connection_dropped(
    fault_smtp_server: ServerFactory,
) -> None:
    server = fault_smtp_server(drop_after_data_at=2)
    mailproviders.configure(
        EMAIL_PROVIDERS={"pooled": {"OPTIONS": server.options(pool={"size": 1})}}
    )
    send_one(1)
    with pytest.raises(smtplib.SMTPServerDisconnected) as caught:
        send_one(2)
    assert len(possibly_sent_messages_of(caught.value)) == 1
    send_one(3)
    assert server.data_count == 3  # message 2 went out once, and was not sent again
    assert [m.parsed()["Subject"] for m in server.messages] == ["Hi 1", "Hi 3"]
    assert server.connection_count == 2


def test_a_refusal_leaves_the_connection_in_the_pool(fault_smtp_server: ServerFactory) -> None:
    server = fault_smtp_server(refuse_rcpt=["no@example.com"])
    mailproviders.configure(EMAIL_PROVIDERS={"pooled": {"OPTIONS": server.options(pool=True)}})
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send_mail("Hi", "Body", "from@example.com", ["no@example.com"], using="pooled")
    send_one()
    assert len(server.messages) == 1
    assert server.connection_count == 1


def test_a_connection_that_served_max_messages_is_replaced(pool_server: PoolServer) -> None:
    use(pool_server, size=1, max_messages=3)
    for number in range(10):
        send_one(number)
    assert pool_server.connections == 4
    assert pool_server.quits == 3  # the spent ones said QUIT; the fourth is still open
    with providers["pooled"] as backend:  # one call: replaced in the middle of it
        backend.send_messages(
            [EmailMessage(f"B{i}", "x", "f@example.com", ["t@example.com"]) for i in range(4)]
        )
    assert pool_server.connections == 5
    assert len(set(pool_server.message_ids)) == 14


def test_noop_probe_before_reuse_after_probe_after(pool_server: PoolServer) -> None:
    use(pool_server, size=1, probe_after=0)
    for number in range(5):
        send_one(number)
    assert pool_server.noops == 4
    use(pool_server, size=1, probe_after=3600)
    for number in range(5):
        send_one(number)
    assert pool_server.noops == 4


def test_connections_idle_longer_than_max_idle_are_closed_not_reused(
    pool_server: PoolServer,
) -> None:
    use(pool_server, size=1, max_idle=0.01)
    for number in range(3):
        send_one(number)
        time.sleep(0.05)  # longer than max_idle: a guarantee, not a measurement
    assert pool_server.connections == 3
    assert pool_server.quits == 2


def test_a_borrower_waits_for_a_busy_connection_then_times_out(pool_server: PoolServer) -> None:
    mailproviders.configure(
        EMAIL_PROVIDERS={"pooled": {"OPTIONS": pool_server.options(timeout=0.3, pool={"size": 1})}}
    )
    holder = providers["pooled"]
    holder.open()  # holds the pool's only connection
    errors: list[BaseException] = []

    def other() -> None:
        try:
            send_one()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert isinstance(errors[0], TimeoutError)
    assert "stayed busy for timeout=0.3 s" in str(errors[0])
    holder.close()
    send_one()
    assert pool_server.connections == 1
    assert pool_server.message_ids and len(pool_server.message_ids) == 1


def test_a_waiting_borrower_gets_the_connection_when_it_is_given_back(
    pool_server: PoolServer,
) -> None:
    use(pool_server, size=1)
    holder = providers["pooled"]
    holder.open()
    thread = threading.Thread(target=send_one)
    thread.start()
    time.sleep(0.05)  # most likely waiting now; either way the result is the same
    holder.close()
    thread.join()
    assert pool_server.connections == 1
    assert len(pool_server.message_ids) == 1


def test_configure_drops_the_old_pools_with_quit(pool_server: PoolServer) -> None:
    use(pool_server, size=1)
    send_one()
    use(pool_server, size=1)
    assert pool_server.quits == 1
    send_one()
    assert pool_server.connections == 2


def test_interpreter_exit_closes_pooled_connections(pool_server: PoolServer) -> None:
    code = textwrap.dedent(
        f"""
        import mailproviders
        mailproviders.configure(EMAIL_PROVIDERS={{"pooled": {{"OPTIONS": {{
            "host": "127.0.0.1", "port": {pool_server.controller.port}, "pool": True}}}}}})
        mailproviders.send_mail("Hi", "Body", "f@example.com", ["t@example.com"],
                                using="pooled")
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMAIL_")}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)
    assert (pool_server.connections, pool_server.quits) == (1, 1)


def test_a_forked_child_opens_its_own_connection_and_leaves_the_parents_alone(
    pool_server: PoolServer,
) -> None:
    use(pool_server, size=1)
    assert send_one(1) == 1
    pid = os.fork()
    if pid == 0:  # the child: send, then close its pools (as interpreter exit would)
        code = 1
        try:
            code = 0 if send_one(2) == 1 else 1
            providers.close_all()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # The child neither wrote on the parent's socket nor said QUIT on it.
    assert (pool_server.connections, pool_server.quits) == (2, 1)
    assert send_one(3) == 1
    assert pool_server.connections == 2  # the parent's connection was reused
    assert len(set(pool_server.message_ids)) == 3


def test_explicit_open_keeps_the_connection_and_close_gives_it_back(
    pool_server: PoolServer,
) -> None:
    use(pool_server, size=1)
    with providers["pooled"] as backend:
        for number in range(3):
            backend.send_messages([EmailMessage(f"{number}", "x", "f@example.com", ["t@x.org"])])
    send_one()
    assert pool_server.connections == 1
    assert pool_server.quits == 0


@pytest.mark.parametrize(
    ("pool", "option", "text"),
    [
        ({"size": 0}, "pool.size", "greater than or equal to 1"),
        ({"sise": 2}, "pool", "unknown pool key 'sise' (did you mean 'size'?)"),
        ({"max_idle": 0}, "pool.max_idle", "greater than 0"),
        ({"max_messages": "x"}, "pool.max_messages", "valid integer"),
        ("maybe", "pool", 'expected a mapping such as {"size": 4}'),
        ('{"size": 2,', "pool", "the JSON cannot be read"),
    ],
)
def test_invalid_pool_options_name_alias_and_key(pool: Any, option: str, text: str) -> None:
    options = {"host": "mail.example.com", "pool": pool}
    with pytest.raises(InvalidEmailProvider) as caught:
        mailproviders.configure(EMAIL_PROVIDERS={"bulk": {"OPTIONS": options}})
    message = str(caught.value)
    assert f"EMAIL_PROVIDERS['bulk'].OPTIONS.{option}:" in message
    assert text in message


def test_pool_and_max_connections_exclude_each_other() -> None:
    options = {"host": "mail.example.com", "pool": True, "max_connections": 4}
    with pytest.raises(InvalidEmailProvider, match=r"OPTIONS\.pool: pool and max_connections"):
        mailproviders.configure(EMAIL_PROVIDERS={"bulk": {"OPTIONS": options}})
    with pytest.raises(InvalidEmailProvider, match="exclude each other") as caught:
        EmailBackend(alias="direct", host="h", pool={"size": 2}, max_connections=2)
    assert caught.value.errors[0].option == "pool"


def test_a_backend_built_directly_validates_pool() -> None:
    with pytest.raises(InvalidEmailProvider, match="size: Input should be greater") as caught:
        EmailBackend(alias="direct", host="h", pool={"size": 0})
    assert (caught.value.errors[0].alias, caught.value.errors[0].option) == ("direct", "pool")
    assert EmailBackend(host="h", pool=True).pool is not None
    assert EmailBackend(host="h").pool is None


def test_pool_from_dsn_query_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_PROVIDERS__a", "smtp://mail.example.com?pool_size=3&pool_max_idle=9")
    monkeypatch.setenv("EMAIL_PROVIDERS__b", "smtp://mail.example.com?pool=true")
    monkeypatch.setenv("EMAIL_PROVIDERS__c__OPTIONS__host", "mail.example.com")
    monkeypatch.setenv("EMAIL_PROVIDERS__c__OPTIONS__pool", '{"size": 2, "max_messages": null}')
    monkeypatch.setenv("EMAIL_PROVIDERS__d__OPTIONS__host", "mail.example.com")
    monkeypatch.setenv("EMAIL_PROVIDERS__d__OPTIONS__pool__size", "5")
    configs = mailproviders.configure().EMAIL_PROVIDERS or {}
    pools = {alias: configs[alias].OPTIONS["pool"] for alias in "abcd"}
    assert (pools["a"].size, pools["a"].max_idle) == (3, 9.0)
    assert pools["b"].size == 4
    assert (pools["c"].size, pools["c"].max_messages) == (2, None)
    assert pools["d"].size == 5
    with pytest.raises(InvalidEmailProvider, match="not both"):
        mailproviders.configure(EMAIL_PROVIDERS={"x": "smtp://h?pool=true&pool_size=2"})


def test_check_shows_the_pool() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMAIL_")}
    env["EMAIL_PROVIDERS__default"] = "smtp://mail.example.com?pool_size=3"
    result = subprocess.run(
        [sys.executable, "-m", "mailproviders", "check"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert 'pool={"size":3,"max_idle":30.0,"probe_after":5.0,"max_messages":100}' in result.stdout
    as_json = subprocess.run(
        [sys.executable, "-m", "mailproviders", "check", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    [shown] = json.loads(as_json.stdout)["providers"]
    assert shown["options"]["pool"] == {
        "size": 3,
        "max_idle": 30.0,
        "probe_after": 5.0,
        "max_messages": 100,
    }


def test_the_json_schema_describes_pool() -> None:
    import jsonschema

    from mailproviders.config import json_schema

    validator = jsonschema.Draft202012Validator(json_schema())
    good = [True, False, None, {"size": 2, "max_idle": 5, "probe_after": 0, "max_messages": None}]
    for pool in good:
        settings = {"EMAIL_PROVIDERS": {"a": {"OPTIONS": {"host": "h", "pool": pool}}}}
        assert not list(validator.iter_errors(settings)), pool
    for pool in [{"size": 0}, {"sise": 2}, 3]:
        settings = {"EMAIL_PROVIDERS": {"a": {"OPTIONS": {"host": "h", "pool": pool}}}}
        assert list(validator.iter_errors(settings)), pool
