"""Fixtures of the reliability tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from reliability_helpers import client_sockets


@pytest.fixture
def no_leaked_sockets() -> Iterator[list[int]]:
    """Append server ports to the yielded list; after the test no client socket to any of
    them may still be open in this process."""
    ports: list[int] = []
    yield ports
    leaked = {port: client_sockets(port) for port in ports}
    assert not any(leaked.values()), f"client sockets left open: {leaked}"
