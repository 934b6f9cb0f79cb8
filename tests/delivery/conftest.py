"""Fixtures of the delivery tests: a fake clock in effect, hooks removed after each
test, servers with chosen replies (see delivery_helpers.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from delivery_helpers import (
    Controller,
    FakeClock,
    FlakyServer,
    Sender,
    send_async,
    send_sync,
    start_flaky,
)

from mailproviders import hooks
from mailproviders.delivery import clock


@pytest.fixture(params=[send_sync, send_async], ids=["sync", "async"])
def send(request: pytest.FixtureRequest) -> Sender:
    """Each test that takes it runs twice: through ``message.send()`` and ``asend()``."""
    function: Sender = request.param
    return function


@pytest.fixture
def fake_clock() -> Iterator[FakeClock]:
    """A :class:`FakeClock` in effect for the test (time frozen unless ``advance``)."""
    fake = FakeClock()
    previous = clock.set_clock(fake)
    try:
        yield fake
    finally:
        clock.set_clock(previous)


@pytest.fixture(autouse=True)
def _no_hooks() -> Iterator[None]:
    hooks.clear()
    try:
        yield
    finally:
        hooks.clear()


@pytest.fixture
def flaky_server() -> Iterator[Callable[..., FlakyServer]]:
    """Factory: ``flaky_server("421 4.3.2 closing", "451 4.3.0 later")`` starts a
    :class:`FlakyServer`; all are stopped after the test."""
    controllers: list[Controller] = []

    def make(*replies: str) -> FlakyServer:
        server, controller = start_flaky(*replies)
        controllers.append(controller)
        return server

    yield make
    for controller in controllers:
        controller.stop()
