"""Fixtures of the HTTP API backend tests: local API servers (api_fakes.py), endpoints
that refuse or never accept connections, and Amazon SES emulated by moto's server."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Callable, Iterator

import pytest
from api_fakes import FAKES, FakeAPI

NAMES = sorted(FAKES)


@pytest.fixture(scope="session")
def _api_servers() -> Iterator[dict[str, FakeAPI]]:
    servers: dict[str, FakeAPI] = {}
    yield servers
    for api in servers.values():
        api.stop()


@pytest.fixture
def make_api(_api_servers: dict[str, FakeAPI]) -> Iterator[Callable[[str], FakeAPI]]:
    """``make_api(name)``: the local server keeping API ``name``'s contract, as new (one
    server per API for the session; a test starts with nothing received or asked)."""
    used: list[FakeAPI] = []

    def make(name: str) -> FakeAPI:
        api = _api_servers.get(name)
        if api is None:
            api = _api_servers[name] = FAKES[name]()
        api.reset()
        used.append(api)
        return api

    yield make
    for api in used:
        api.reset()


@pytest.fixture(params=NAMES)
def api(request: pytest.FixtureRequest, make_api: Callable[[str], FakeAPI]) -> FakeAPI:
    """Each of the four httpx-based APIs in turn."""
    return make_api(request.param)


@pytest.fixture
def refused_endpoint() -> str:
    """An http:// endpoint on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def unanswered_endpoint() -> Iterator[str]:
    """An endpoint whose listen queue is full: a connection attempt is never answered
    (the request never leaves the client, so the message certainly was not accepted)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):  # fill the accept queue; later connection attempts hang
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


class _KeepAliveHandler(http.server.BaseHTTPRequestHandler):
    """Answers every request as the four APIs answer success (each reads only its own
    fields), keeping the connection open (werkzeug's server closes every one)."""

    protocol_version = "HTTP/1.1"
    server: _CountingServer

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.requests += 1
        body = json.dumps({"id": "m-1", "MessageID": "m-1", "ErrorCode": 0, "Message": "OK"})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Message-Id", "m-1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


class _CountingServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _KeepAliveHandler)
        self.lock = threading.Lock()
        self.connections = 0
        self.requests = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def counting_server() -> Iterator[_CountingServer]:
    """A keep-alive HTTP server on 127.0.0.1 that counts connections and requests."""
    server = _CountingServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
