"""SendGrid backend: ``POST /v3/mail/send`` of the SendGrid v3 API, one request per message.

API reference: https://www.twilio.com/docs/sendgrid/api-reference/mail-send/mail-send
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any, Literal

from pydantic import SecretStr

from mailproviders.backends.base import NOT_GIVEN, NotGiven
from mailproviders.backends.http.base import APIBackend, Call, reveal
from mailproviders.backends.http.translate import Address, APIMessage, Features

if TYPE_CHECKING:
    import httpx

    from mailproviders.message import EmailMessage

__all__ = ["EmailBackend"]

_ENDPOINTS = {"global": "https://api.sendgrid.com", "eu": "https://api.eu.sendgrid.com"}


def _person(address: Address) -> dict[str, str]:
    return {"email": address.email, **({"name": address.name} if address.name else {})}


class EmailBackend(APIBackend):
    """Send through SendGrid's v3 mail send API (``Authorization: Bearer``).

    ``region="eu"`` uses api.eu.sendgrid.com. Up to 10 tags (``categories``),
    ``message.metadata`` as ``custom_args``. SendGrid answers 202 with the message id in
    the ``X-Message-Id`` header and reports no per-recipient status. ``open()`` checks the
    key with ``GET /v3/scopes``.
    """

    features = Features("SendGrid", max_tags=10)
    default_endpoint = _ENDPOINTS["global"]

    def __init__(
        self,
        *,
        alias: str | None = None,
        api_key: str | SecretStr,
        region: Literal["global", "eu"] = "global",
        endpoint: str | None = None,
        timeout: float = 30.0,
        fail_silently: bool | NotGiven = NOT_GIVEN,
    ) -> None:
        key = reveal(api_key)
        super().__init__(
            alias=alias,
            endpoint=endpoint or _ENDPOINTS.get(region, _ENDPOINTS["global"]),
            timeout=timeout,
            fail_silently=fail_silently,
            secrets=(key,),
        )
        self._key = SecretStr(key)
        self.region = region

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._key.get_secret_value()}"}

    def _verify_call(self) -> Call:
        return Call("GET", "/v3/scopes")

    def _call(self, message: APIMessage) -> Call:
        envelope: dict[str, Any] = {"to": [_person(a) for a in message.to]}
        for key, addresses in (("cc", message.cc), ("bcc", message.bcc)):
            if addresses:
                envelope[key] = [_person(a) for a in addresses]
        content = [
            {"type": kind, "value": value}
            for kind, value in (("text/plain", message.text), ("text/html", message.html))
            if value
        ]
        body: dict[str, Any] = {
            "personalizations": [envelope],
            "from": _person(message.sender),
            "subject": message.subject,
            "content": content,
        }
        if len(message.reply_to) == 1:
            body["reply_to"] = _person(message.reply_to[0])
        elif message.reply_to:
            body["reply_to_list"] = [_person(a) for a in message.reply_to]
        if message.attachments:
            body["attachments"] = [
                {
                    "content": base64.b64encode(item.content).decode("ascii"),
                    "type": item.mimetype,
                    "filename": item.filename or "attachment",
                    "disposition": "inline" if item.content_id else "attachment",
                    **({"content_id": item.content_id} if item.content_id else {}),
                }
                for item in message.attachments
            ]
        if message.headers:
            body["headers"] = message.headers
        if message.tags:
            body["categories"] = message.tags
        if message.metadata:
            body["custom_args"] = message.metadata
        return Call("POST", "/v3/mail/send", json=body)

    def _accepted(self, message: EmailMessage, response: httpx.Response) -> None:
        message.provider_message_id = response.headers.get("X-Message-Id")  # type: ignore[attr-defined]

    def _error_parts(self, body: Any) -> tuple[str | None, str, dict[str, str]]:
        if not isinstance(body, dict):
            return None, str(body), {}
        errors = [e for e in body.get("errors", []) if isinstance(e, dict)]
        fields = {str(e["field"]): str(e.get("message", "")) for e in errors if e.get("field")}
        general = [str(e.get("message", "")) for e in errors if not e.get("field")]
        detail = "; ".join(general) or ("invalid fields" if fields else str(body))
        return None, detail, fields
