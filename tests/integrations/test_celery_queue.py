"""The Celery queue backend (producer side): configuration, what it enqueues, broker
outages. A real Redis; no worker runs here unless a test starts one."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import pytest

import mailproviders
from mailproviders import (
    EmailMessage,
    InvalidEmailProvider,
    RenderedMessage,
    asend_mail,
    outbox,
    providers,
    send_mail,
)
from mailproviders.backends.celery import TASK_NAME, EmailBackend
from redis_fixtures import RedisServer, running_worker, wait_for, worker_app
from smtp_fixtures import SMTPTestServer


def _queue(redis_server: RedisServer, **options: object) -> dict[str, object]:
    return {
        "BACKEND": "celery",
        "OPTIONS": {"deliver_with": "smtp", "broker_url": redis_server.url, **options},
    }


def _configure(redis_server: RedisServer, **options: object) -> None:
    mailproviders.configure(
        EMAIL_PROVIDERS={
            "smtp": "smtp://127.0.0.1:25",
            "queue": _queue(redis_server, queue="mail", **options),
        }
    )


def _queued(redis_server: RedisServer, queue: str = "mail") -> list[dict[str, object]]:
    """The raw broker messages waiting in ``queue`` (kombu's Redis transport: a list)."""
    return [json.loads(raw) for raw in redis_server.client().lrange(queue, 0, -1)]


def _configure_error(**providers_: object) -> InvalidEmailProvider:
    with pytest.raises(InvalidEmailProvider) as info:
        mailproviders.configure(EMAIL_PROVIDERS=providers_)
    return info.value


# --- configuration ---------------------------------------------------------------------


def test_deliver_with_must_name_a_configured_provider() -> None:
    error = _configure_error(q="celery://?deliver_with=smtpp&broker_url=redis://127.0.0.1/0")
    assert str(error).startswith("EMAIL_PROVIDERS['q'].OPTIONS.deliver_with: no provider")
    assert "'smtpp'" in str(error)


def test_deliver_with_must_not_be_a_queue_or_lead_back_to_it() -> None:
    broker = "broker_url=redis://127.0.0.1/0"
    error = _configure_error(
        q1=f"celery://?deliver_with=q2&{broker}",
        q2=f"celery://?deliver_with=both&{broker}",
        q3=f"celery://?deliver_with=q3&{broker}",
        both="failover://smtp,q2",
        smtp="smtp://127.0.0.1",
    )
    problems = {(p.alias, p.option): p.message for p in error.errors}
    assert "'q2' is a queue provider too" in problems["q1", "deliver_with"]
    assert "'both' sends through 'q2' again" in problems["q2", "deliver_with"]
    assert "cannot deliver with itself" in problems["q3", "deliver_with"]
    mailproviders.configure(  # a queue as a failover member is fine
        EMAIL_PROVIDERS={
            "web": "failover://q,smtp",
            "q": f"celery://?deliver_with=smtp&{broker}",
            "smtp": "smtp://127.0.0.1",
        }
    )


def test_options_are_validated_naming_the_option() -> None:
    error = _configure_error(q={"BACKEND": "celery", "OPTIONS": {"deliver_with": "q"}})
    assert "EMAIL_PROVIDERS['q'].OPTIONS.app: give either app" in str(error)
    error = _configure_error(
        q="celery://?deliver_with=s&app=not%20a%20path&max_retries=-1", s="dummy://"
    )
    found = {p.option for p in error.errors}
    assert found == {"app", "max_retries"}
    with pytest.raises(InvalidEmailProvider, match=r"OPTIONS\.retry_delay: expected"):
        EmailBackend(alias="q", deliver_with="s", broker_url="redis://h", retry_delay=0)


@pytest.mark.parametrize(
    "url", ["", "s3cret-pw", "redis://:s3cret-pw@h:99999/0", "redis://h:1/0;redis://h:pw/0"]
)
def test_a_broker_url_that_is_no_url_is_a_load_time_error_that_hides_it(url: str) -> None:
    options = {"deliver_with": "s", "broker_url": url}
    error = _configure_error(q={"BACKEND": "celery", "OPTIONS": options}, s="dummy://")
    [problem] = error.errors
    assert (problem.alias, problem.option) == ("q", "broker_url")
    assert "expected a broker URL" in problem.message
    assert "s3cret" not in str(error) and "pw/0" not in str(error)


def test_the_broker_password_is_never_shown(redis_server: RedisServer) -> None:
    url = quote(f"redis://:hunter2-secret@127.0.0.1:{redis_server.port}/0", safe="")
    mailproviders.configure(
        EMAIL_PROVIDERS={"q": f"celery://?deliver_with=s&broker_url={url}", "s": "dummy://"}
    )
    backend = providers["q"]
    shown = repr(backend) + repr(providers.settings) + repr(providers.config("q"))
    assert "hunter2" not in shown
    for dsn in (
        f"celery://?broker_url={url}",
        f"celery://?deliver_with=s&broker_url={url}&broker_url={url}",
        f"celery://host?broker_url={url}",
    ):
        with pytest.raises(InvalidEmailProvider) as info:
            mailproviders.configure(EMAIL_PROVIDERS={"q": dsn, "s": "dummy://"})
        assert "hunter2" not in str(info.value)


def test_a_missing_celery_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['celery'] = None\n"
        "from mailproviders.registry import import_backend\n"
        "import_backend('celery', 'q')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert "pip install 'mailproviders[celery]'" in result.stderr
    assert "EMAIL_PROVIDERS['q'].BACKEND" in result.stderr


def test_an_app_path_that_cannot_be_imported_is_named_at_send() -> None:
    mailproviders.configure(
        EMAIL_PROVIDERS={"q": "celery://?deliver_with=s&app=nowhere.celery:app", "s": "dummy://"}
    )
    with pytest.raises(InvalidEmailProvider, match=r"\['q'\]\.OPTIONS\.app: cannot import"):
        send_mail("Hi", "Body", "me@example.com", ["you@example.com"], using="q")


def test_the_app_option_enqueues_with_that_app(
    redis_server: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "project_celery.py").write_text(
        "from celery import Celery\n"
        f"app = Celery('project', broker={redis_server.url!r}, set_as_current=False)\n"
        "not_an_app = object()\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    mailproviders.configure(
        EMAIL_PROVIDERS={
            "q": "celery://?deliver_with=s&app=project_celery:app&queue=mail",
            "bad": "celery://?deliver_with=s&app=project_celery.not_an_app",
            "s": "dummy://",
        }
    )
    assert send_mail("Hi", "Body", "me@example.com", ["you@example.com"], using="q") == 1
    assert len(_queued(redis_server)) == 1
    with pytest.raises(InvalidEmailProvider, match=r"\['bad'\]\.OPTIONS\.app: .* not a Celery"):
        send_mail("Hi", "Body", "me@example.com", ["you@example.com"], using="bad")


# --- what is enqueued --------------------------------------------------------------------


def test_each_message_is_enqueued_once_as_json(redis_server: RedisServer) -> None:
    _configure(redis_server, max_retries=3)
    messages = [
        EmailMessage("One", "Body", "me@example.com", ["a@example.com"]),
        EmailMessage("None", "Body", "me@example.com", []),  # no recipients: skipped
        EmailMessage("Two", "Body", "me@example.com", ["b@example.com"], bcc=["c@x.org"]),
    ]
    assert providers["queue"].send_messages(messages) == 2
    queued = _queued(redis_server)
    assert [m["headers"]["task"] for m in queued] == [TASK_NAME, TASK_NAME]  # type: ignore[index]
    assert {m["content-type"] for m in queued} == {"application/json"}
    shown = [m["headers"]["argsrepr"] for m in queued]  # type: ignore[index]
    assert all("<" in text and "Body" not in text for text in shown)  # Message-IDs only
    payloads = [json.loads(base64.b64decode(m["body"]))[0][0] for m in queued]  # type: ignore[arg-type]
    assert {p["deliver_with"] for p in payloads} == {"smtp"}
    assert {p["max_retries"] for p in payloads} == {3}
    rendered = sorted(
        (RenderedMessage.from_dict(p["message"]) for p in payloads), key=lambda m: m.subject
    )
    assert [m.subject for m in rendered] == ["One", "Two"]
    assert rendered[1].recipients() == ["b@example.com", "c@x.org"]
    assert b"c@x.org" not in rendered[1].data  # Bcc only in the envelope


def test_asend_mail_enqueues_without_blocking_the_loop(redis_server: RedisServer) -> None:
    _configure(redis_server)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    async def main() -> int:
        ticker = asyncio.create_task(tick())
        sent = await asyncio.gather(
            *(
                asend_mail(f"S{i}", "Body", "me@example.com", ["you@x.org"], using="queue")
                for i in range(20)
            )
        )
        ticker.cancel()
        return sum(sent)

    assert asyncio.run(main()) == 20
    assert len(_queued(redis_server)) == 20
    # The loop kept running while the enqueues ran in threads (enqueueing in the loop
    # itself lets the ticker run only between two sends: 3 ticks when tried).
    assert ticks > 100


# --- broker outages ---------------------------------------------------------------------


def test_redis_down_is_a_clear_send_error(redis_server: RedisServer) -> None:
    _configure(redis_server)
    redis_server.stop()
    messages = [EmailMessage("Hi", "Body", "me@example.com", ["you@example.com"])]
    with pytest.raises(ConnectionError, match=r"provider 'queue': cannot enqueue") as info:
        mailproviders.send_mass_mail(
            [("Hi", "Body", "me@example.com", ["a@x.org"])] * 2, using="queue"
        )
    assert info.value.sent_count == 0  # type: ignore[attr-defined]
    assert (
        send_mail("Hi", "Body", "me@x.org", ["you@x.org"], using="queue", fail_silently=True) == 0
    )
    assert providers["queue"].send_messages([]) == 0
    redis_server.start()  # back on the same port: the same backend enqueues again
    assert providers["queue"].send_messages(messages) == 1


def test_partial_enqueue_reports_what_was_queued(redis_server: RedisServer) -> None:
    _configure(redis_server)
    first = EmailMessage("One", "Body", "me@example.com", ["a@example.com"])

    def messages() -> object:
        yield first
        redis_server.stop()
        yield EmailMessage("Two", "Body", "me@example.com", ["b@example.com"])

    with pytest.raises(ConnectionError) as info:
        providers["queue"].send_messages(messages())  # type: ignore[arg-type]
    assert info.value.sent_count == 1  # type: ignore[attr-defined]
    assert info.value.sent_messages == [first]  # type: ignore[attr-defined]


def test_failover_moves_on_when_the_broker_is_down(redis_server: RedisServer) -> None:
    mailproviders.configure(
        EMAIL_PROVIDERS={
            "default": "failover://queue,backup",
            "queue": _queue(redis_server),
            "backup": "locmem://",
            "smtp": "smtp://127.0.0.1",
        }
    )
    redis_server.stop()
    assert send_mail("Hi", "Body", "me@example.com", ["you@example.com"]) == 1
    assert [m.sent_using for m in outbox] == ["backup"]


def test_verify_and_check_health_see_a_broker_that_is_down(redis_server: RedisServer) -> None:
    from test_cli import run

    providers_ = {
        "default": "failover://queue,backup",
        "queue": _queue(redis_server, timeout=2),
        "backup": "locmem://",
        "smtp": "smtp://127.0.0.1",
    }
    env = {"EMAIL_PROVIDERS": json.dumps(providers_)}
    up = run("check", "--health", env=env)
    assert (up.returncode, up.stdout.splitlines()[-2]) == (0, "default -> queue: closed")
    assert run("verify", "--using", "queue", env=env).returncode == 0
    redis_server.stop()
    down = run("check", "--health", env=env)
    assert down.returncode == 1, down.stdout
    assert (
        "default -> queue: open (retry in 60 s; ConnectionError: provider 'queue'" in down.stdout
    )
    verify = run("verify", "--using", "queue", env=env)
    assert (verify.returncode, verify.stdout.split(" ConnectionError")[0]) == (1, "queue: FAILED")


# --- done when: 1,000 messages from 8 threads, each delivered exactly once ---------------


def test_thousand_messages_from_eight_threads_are_delivered_exactly_once(
    smtp_server: SMTPTestServer, redis_server: RedisServer
) -> None:
    mailproviders.configure(
        EMAIL_PROVIDERS={
            "smtp": {"BACKEND": "smtp", "OPTIONS": smtp_server.options()},
            "queue": _queue(redis_server, queue="mail"),
        }
    )
    sent: list[str] = []
    lock = threading.Lock()

    def producer(number: int) -> None:
        backend = providers["queue"]
        for i in range(125):
            message = EmailMessage(f"{number}-{i}", "Body", "me@example.com", ["you@x.org"])
            rendered = RenderedMessage.from_message(message)
            assert backend.send_messages([rendered]) == 1
            with lock:
                sent.append(rendered.message_id or "")

    with running_worker(worker_app(redis_server), pool="threads", concurrency=4):
        threads = [threading.Thread(target=producer, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wait_for(lambda: len(smtp_server.messages) >= 1000, timeout=120)
    received = Counter(str(m.parsed()["Message-ID"]) for m in smtp_server.messages)
    assert len(sent) == len(set(sent)) == 1000
    assert received == Counter(sent)  # every Message-ID exactly once, nothing else
