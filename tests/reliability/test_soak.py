"""Soak: sustained concurrent sending through faulty servers, retrying what failed.

Deselected by default (marker ``soak``). Run it with::

    pytest -m soak tests/reliability          # 60 s
    MAILPROVIDERS_SOAK_SECONDS=600 pytest -m soak tests/reliability

Each round starts a server with one random fault, lets 8 threads send 25 messages each
through their own cached provider, and on a failure resends only the messages after
``exc.sent_count``. Every message must arrive exactly once and intact, and the process
must not accumulate open file descriptors over the rounds.
"""

from __future__ import annotations

import os
import random
import smtplib
import threading
import time
from typing import Any, ClassVar

import pytest
from reliability_helpers import batch

import mailproviders
from mailproviders.backends.smtp import EmailBackend
from mailproviders.handler import providers
from mailproviders.message import EmailMessage
from smtp_fixtures import Faults, TLSCertificates, start_server

SECONDS = float(os.environ.get("MAILPROVIDERS_SOAK_SECONDS", "60"))
THREADS = 8
PER_THREAD = 25


class CachedSMTPBackend(EmailBackend):
    """Cached per thread by ``providers``."""

    cacheable: ClassVar[bool] = True


def _fault(rng: random.Random) -> Faults:
    total = THREADS * PER_THREAD
    return rng.choice(
        [
            Faults(),
            Faults(mail_reply="451 4.3.0 try later", mail_reply_at=rng.randint(1, total)),
            Faults(mail_reply="421 4.3.2 closing", mail_reply_at=rng.randint(1, total)),
            Faults(drop_after_data_at=rng.randint(1, total)),
            Faults(drop_at_quit=True),
        ]
    )


def _send_all(messages: list[EmailMessage]) -> None:
    """Send through this thread's cached provider, resending only what was not accepted."""
    pending = messages
    for _attempt in range(5):
        try:
            providers["soak"].send_messages(pending)
            return
        except (smtplib.SMTPException, OSError) as exc:
            sent_count: int = exc.sent_count  # type: ignore[attr-defined]
            pending = pending[sent_count:]
    raise AssertionError(f"{len(pending)} message(s) still not accepted after 5 attempts")


def _round(number: int, rng: random.Random, certificates: TLSCertificates) -> None:
    server = start_server(certificates, faults=_fault(rng))
    try:
        options: dict[str, Any] = server.options(timeout=5.0)
        mailproviders.configure(
            EMAIL_PROVIDERS={
                "soak": {"BACKEND": f"{__name__}.CachedSMTPBackend", "OPTIONS": options}
            }
        )
        errors: list[BaseException] = []
        tags = [f"r{number}t{i}" for i in range(THREADS)]

        def work(tag: str) -> None:
            try:
                _send_all(batch(PER_THREAD, tag=tag))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(tag,)) for tag in tags]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        providers.close_all()
        assert not errors, errors
        subjects = sorted(str(m.parsed()["Subject"]) for m in server.messages)
        expected = sorted(f"{tag}-{n}" for tag in tags for n in range(1, PER_THREAD + 1))
        assert subjects == expected  # each exactly once
    finally:
        server.stop()


@pytest.mark.soak
@pytest.mark.timeout(SECONDS + 120)
def test_soak(tls_ca: TLSCertificates) -> None:
    rng = random.Random(os.environ.get("MAILPROVIDERS_SOAK_SEED", "0"))
    deadline = time.monotonic() + SECONDS
    _round(0, rng, tls_ca)  # warm-up: imports, caches, the first server thread
    baseline = len(os.listdir("/proc/self/fd"))
    rounds = 1
    while time.monotonic() < deadline:
        _round(rounds, rng, tls_ca)
        rounds += 1
    assert rounds > 1
    assert len(os.listdir("/proc/self/fd")) <= baseline + 5, "file descriptors leak"
