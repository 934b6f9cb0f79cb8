"""The FastAPI and Flask recipes (docs/fastapi.md, docs/flask.md) with a pooled SMTP
provider and a real aiosmtpd server: shutdown closes the pooled connections.

Open connections are read from the kernel (/proc/net/tcp: ESTABLISHED sockets whose
remote end is the server), not from the pool's own bookkeeping.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from flask import Flask

import mailproviders
from mailproviders import asend_mail, providers, send_mail
from smtp_fixtures import SMTPTestServer

_ESTABLISHED = "01"


def open_connections_to(port: int) -> int:
    """Client sockets connected to 127.0.0.1:``port`` right now."""
    remote = f"0100007F:{port:04X}"
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        count += fields[2] == remote and fields[3] == _ESTABLISHED
    return count


@pytest.fixture
def pooled(smtp_server: SMTPTestServer) -> SMTPTestServer:
    mailproviders.configure(
        EMAIL_PROVIDERS={"default": f"smtp://127.0.0.1:{smtp_server.port}?pool_size=2"},
        DEFAULT_FROM_EMAIL="team@example.com",
    )
    return smtp_server


def fastapi_app(*, close_at_shutdown: bool = True) -> FastAPI:
    """docs/fastapi.md's application, with a sync endpoint as well."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        assert providers.settings.EMAIL_PROVIDERS
        yield
        if close_at_shutdown:
            await providers.aclose_all()

    app = FastAPI(lifespan=lifespan)

    @app.post("/signup")
    async def signup() -> dict[str, int]:
        return {"sent": await asend_mail("Welcome", "Hi.", None, ["ada@example.com"])}

    @app.post("/signup-sync")
    def signup_sync() -> dict[str, int]:
        return {"sent": send_mail("Welcome", "Hi.", None, ["bob@example.com"])}

    return app


def test_fastapi_lifespan_closes_the_pooled_connections(pooled: SMTPTestServer) -> None:
    with TestClient(fastapi_app()) as client:
        for path in ("/signup", "/signup", "/signup-sync", "/signup-sync"):
            assert client.post(path).json() == {"sent": 1}
        assert open_connections_to(pooled.port) == 2  # one async, one sync, kept open
    assert pooled.connection_count == 2 and len(pooled.messages) == 4
    assert open_connections_to(pooled.port) == 0


def test_without_aclose_all_the_pooled_connections_stay_open(pooled: SMTPTestServer) -> None:
    """The control for the test above: the connections it sees closed were open."""
    with TestClient(fastapi_app(close_at_shutdown=False)) as client:
        assert client.post("/signup-sync").json() == {"sent": 1}
    assert open_connections_to(pooled.port) == 1
    providers.close_all()
    assert open_connections_to(pooled.port) == 0


def test_flask_close_all_closes_the_pooled_connections(pooled: SMTPTestServer) -> None:
    app = Flask(__name__)

    @app.post("/signup")
    def signup() -> dict[str, int]:
        return {"sent": send_mail("Welcome", "Hi.", None, ["ada@example.com"])}

    client = app.test_client()
    assert [client.post("/signup").get_json() for _ in range(3)] == [{"sent": 1}] * 3
    assert pooled.connection_count == 1 and open_connections_to(pooled.port) == 1
    providers.close_all()  # what docs/flask.md registers with atexit
    assert open_connections_to(pooled.port) == 0
