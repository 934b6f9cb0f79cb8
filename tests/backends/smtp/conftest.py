"""Fixtures shared by the SMTP backend tests."""

from __future__ import annotations

import pytest

from smtp_fixtures import Send, async_send, sync_send


@pytest.fixture(params=[sync_send, async_send], ids=["sync", "async"])
def send(request: pytest.FixtureRequest) -> Send:
    """``send(backend, messages)`` through ``send_messages`` or ``asend_messages``."""
    function: Send = request.param
    return function
