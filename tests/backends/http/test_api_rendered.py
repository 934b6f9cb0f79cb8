"""A RenderedMessage through the HTTP API backends: raw MIME where the API takes it (SES
``Content.Raw``, Mailgun ``messages.mime``), else a clear error naming the alias.

Mailgun's ``POST /v3/{domain}/messages.mime`` (multipart: ``to`` fields and the ``message``
file, same auth and answers as ``/messages``) follows
https://documentation.mailgun.com/docs/mailgun/api-reference/openapi-final/tag/Messages/.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import httpx
import pytest
from api_fakes import MAILGUN_DOMAIN, FakeAPI
from api_fakes_mailgun import FakeMailgun
from moto.server import ThreadedMotoServer
from werkzeug import Request, Response

import mailproviders
from mailproviders import RenderedMessage, providers
from mailproviders.backends.base import BaseEmailBackend

MODES = ["sync", "async"]
DATA = (
    b"From: Shop <shop@example.com>\n"
    b"To: ann@example.com\n"
    b"Subject: Rendered\n"
    b"X-Order: 42\n"
    b"Message-ID: <raw.1@example.com>\n"
    b"MIME-Version: 1.0\n"
    b"Content-Type: text/plain; charset=utf-8\n"
    b"Content-Transfer-Encoding: 8bit\n"
    b"\n"
    b"Gr\xc3\xbc\xc3\x9fe\n"
)
WIRE = DATA.replace(b"\n", b"\r\n")


def rendered() -> RenderedMessage:
    return RenderedMessage(
        DATA, from_email="shop@example.com", recipients=["ann@example.com", "hidden@example.com"]
    )


def send(backend: BaseEmailBackend, messages: list[RenderedMessage], mode: str) -> int:
    if mode == "sync":
        return backend.send_messages(messages)
    return asyncio.run(backend.asend_messages(messages))


class FakeMailgunMime(FakeMailgun):
    """Mailgun with its ``messages.mime`` endpoint too; raw messages go to ``mime``."""

    def __init__(self) -> None:
        self.mime: list[tuple[list[str], bytes, list[str]]] = []
        super().__init__()
        self.server.expect_request(
            f"/v3/{MAILGUN_DOMAIN}/messages.mime", method="POST"
        ).respond_with_handler(self._mime)

    def _mime(self, request: Request) -> Response:
        self.requests.append(request)
        if not self.authorized(request):
            return Response(*self.unauthorized(request))
        upload = request.files.get("message")
        if not request.form.getlist("to") or upload is None:
            return Response(json.dumps({"message": "'to' and 'message' are required"}), 400)
        self.mime.append(
            (request.form.getlist("to"), upload.read(), request.form.getlist("o:tag"))
        )
        body = {"id": f"<{len(self.mime)}@{MAILGUN_DOMAIN}>", "message": "Queued. Thank you."}
        return Response(json.dumps(body), 200, content_type="application/json")


@pytest.fixture
def mailgun() -> Iterator[FakeMailgunMime]:
    api = FakeMailgunMime()
    try:
        yield api
    finally:
        api.stop()


@pytest.mark.parametrize("mode", MODES)
def test_mailgun_sends_the_raw_mime(mailgun: FakeMailgunMime, mode: str) -> None:
    mailproviders.configure(EMAIL_PROVIDERS={"mg": mailgun.dsn()})
    message = rendered()
    message.tags = ["receipt"]  # type: ignore[attr-defined]
    assert send(providers["mg"], [message], mode) == 1
    assert mailgun.mime == [(["ann@example.com", "hidden@example.com"], WIRE, ["receipt"])]
    assert message.provider_message_id == f"<1@{MAILGUN_DOMAIN}>"  # type: ignore[attr-defined]
    assert mailgun.received == []  # not the form-fields endpoint


@pytest.mark.parametrize("name", ["postmark", "sendgrid", "resend"])
@pytest.mark.parametrize("mode", MODES)
def test_apis_without_raw_mime_refuse_it_clearly(
    make_api: Callable[[str], FakeAPI], name: str, mode: str
) -> None:
    api = make_api(name)
    mailproviders.configure(EMAIL_PROVIDERS={"transactional": api.dsn()})
    with pytest.raises(ValueError, match="raw MIME is not supported") as info:
        send(providers["transactional"], [rendered()], mode)
    assert "'transactional'" in str(info.value)
    assert getattr(info.value, "sent_count", None) == 0
    assert api.requests == []  # refused before any request


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.mark.parametrize("mode", MODES)
def test_ses_sends_the_raw_mime(moto_endpoint: str, mode: str) -> None:
    httpx.post(f"{moto_endpoint}/moto-api/reset")
    keys: dict[str, Any] = {"aws_access_key_id": "AKIAEXAMPLE1", "aws_secret_access_key": "s"}
    client = boto3.client("sesv2", region_name="eu-west-1", endpoint_url=moto_endpoint, **keys)
    client.create_email_identity(EmailIdentity="example.com")
    options = {
        "access_key_id": "AKIAEXAMPLE1",
        "secret_access_key": "s",
        "region": "eu-west-1",
        "endpoint": moto_endpoint,
    }
    mailproviders.configure(EMAIL_PROVIDERS={"aws": {"BACKEND": "ses", "OPTIONS": options}})
    message = rendered()
    assert send(providers["aws"], [message], mode) == 1
    data = httpx.get(f"{moto_endpoint}/moto-api/data.json").json()
    [kept] = data["ses"]["RawMessage"]
    assert kept["raw_data"].encode() == WIRE
    assert kept["source"] == "shop@example.com"
    assert set(kept["destinations"]) == {"ann@example.com", "hidden@example.com"}
    assert kept["id"] == message.provider_message_id  # type: ignore[attr-defined]
