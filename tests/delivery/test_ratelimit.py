"""RATE_LIMIT: one token bucket per alias for every thread and task of the process.
Waits go through a fake clock (time frozen unless said otherwise): the tests count
tokens and the waits asked for, never the time taken."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest
from delivery_helpers import FakeClock

import mailproviders
from mailproviders import outbox, send_mail, send_mass_mail
from mailproviders.asending import asend_mail
from mailproviders.delivery import RateLimitExceeded, ratelimit


def _configure(limit: Any, backend: str = "locmem", **more: Any) -> None:
    mailproviders.configure(
        EMAIL_PROVIDERS={"default": {"BACKEND": backend, "RATE_LIMIT": limit}, **more}
    )


def _mail(n: int = 0, using: str | None = None, **kwargs: Any) -> int:
    return send_mail(
        f"S{n}", "Body", "from@example.com", ["to@example.com"], using=using, **kwargs
    )


def _steps(count: int, step: float) -> list[float]:
    return [pytest.approx(step * k) for k in range(1, count + 1)]


def test_four_threads_share_one_bucket(fake_clock: FakeClock) -> None:
    _configure({"messages": 10, "per": 1, "burst": 1, "max_wait": 5})
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def worker(number: int) -> None:
        try:
            barrier.wait()
            for n in range(5):
                assert _mail(number * 10 + n) == 1
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(outbox) == 20
    # One token at once, then one per 0.1 s: the 19 later reservations wait 0.1 ... 1.9 s,
    # each a different slot, whatever thread took it.
    assert sorted(fake_clock.waits) == _steps(19, 0.1)
    assert (
        ratelimit.bucket("default", mailproviders.providers.config("default").RATE_LIMIT).taken
        == 20
    )  # type: ignore[arg-type]


def test_asyncio_tasks_share_the_bucket_and_never_block_the_loop(fake_clock: FakeClock) -> None:
    _configure("5/s")  # burst 5

    async def main() -> list[int]:
        return await asyncio.gather(
            *(
                asend_mail(f"S{n}", "Body", "from@example.com", ["to@example.com"])
                for n in range(12)
            )
        )

    assert asyncio.run(main()) == [1] * 12
    assert fake_clock.waits == []  # no thread sleep on the async path
    assert sorted(fake_clock.async_waits) == _steps(7, 0.2)


def test_a_clock_that_replaces_sleep_only_counts_the_async_waits_too() -> None:
    """The documented recording clock (monotonic and sleep only) sees the waits of the
    async send functions as it sees the sync ones'."""
    from mailproviders.delivery import Clock, set_clock

    class RecordingClock(Clock):
        def __init__(self) -> None:
            self.waits: list[float] = []

        def monotonic(self) -> float:
            return 0.0

        def sleep(self, seconds: float) -> None:
            self.waits.append(seconds)

    clock = RecordingClock()
    previous = set_clock(clock)
    try:
        _configure({"messages": 2, "per": 1, "burst": 1})

        async def main() -> None:
            for n in range(3):
                await asend_mail(f"S{n}", "Body", "from@example.com", ["to@example.com"])

        asyncio.run(main())
    finally:
        set_clock(previous)
    assert clock.waits == [0.5, 1.0]


def test_the_bucket_refills_with_time(fake_clock: FakeClock) -> None:
    _configure({"messages": 1, "per": 2, "burst": 2})
    assert [_mail(n) for n in range(2)] == [1, 1]
    assert fake_clock.waits == []  # the burst
    fake_clock.now += 2.0  # one token back
    _mail(3)
    assert fake_clock.waits == []
    _mail(4)
    assert fake_clock.waits == [pytest.approx(2.0)]


def test_a_wait_longer_than_max_wait_raises_a_clear_error(fake_clock: FakeClock) -> None:
    _configure({"messages": 1, "per": 10, "max_wait": 5})
    assert _mail(1) == 1
    with pytest.raises(RateLimitExceeded, match=r"provider 'default': rate limit .*max_wait"):
        _mail(2)
    assert len(outbox) == 1
    assert fake_clock.waits == []


def test_max_wait_exceeded_is_silenced_by_fail_silently(
    fake_clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    _configure({"messages": 1, "per": 10, "max_wait": 5})
    assert _mail(1, fail_silently=True) == 1
    with caplog.at_level(logging.WARNING, logger="mailproviders"):
        assert _mail(2, fail_silently=True) == 0
    assert "RateLimitExceeded" in caplog.text
    assert len(outbox) == 1


def test_a_refused_reservation_takes_no_token(fake_clock: FakeClock) -> None:
    _configure({"messages": 1, "per": 10, "max_wait": 5})
    _mail(1)
    for n in range(3):
        with pytest.raises(RateLimitExceeded):
            _mail(n)
    fake_clock.now += 10.0
    assert _mail(9) == 1  # the refused ones did not run the bucket into debt
    assert fake_clock.waits == []


def test_mass_mail_is_paced_message_by_message(fake_clock: FakeClock) -> None:
    _configure({"messages": 4, "per": 1, "burst": 1})
    datatuple = [(f"S{n}", "B", "from@example.com", ["to@example.com"]) for n in range(5)]
    assert send_mass_mail(datatuple) == 5
    assert fake_clock.waits == _steps(4, 0.25)


def test_max_wait_part_way_reports_the_messages_sent(fake_clock: FakeClock) -> None:
    _configure({"messages": 1, "per": 1, "burst": 2, "max_wait": 1.5})
    datatuple = [(f"S{n}", "B", "from@example.com", ["to@example.com"]) for n in range(5)]
    with pytest.raises(RateLimitExceeded) as caught:
        send_mass_mail(datatuple)
    exc: Any = caught.value
    assert exc.sent_count == 3  # two at once, one after 1 s; the next would wait 2 s
    assert [m.subject for m in exc.sent_messages] == ["S0", "S1", "S2"]


def test_configure_restarts_the_buckets(fake_clock: FakeClock) -> None:
    _configure({"messages": 1, "per": 10, "max_wait": 0})
    _mail(1)
    with pytest.raises(RateLimitExceeded):
        _mail(2)
    _configure({"messages": 1, "per": 10, "max_wait": 0})
    assert _mail(3) == 1


def test_a_member_keeps_its_rate_limit_behind_a_composite(fake_clock: FakeClock) -> None:
    mailproviders.configure(
        EMAIL_PROVIDERS={
            "default": {"BACKEND": "failover", "OPTIONS": {"using": ["paced"]}},
            "paced": {"BACKEND": "locmem", "RATE_LIMIT": {"messages": 1, "per": 1, "burst": 1}},
        }
    )
    _mail(1)
    _mail(2, using="paced")  # the same bucket, reached directly
    _mail(3)
    assert fake_clock.waits == _steps(2, 1.0)
    assert [m.sent_using for m in outbox] == ["paced"] * 3


def test_a_full_member_bucket_moves_the_message_to_the_next_member(
    fake_clock: FakeClock,
) -> None:
    mailproviders.configure(
        EMAIL_PROVIDERS={
            "default": {"BACKEND": "failover", "OPTIONS": {"using": ["paced", "spare"]}},
            "paced": {
                "BACKEND": "locmem",
                "RATE_LIMIT": {"messages": 1, "per": 60, "max_wait": 1},
            },
            "spare": "locmem://",
        }
    )
    _mail(1)
    _mail(2)
    assert [m.sent_using for m in outbox] == ["paced", "spare"]
    # a full bucket is not a dead member: its circuit stays closed
    assert {h.member: h.state for h in mailproviders.providers.health("default")} == {
        "paced": "closed",
        "spare": "closed",
    }
