"""What the local API servers of api_fakes.py share: the server, faults, held requests,
and :class:`Received`, the one shape of an accepted message."""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

KEYS = {
    "postmark": "pm-server-token-8c1f",
    "sendgrid": "SG.sendgrid-key-77aa",
    "resend": "re_resend-key-5b2e",
    "mailgun": "key-mailgun-secret-9d3c",
}
MAILGUN_DOMAIN = "mg.example.com"


@dataclass
class Received:
    """A message as one of the APIs accepted it."""

    sender: str
    to: list[str]
    subject: str
    text: str | None
    html: str | None
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)
    reply_to: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    #: (file name, content, MIME type, Content-ID or None)
    attachments: list[tuple[str, bytes, str, str | None]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    message_id: str = ""


class Invalid(Exception):
    """The request breaks the API's rules: answered with the API's validation error."""

    def __init__(self, message: str, field_name: str | None = None) -> None:
        super().__init__(message)
        self.field_name = field_name


class FakeAPI:
    """One API on its own server; ``name`` is the backend's short name."""

    name: str
    scheme: str
    send_path: str
    verify_path: str
    verify_method = "GET"

    def __init__(self) -> None:
        self.server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
        self.key = KEYS[self.name]
        self.received: list[Received] = []
        self.requests: list[Request] = []
        self._faults: list[tuple[int, dict[str, str]]] = []
        self._hold = threading.Event()
        self._holding = False
        #: Resend: a key that may only send (GET /domains answers 401 restricted_api_key).
        self.sending_only = False
        self.server.expect_request(self.send_path, method="POST").respond_with_handler(self._send)
        self.server.expect_request(
            self.verify_path, method=self.verify_method
        ).respond_with_handler(self._verify)
        self.server.start()

    # -- what a test asks ----------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def dsn(self, key: str | None = None) -> str:
        """The DSN of this API on its local server."""
        return f"{self.scheme}://{key or self.key}@127.0.0.1:{self.server.port}"

    def fail(self, status: int, times: int = 1, headers: dict[str, str] | None = None) -> None:
        """Answer the next ``times`` requests (any path) with the API's ``status`` error."""
        self._faults += [(status, headers or {})] * times

    def hold(self) -> None:
        """Read the next send requests whole, then never answer (until :meth:`stop`)."""
        self._holding = True

    def reset(self) -> None:
        """Forget what was received and asked; release a held request."""
        self._hold.set()
        self._hold = threading.Event()
        self._holding = False
        self._faults.clear()
        self.received.clear()
        self.requests.clear()
        self.sending_only = False

    def stop(self) -> None:
        self._hold.set()
        if self.server.is_running():
            self.server.stop()

    # -- the server side -----------------------------------------------------------

    def _fault(self, request: Request) -> Response | None:
        self.requests.append(request)
        if self._faults:
            status, headers = self._faults.pop(0)
            body, content_type = self.error_body(status, "simulated failure")
            return Response(body, status, headers=headers, content_type=content_type)
        return None

    def _send(self, request: Request) -> Response:
        fault = self._fault(request)
        if fault is not None:
            return fault
        if not self.authorized(request):
            return Response(*self.unauthorized(request))
        try:
            received = self.parse(request)
        except Invalid as exc:
            return self.invalid(exc)
        if self._holding:
            self._hold.wait(30)  # the client gives up first; released by reset()
            return Response("", 500)
        received.message_id = str(uuid.uuid4())
        self.received.append(received)
        return self.accepted(received)

    def _verify(self, request: Request) -> Response:
        fault = self._fault(request)
        if fault is not None:
            return fault
        if not self.authorized(request):
            return Response(*self.unauthorized(request))
        return self.verified(request)

    def verified(self, request: Request) -> Response:
        return Response(json.dumps({}), 200, content_type="application/json")

    def invalid(self, exc: Invalid) -> Response:
        body, content_type = self.error_body(self.validation_status, str(exc), exc.field_name)
        return Response(body, self.validation_status, content_type=content_type)

    # -- what each API says --------------------------------------------------------

    validation_status = 422

    def authorized(self, request: Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.key}"

    def unauthorized(self, request: Request) -> tuple[str, int, dict[str, str]]:
        body, content_type = self.error_body(401, "invalid key")
        return body, 401, {"Content-Type": content_type}

    def error_body(self, status: int, text: str, field_name: str | None = None) -> tuple[str, str]:
        raise NotImplementedError

    def parse(self, request: Request) -> Received:
        raise NotImplementedError

    def accepted(self, received: Received) -> Response:
        raise NotImplementedError


def _json(request: Request) -> dict[str, Any]:
    if request.mimetype != "application/json":
        raise Invalid("expected an application/json body")
    data = json.loads(request.get_data())
    if not isinstance(data, dict):
        raise Invalid("expected a JSON object")
    return data


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]
