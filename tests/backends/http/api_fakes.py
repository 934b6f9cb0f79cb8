"""Local stand-ins for four email APIs, each a real HTTP server on 127.0.0.1
(pytest-httpserver, threaded) that keeps the provider's documented contract: the same
paths, authentication header, body format, success answer and error bodies.

Contracts, written from the providers' public API references:

- Postmark — https://postmarkapp.com/developer/api/email-api (POST /email, JSON,
  ``X-Postmark-Server-Token``; 200 with ``MessageID``/``ErrorCode``/``Message``; 401 for a
  bad token; 422 with ``ErrorCode`` 300 for an invalid request, 406 for inactive
  recipients) and https://postmarkapp.com/developer/api/server-api (GET /server).
- SendGrid — https://www.twilio.com/docs/sendgrid/api-reference/mail-send/mail-send
  (POST /v3/mail/send, JSON, ``Authorization: Bearer``; 202 with an empty body and
  ``X-Message-Id``; 400/401 with ``{"errors": [{"message", "field"}]}``) and
  GET /v3/scopes.
- Resend — https://resend.com/docs/api-reference/emails/send-email and
  https://resend.com/docs/api-reference/errors (POST /emails, JSON, ``Authorization:
  Bearer``; 200 with ``id``; errors ``{"statusCode", "message", "name"}``: 401
  ``missing_api_key``/``restricted_api_key``, 403 ``invalid_api_key``, 422
  ``validation_error``, 429 ``rate_limit_exceeded``).
- Mailgun — https://documentation.mailgun.com/docs/mailgun/api-reference/openapi-final/tag/Messages/
  (POST /v3/{domain}/messages, form fields or multipart, HTTP Basic ``api:KEY``; 200 with
  ``id`` and ``message``; 400 ``{"message"}``; 401 ``Forbidden`` as plain text).

Each server records what it accepted as :class:`Received` (one shape for all four), and
can be told to answer with a fault (:meth:`FakeAPI.fail`) or to keep a request without
answering (:meth:`FakeAPI.hold`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from api_fakes_base import MAILGUN_DOMAIN, FakeAPI, Invalid, Received, _json, _split
from api_fakes_mailgun import FakeMailgun
from werkzeug import Request, Response

__all__ = ["FAKES", "MAILGUN_DOMAIN", "FakeAPI", "Received"]


class FakePostmark(FakeAPI):
    name, scheme, send_path, verify_path = "postmark", "postmark+api", "/email", "/server"

    def authorized(self, request: Request) -> bool:
        return request.headers.get("X-Postmark-Server-Token") == self.key

    def error_body(self, status: int, text: str, field_name: str | None = None) -> tuple[str, str]:
        codes = {401: 10, 422: 300, 429: 429}
        return json.dumps({"ErrorCode": codes.get(status, 0), "Message": text}), "application/json"

    def parse(self, request: Request) -> Received:
        data = _json(request)
        if not data.get("From") or not data.get("To"):
            raise Invalid("Invalid 'From' or 'To' address.")
        if not data.get("TextBody") and not data.get("HtmlBody"):
            raise Invalid("Provide either email TextBody or HtmlBody or both.")
        return Received(
            sender=data["From"],
            to=_split(data["To"]),
            cc=_split(data.get("Cc")),
            bcc=_split(data.get("Bcc")),
            reply_to=_split(data.get("ReplyTo")),
            subject=data.get("Subject", ""),
            text=data.get("TextBody"),
            html=data.get("HtmlBody"),
            headers={h["Name"]: h["Value"] for h in data.get("Headers", [])},
            attachments=[
                (
                    a["Name"],
                    base64.b64decode(a["Content"]),
                    a["ContentType"],
                    a["ContentID"].removeprefix("cid:") if a.get("ContentID") else None,
                )
                for a in data.get("Attachments", [])
            ],
            tags=[data["Tag"]] if data.get("Tag") else [],
            metadata=data.get("Metadata", {}),
        )

    def accepted(self, received: Received) -> Response:
        everyone = received.to + received.cc + received.bcc
        inactive = [address for address in everyone if address.startswith("inactive")]
        if inactive and len(inactive) == len(everyone):
            text = (
                "You tried to send to recipient(s) that have been marked as inactive. Found "
                f"inactive addresses: {', '.join(inactive)}. Inactive recipients are ones that "
                "have generated a hard bounce, a spam complaint, or a manual suppression."
            )
            self.received.remove(received)
            body = json.dumps({"ErrorCode": 406, "Message": text})
            return Response(body, 422, content_type="application/json")
        answer: dict[str, Any] = {
            "To": ", ".join(received.to),
            "SubmittedAt": "2026-11-30T12:00:00.0000000Z",
            "MessageID": received.message_id,
            "ErrorCode": 0,
            "Message": "OK",
        }
        if inactive:
            answer["ErrorCode"] = 406
            answer["Message"] = (
                f"Message OK, but will not deliver to these inactive addresses: "
                f"{', '.join(inactive)}. Inactive recipients are ones that have generated a "
                "hard bounce or a spam complaint."
            )
        return Response(json.dumps(answer), 200, content_type="application/json")

    def verified(self, request: Request) -> Response:
        body = json.dumps({"ID": 1, "Name": "Staging", "ApiTokens": ["***"]})
        return Response(body, 200, content_type="application/json")


class FakeSendGrid(FakeAPI):
    name, scheme, send_path, verify_path = (
        "sendgrid",
        "sendgrid+api",
        "/v3/mail/send",
        "/v3/scopes",
    )
    validation_status = 400

    def error_body(self, status: int, text: str, field_name: str | None = None) -> tuple[str, str]:
        errors = [{"message": text, "field": field_name, "help": None}]
        return json.dumps({"errors": errors}), "application/json"

    def parse(self, request: Request) -> Received:
        data = _json(request)
        people = data.get("personalizations") or [{}]
        if not people[0].get("to"):
            raise Invalid(
                "The to array is required for all personalization objects.",
                "personalizations.0.to",
            )
        if not (data.get("from") or {}).get("email"):
            raise Invalid("The from object must be provided for every email send.", "from")
        content = {c["type"]: c["value"] for c in data.get("content", []) if c.get("value")}
        if not content:
            raise Invalid(
                "Unless a valid template_id is provided, the content parameter is required.",
                "content",
            )

        def who(entries: list[dict[str, str]]) -> list[str]:
            return [
                f"{e['name']} <{e['email']}>" if e.get("name") else e["email"] for e in entries
            ]

        reply = [data["reply_to"]] if data.get("reply_to") else data.get("reply_to_list", [])
        return Received(
            sender=who([data["from"]])[0],
            to=who(people[0]["to"]),
            cc=who(people[0].get("cc", [])),
            bcc=who(people[0].get("bcc", [])),
            reply_to=who(reply),
            subject=data.get("subject", ""),
            text=content.get("text/plain"),
            html=content.get("text/html"),
            headers=data.get("headers", {}),
            attachments=[
                (a["filename"], base64.b64decode(a["content"]), a["type"], a.get("content_id"))
                for a in data.get("attachments", [])
            ],
            tags=data.get("categories", []),
            metadata=data.get("custom_args", {}),
        )

    def accepted(self, received: Received) -> Response:
        return Response("", 202, headers={"X-Message-Id": received.message_id})

    def verified(self, request: Request) -> Response:
        return Response(
            json.dumps({"scopes": ["mail.send"]}), 200, content_type="application/json"
        )


class FakeResend(FakeAPI):
    name, scheme, send_path, verify_path = "resend", "resend+api", "/emails", "/domains"

    def error_body(self, status: int, text: str, field_name: str | None = None) -> tuple[str, str]:
        names = {
            401: "missing_api_key",
            403: "invalid_api_key",
            422: "validation_error",
            429: "rate_limit_exceeded",
            500: "application_error",
        }
        body = {
            "statusCode": status,
            "message": text,
            "name": names.get(status, "application_error"),
        }
        return json.dumps(body), "application/json"

    def unauthorized(self, request: Request) -> tuple[str, int, dict[str, str]]:
        if "Authorization" not in request.headers:
            body, content_type = self.error_body(
                401, "Missing API key in the authorization header."
            )
            return body, 401, {"Content-Type": content_type}
        body, content_type = self.error_body(403, "API key is invalid")
        return body, 403, {"Content-Type": content_type}

    def parse(self, request: Request) -> Received:
        data = _json(request)
        for name in ("from", "to", "subject"):
            if not data.get(name):
                raise Invalid(f"Missing `{name}` field.")
        if not data.get("text") and not data.get("html"):
            raise Invalid("Missing `html` or `text` field.")
        tags = {t["name"]: t["value"] for t in data.get("tags", [])}
        return Received(
            sender=data["from"],
            to=data["to"],
            cc=data.get("cc", []),
            bcc=data.get("bcc", []),
            reply_to=data.get("reply_to", []),
            subject=data["subject"],
            text=data.get("text"),
            html=data.get("html"),
            headers=data.get("headers", {}),
            attachments=[
                (
                    a["filename"],
                    base64.b64decode(a["content"]),
                    a.get("content_type", ""),
                    a.get("content_id"),
                )
                for a in data.get("attachments", [])
            ],
            tags=[tags.pop("tag")] if "tag" in tags else [],
            metadata=tags,
        )

    def accepted(self, received: Received) -> Response:
        return Response(
            json.dumps({"id": received.message_id}), 200, content_type="application/json"
        )

    def verified(self, request: Request) -> Response:
        if self.sending_only:
            body, _ = self.error_body(401, "This API key is restricted to only send emails")
            body = body.replace("missing_api_key", "restricted_api_key")
            return Response(body, 401, content_type="application/json")
        return Response(json.dumps({"data": []}), 200, content_type="application/json")


FAKES: dict[str, Callable[[], FakeAPI]] = {
    "postmark": FakePostmark,
    "sendgrid": FakeSendGrid,
    "resend": FakeResend,
    "mailgun": FakeMailgun,
}
