"""Mailgun's messages API on a local server (the contract is described in api_fakes.py)."""

from __future__ import annotations

import base64
import json

from api_fakes_base import MAILGUN_DOMAIN, FakeAPI, Invalid, Received, _split
from werkzeug import Request, Response


class FakeMailgun(FakeAPI):
    name, scheme = "mailgun", "mailgun+api"
    send_path = verify_path = f"/v3/{MAILGUN_DOMAIN}/messages"
    verify_method = "POST"
    validation_status = 400

    def dsn(self, key: str | None = None) -> str:
        return f"{self.scheme}://{key or self.key}:{MAILGUN_DOMAIN}@127.0.0.1:{self.server.port}"

    def authorized(self, request: Request) -> bool:
        expected = base64.b64encode(f"api:{self.key}".encode()).decode()
        return request.headers.get("Authorization") == f"Basic {expected}"

    def unauthorized(self, request: Request) -> tuple[str, int, dict[str, str]]:
        return "Forbidden", 401, {"Content-Type": "text/plain"}

    def error_body(self, status: int, text: str, field_name: str | None = None) -> tuple[str, str]:
        if status == 401:
            return "Forbidden", "text/plain"
        return json.dumps({"message": text}), "application/json"

    def _verify(self, request: Request) -> Response:
        return self._send(request)  # the messages URL: an empty POST proves the key

    def parse(self, request: Request) -> Received:
        form = request.form
        if not form.get("from"):
            raise Invalid("'from' parameter is missing")
        if not form.getlist("to"):
            raise Invalid("'to' parameter is missing")
        if not form.get("text") and not form.get("html"):
            raise Invalid(
                "Need at least one of 'text', 'html', 'amp-html' or 'template' "
                "parameters specified"
            )
        files = [
            (
                part.filename or "",
                part.read(),
                part.mimetype,
                part.filename if kind == "inline" else None,
            )
            for kind in ("attachment", "inline")
            for part in request.files.getlist(kind)
        ]
        headers = {k[2:]: v for k, v in form.items(multi=True) if k.startswith("h:")}
        return Received(
            sender=form["from"],
            to=form.getlist("to"),
            cc=form.getlist("cc"),
            bcc=form.getlist("bcc"),
            reply_to=_split(headers.pop("Reply-To", None)),
            subject=form.get("subject", ""),
            text=form.get("text"),
            html=form.get("html"),
            headers=headers,
            attachments=files,
            tags=form.getlist("o:tag"),
            metadata={k[2:]: v for k, v in form.items(multi=True) if k.startswith("v:")},
        )

    def accepted(self, received: Received) -> Response:
        received.message_id = f"<{received.message_id}@{MAILGUN_DOMAIN}>"
        body = {"id": received.message_id, "message": "Queued. Thank you."}
        return Response(json.dumps(body), 200, content_type="application/json")
