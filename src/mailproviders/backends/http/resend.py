"""Resend backend: ``POST /emails`` of the Resend API, one request per message.

API reference: https://resend.com/docs/api-reference/emails/send-email
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from mailproviders.backends.base import NOT_GIVEN, NotGiven
from mailproviders.backends.http.base import APIBackend, Call, reveal
from mailproviders.backends.http.translate import APIMessage, Features, name_value_tags

if TYPE_CHECKING:
    import httpx

    from mailproviders.message import EmailMessage

__all__ = ["EmailBackend"]


class EmailBackend(APIBackend):
    """Send through Resend's email API (``Authorization: Bearer``).

    Resend tags are name/value pairs: ``message.metadata`` items become tags, and one
    ``message.tags`` entry becomes the tag ``tag``; names and values may hold ASCII
    letters, digits, ``_`` and ``-``. ``open()`` checks the key with ``GET /domains``; a
    sending-only key, which Resend answers with 401 ``restricted_api_key``, passes.
    """

    features = Features("Resend", max_tags=1, name_value_tags=True)
    default_endpoint = "https://api.resend.com"

    def __init__(
        self,
        *,
        alias: str | None = None,
        api_key: str | SecretStr,
        endpoint: str | None = None,
        timeout: float = 30.0,
        fail_silently: bool | NotGiven = NOT_GIVEN,
    ) -> None:
        key = reveal(api_key)
        super().__init__(
            alias=alias,
            endpoint=endpoint,
            timeout=timeout,
            fail_silently=fail_silently,
            secrets=(key,),
        )
        self._key = SecretStr(key)

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._key.get_secret_value()}"}

    def _verify_call(self) -> Call:
        return Call("GET", "/domains")

    def _verified_by(self, response: httpx.Response) -> bool:
        if response.status_code == 401:
            try:
                return bool(response.json().get("name") == "restricted_api_key")
            except (ValueError, AttributeError):
                return False
        return response.is_success

    def _call(self, message: APIMessage) -> Call:
        body: dict[str, Any] = {
            "from": message.sender.formatted,
            "to": [address.formatted for address in message.to],
            "subject": message.subject,
        }
        for key, addresses in (("cc", message.cc), ("bcc", message.bcc)):
            if addresses:
                body[key] = [address.formatted for address in addresses]
        if message.reply_to:
            body["reply_to"] = [address.formatted for address in message.reply_to]
        if message.text is not None:
            body["text"] = message.text
        if message.html is not None:
            body["html"] = message.html
        if message.headers:
            body["headers"] = message.headers
        if message.attachments:
            body["attachments"] = [
                {
                    "filename": item.filename or "attachment",
                    "content": base64.b64encode(item.content).decode("ascii"),
                    "content_type": item.mimetype,
                    **({"content_id": item.content_id} if item.content_id else {}),
                }
                for item in message.attachments
            ]
        tags = name_value_tags(message.tags, message.metadata)
        if tags:
            body["tags"] = [{"name": name, "value": value} for name, value in tags]
        return Call("POST", "/emails", json=body)

    def _accepted(self, message: EmailMessage, response: httpx.Response) -> None:
        message.provider_message_id = response.json().get("id")  # type: ignore[attr-defined]

    def _error_parts(self, body: Any) -> tuple[str | None, str, dict[str, str]]:
        if isinstance(body, dict):
            return body.get("name") or None, str(body.get("message", "")), {}
        return None, str(body), {}
