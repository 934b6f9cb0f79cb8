"""Mailgun backend: ``POST /v3/{domain}/messages`` of the Mailgun API, one request per
message, as form fields (a pre-rendered message: ``messages.mime``, its raw MIME).

API reference: https://documentation.mailgun.com/docs/mailgun/api-reference/openapi-final/tag/Messages/
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from pydantic import SecretStr

from mailproviders.backends.base import NOT_GIVEN, NotGiven
from mailproviders.backends.http.base import APIBackend, Call, reveal
from mailproviders.backends.http.translate import APIMessage, Features, tags_and_metadata

if TYPE_CHECKING:
    import httpx

    from mailproviders.message import EmailMessage, RenderedMessage

__all__ = ["EmailBackend"]

_ENDPOINTS = {"us": "https://api.mailgun.net", "eu": "https://api.eu.mailgun.net"}


class EmailBackend(APIBackend):
    """Send through Mailgun's messages API (HTTP Basic ``api:KEY``).

    ``region="eu"`` uses api.eu.mailgun.net. Up to 3 tags (``o:tag``),
    ``message.metadata`` as ``v:`` variables, headers as ``h:`` fields. An inline image
    is sent as ``inline`` with its Content-ID as file name (Mailgun takes the ``cid`` from
    the file name). ``open()`` checks the key with an empty ``POST`` to the messages URL:
    Mailgun checks the key (401) before the fields (400), so a 400 proves the key and
    sends nothing — this also works with a domain sending key.
    """

    features = Features("Mailgun", max_tags=3)
    default_endpoint = _ENDPOINTS["us"]

    def __init__(
        self,
        *,
        alias: str | None = None,
        api_key: str | SecretStr,
        domain: str,
        region: Literal["us", "eu"] = "us",
        endpoint: str | None = None,
        timeout: float = 30.0,
        fail_silently: bool | NotGiven = NOT_GIVEN,
    ) -> None:
        key = reveal(api_key)
        super().__init__(
            alias=alias,
            endpoint=endpoint or _ENDPOINTS.get(region, _ENDPOINTS["us"]),
            timeout=timeout,
            fail_silently=fail_silently,
            secrets=(key,),
        )
        self._key = SecretStr(key)
        self.domain = domain
        self.region = region
        self._path = f"/v3/{quote(domain, safe='')}/messages"

    def _auth_headers(self) -> dict[str, str]:
        token = base64.b64encode(f"api:{self._key.get_secret_value()}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def _verify_call(self) -> Call:
        return Call("POST", self._path, data=[])

    def _verified_by(self, response: httpx.Response) -> bool:
        return response.is_success or response.status_code == 400

    def _call(self, message: APIMessage) -> Call:
        fields = [("from", message.sender.formatted), ("subject", message.subject)]
        for key, addresses in (("to", message.to), ("cc", message.cc), ("bcc", message.bcc)):
            fields += [(key, address.formatted) for address in addresses]
        if message.text is not None:
            fields.append(("text", message.text))
        if message.html is not None:
            fields.append(("html", message.html))
        if message.reply_to:
            fields.append(("h:Reply-To", ", ".join(a.formatted for a in message.reply_to)))
        fields += [(f"h:{name}", value) for name, value in message.headers.items()]
        fields += [("o:tag", tag) for tag in message.tags]
        fields += [(f"v:{key}", value) for key, value in message.metadata.items()]
        files = [
            (
                "inline" if item.content_id else "attachment",
                (item.content_id or item.filename or "attachment", item.content, item.mimetype),
            )
            for item in message.attachments
        ]
        return Call("POST", self._path, data=fields, files=files or None)

    def _raw_call(self, message: RenderedMessage) -> Call:
        """A :class:`RenderedMessage` goes to ``messages.mime`` as it is: the envelope
        recipients as ``to``, the bytes as the ``message`` file, tags and metadata as for
        other messages (Mailgun sets the envelope sender itself)."""
        tags, metadata = tags_and_metadata(message, self.features)
        fields = [("to", address) for _, address in message.envelope().recipients]
        fields += [("o:tag", tag) for tag in tags]
        fields += [(f"v:{key}", value) for key, value in metadata.items()]
        raw = message.as_bytes(linesep="\r\n")
        files = [("message", ("message.mime", raw, "message/rfc822"))]
        return Call("POST", f"{self._path}.mime", data=fields, files=files)

    def _accepted(self, message: EmailMessage, response: httpx.Response) -> None:
        message.provider_message_id = response.json().get("id")  # type: ignore[attr-defined]

    def _error_parts(self, body: Any) -> tuple[str | None, str, dict[str, str]]:
        if isinstance(body, dict):
            return None, str(body.get("message", "")), {}
        return None, str(body), {}
