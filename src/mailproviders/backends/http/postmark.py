"""Postmark backend: ``POST /email`` of the Postmark API, one request per message.

API reference: https://postmarkapp.com/developer/api/email-api
"""

from __future__ import annotations

import base64
import re
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from mailproviders.backends.base import NOT_GIVEN, NotGiven
from mailproviders.backends.http.base import APIBackend, Call, reveal
from mailproviders.backends.http.errors import APIError
from mailproviders.backends.http.translate import APIMessage, Features
from mailproviders.message.addresses import parse_mailbox

if TYPE_CHECKING:
    import httpx

    from mailproviders.message import EmailMessage

__all__ = ["EmailBackend"]

#: Postmark's ErrorCode for recipients marked inactive (bounced, complained, suppressed).
INACTIVE_RECIPIENT = 406
_INACTIVE_RE = re.compile(r"inactive addresses: (.+?)\.(?:\s|$)", re.IGNORECASE)


class EmailBackend(APIBackend):
    """Send through Postmark's email API (``X-Postmark-Server-Token``).

    ``message_stream`` picks the stream (default: the server's ``outbound``). One tag
    (``message.tags``), ``message.metadata`` as ``Metadata``. Recipients Postmark reports
    inactive are recorded in ``message.refused_recipients`` as ``(406, message)``; when
    every recipient is inactive the message fails with :class:`APIError` (HTTP 422).
    ``open()`` checks the token with ``GET /server``.
    """

    features = Features("Postmark", max_tags=1)
    default_endpoint = "https://api.postmarkapp.com"

    def __init__(
        self,
        *,
        alias: str | None = None,
        server_token: str | SecretStr,
        message_stream: str | None = None,
        endpoint: str | None = None,
        timeout: float = 30.0,
        fail_silently: bool | NotGiven = NOT_GIVEN,
    ) -> None:
        token = reveal(server_token)
        super().__init__(
            alias=alias,
            endpoint=endpoint,
            timeout=timeout,
            fail_silently=fail_silently,
            secrets=(token,),
        )
        self._token = SecretStr(token)
        self.message_stream = message_stream

    def _auth_headers(self) -> dict[str, str]:
        return {"X-Postmark-Server-Token": self._token.get_secret_value()}

    def _verify_call(self) -> Call:
        return Call("GET", "/server")

    def _call(self, message: APIMessage) -> Call:
        body: dict[str, Any] = {
            "From": message.sender.formatted,
            "To": ", ".join(address.formatted for address in message.to),
            "Subject": message.subject,
        }
        for key, addresses in (("Cc", message.cc), ("Bcc", message.bcc)):
            if addresses:
                body[key] = ", ".join(address.formatted for address in addresses)
        if message.reply_to:
            body["ReplyTo"] = ", ".join(address.formatted for address in message.reply_to)
        if message.text is not None:
            body["TextBody"] = message.text
        if message.html is not None:
            body["HtmlBody"] = message.html
        if message.headers:
            body["Headers"] = [{"Name": k, "Value": v} for k, v in message.headers.items()]
        if message.attachments:
            body["Attachments"] = [
                {
                    "Name": item.filename or "attachment",
                    "Content": base64.b64encode(item.content).decode("ascii"),
                    "ContentType": item.mimetype,
                    **({"ContentID": f"cid:{item.content_id}"} if item.content_id else {}),
                }
                for item in message.attachments
            ]
        if message.tags:
            body["Tag"] = message.tags[0]
        if message.metadata:
            body["Metadata"] = message.metadata
        if self.message_stream:
            body["MessageStream"] = self.message_stream
        return Call("POST", "/email", json=body)

    def _finish(self, message: EmailMessage, response: httpx.Response) -> None:
        try:
            super()._finish(message, response)
        except APIError as exc:
            if exc.code == str(INACTIVE_RECIPIENT):
                everyone = dict.fromkeys(message.recipients(), (INACTIVE_RECIPIENT, exc.detail))
                message.refused_recipients = _refused(message, exc.detail) or everyone
            raise

    def _accepted(self, message: EmailMessage, response: httpx.Response) -> None:
        body = response.json()
        message.provider_message_id = body.get("MessageID")  # type: ignore[attr-defined]
        if body.get("ErrorCode") == INACTIVE_RECIPIENT:
            message.refused_recipients = _refused(message, str(body.get("Message", "")))

    def _error_parts(self, body: Any) -> tuple[str | None, str, dict[str, str]]:
        if isinstance(body, dict):
            return str(body.get("ErrorCode", "")) or None, str(body.get("Message", "")), {}
        return None, str(body), {}


def _refused(message: EmailMessage, text: str) -> dict[str, tuple[int, str]]:
    """The recipients of ``message`` that Postmark's ``text`` names inactive."""
    match = _INACTIVE_RE.search(text)
    if match is None:
        return {}
    listed = {address.strip().lower() for address in match.group(1).split(",")}
    return {
        address: (INACTIVE_RECIPIENT, text)
        for address in message.recipients()
        if parse_mailbox(address, "To").addr_spec.lower() in listed
    }
