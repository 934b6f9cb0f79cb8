"""The Amazon SES backend (SES v2 ``SendEmail`` with ``Content.Raw``, through boto3).

Success paths run against moto in server mode: a real HTTP server on 127.0.0.1 emulating
SES v2, with boto3 pointed at it by the DSN's host; the raw MIME that moto stored is read
back from its ``/moto-api/data.json``. Tags, the configuration set and the faults moto
cannot produce (throttling, 5xx, a request never answered) run against a local server
speaking SES v2's REST-JSON contract
(https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_SendEmail.html and
https://docs.aws.amazon.com/ses/latest/APIReference-V2/CommonErrors.html: errors are
named by the ``x-amzn-ErrorType`` header, with ``{"message": …}`` as body).
"""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

import mailproviders
from mailproviders import EmailMessage, EmailMultiAlternatives, providers, send_mail
from mailproviders.backends.http.errors import APIError, APIUnavailable
from mailproviders.exceptions import possibly_sent_messages_of

KEY_ID, SECRET = "AKIAEXAMPLE123", "ses-secret/access+key"
QUOTED_SECRET = SECRET.replace("/", "%2F").replace("+", "%2B")
MODES = ["sync", "async"]


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def ses(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh emulated SES account with example.com verified; returns the DSN host."""
    httpx.post(f"{moto_endpoint}/moto-api/reset")
    client = boto3.client(
        "sesv2",
        region_name="eu-west-1",
        endpoint_url=moto_endpoint,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    )
    client.create_email_identity(EmailIdentity="example.com")
    return moto_endpoint.removeprefix("http://")


def stored(moto_endpoint: str) -> list[dict[str, Any]]:
    """What moto stored of each raw message: id, source, destinations, raw_data."""
    data = httpx.get(f"{moto_endpoint}/moto-api/data.json").json()
    return list(data["ses"]["RawMessage"])


def ses_dsn(host: str, **query: str) -> str:
    params = "&".join(f"{k}={v}" for k, v in {"region": "eu-west-1", **query}.items())
    return f"ses+api://{KEY_ID}:{QUOTED_SECRET}@{host}?{params}"


@pytest.mark.parametrize("mode", MODES)
def test_the_raw_mime_reaches_ses(
    ses: str, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setenv("EMAIL_PROVIDERS__aws", ses_dsn(ses))
    mailproviders.configure()
    message = EmailMultiAlternatives(
        "Grüße",
        "Plain",
        "Shop <shop@example.com>",
        ["ann@example.com"],
        cc=["cc@example.com"],
        bcc=["hidden@example.com"],
        headers={"X-Campaign": "spring"},
    )
    message.attach_alternative("<p>HTML</p>", "text/html")
    message.attach("a.csv", "x,y\n1,2\n", "text/csv")
    backend = providers["aws"]
    if mode == "sync":
        assert backend.send_messages([message]) == 1
    else:
        assert asyncio.run(backend.asend_messages([message])) == 1
    [kept] = stored(moto_endpoint)
    assert kept["id"] == message.provider_message_id  # type: ignore[attr-defined]
    assert kept["source"] == "shop@example.com"
    assert {"ann@example.com", "cc@example.com", "hidden@example.com"} <= set(kept["destinations"])
    assert "\r\n" in kept["raw_data"]  # CRLF, as SES expects
    mime = email.message_from_string(
        kept["raw_data"].replace("\r\n", "\n"), policy=email.policy.default
    )
    assert (str(mime["Subject"]), str(mime["To"]), str(mime["Cc"])) == (
        "Grüße",
        "ann@example.com",
        "cc@example.com",
    )
    assert mime["Bcc"] is None and mime["X-Campaign"] == "spring"
    body = mime.get_body(("html",))
    assert body is not None and body.get_content().strip() == "<p>HTML</p>"
    [attachment] = list(mime.iter_attachments())
    assert attachment.get_filename() == "a.csv" and attachment.get_content() == "x,y\n1,2\n"


def test_send_mail_and_verify_against_moto(ses: str, moto_endpoint: str) -> None:
    mailproviders.configure(EMAIL_PROVIDERS={"aws": ses_dsn(ses)})
    with providers.create_connection("aws"):  # ListEmailIdentities: sends nothing
        pass
    assert stored(moto_endpoint) == []
    assert send_mail("Hi", "Body", "shop@example.com", ["a@example.com"], using="aws") == 1
    refused = EmailMessage("Hi", "Body", "someone@unverified.example", ["a@example.com"])
    with pytest.raises(APIError) as caught:
        providers["aws"].send_messages([refused])
    assert caught.value.code == "MessageRejected" and not isinstance(caught.value, OSError)
    assert SECRET not in str(caught.value) and KEY_ID not in repr(providers["aws"])


class FakeSES:
    """SES v2's REST-JSON contract on a local server, recording each SendEmail body."""

    def __init__(self) -> None:
        self.server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
        self.bodies: list[dict[str, Any]] = []
        self.fault: tuple[int, str, dict[str, str]] | None = None
        self.released = threading.Event()
        self.holding = False
        self.server.expect_request(
            "/v2/email/outbound-emails", method="POST"
        ).respond_with_handler(self._send)
        for path, method in (
            ("/v2/email/identities", "GET"),
            ("/v2/email/list-identities", "POST"),
        ):
            # ListEmailIdentities: the path botocore uses depends on its version
            self.server.expect_request(path, method=method).respond_with_handler(self._identities)
        self.server.start()

    def _error(self, status: int, code: str, headers: dict[str, str] | None = None) -> Response:
        body = json.dumps({"message": f"{code} (simulated)"})
        headers = {"x-amzn-ErrorType": code, **(headers or {})}
        return Response(body, status, headers=headers, content_type="application/json")

    def _send(self, request: Request) -> Response:
        if self.fault is not None:
            return self._error(*self.fault)
        self.bodies.append(json.loads(request.get_data()))
        if self.holding:
            self.released.wait(30)
        return Response(json.dumps({"MessageId": f"m-{len(self.bodies)}"}), 200)

    def _identities(self, request: Request) -> Response:
        if self.fault is not None:
            return self._error(*self.fault)
        return Response(json.dumps({"EmailIdentities": []}), 200)

    def stop(self) -> None:
        self.released.set()
        self.server.stop()


@pytest.fixture
def fake_ses() -> Iterator[FakeSES]:
    server = FakeSES()
    yield server
    server.stop()


def test_tags_metadata_and_configuration_set(fake_ses: FakeSES) -> None:
    host = f"127.0.0.1:{fake_ses.server.port}"
    mailproviders.configure(EMAIL_PROVIDERS={"aws": ses_dsn(host, configuration_set="tracked")})
    message = EmailMessage(
        "Hi", "Body", "shop@example.com", ["a@example.com"], bcc=["b@example.com"]
    )
    message.tags = ["welcome"]  # type: ignore[attr-defined]
    message.metadata = {"order": "42"}  # type: ignore[attr-defined]
    assert providers["aws"].send_messages([message]) == 1
    [body] = fake_ses.bodies
    assert body["EmailTags"] == [
        {"Name": "tag", "Value": "welcome"},
        {"Name": "order", "Value": "42"},
    ]
    assert body["ConfigurationSetName"] == "tracked"
    assert body["Destination"] == {
        "ToAddresses": ["a@example.com"],
        "BccAddresses": ["b@example.com"],
    }
    raw = base64.b64decode(body["Content"]["Raw"]["Data"])
    assert b"Subject: Hi\r\n" in raw and b"b@example.com" not in raw
    assert message.provider_message_id == "m-1"  # type: ignore[attr-defined]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("status", "code", "transient"),
    [
        (400, "MessageRejected", False),
        (429, "TooManyRequestsException", True),
        (500, "InternalFailure", True),
    ],
)
def test_ses_errors_are_classified(
    fake_ses: FakeSES,
    caplog: pytest.LogCaptureFixture,
    mode: str,
    status: int,
    code: str,
    transient: bool,
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_ses.fault = (status, code, {"Retry-After": "3"} if status == 429 else {})
    mailproviders.configure(EMAIL_PROVIDERS={"aws": ses_dsn(f"127.0.0.1:{fake_ses.server.port}")})
    backend = providers.create_connection("aws")
    message = EmailMessage("Hi", "Body", "shop@example.com", ["a@example.com"])
    with pytest.raises(APIError) as caught:
        backend.send_messages([message]) if mode == "sync" else asyncio.run(
            backend.asend_messages([message])
        )
    error = caught.value
    assert (error.status, error.code, isinstance(error, OSError)) == (status, code, transient)
    assert error.retry_after == (3.0 if status == 429 else None)
    assert error.sent_count == 0  # type: ignore[attr-defined]
    assert SECRET not in str(error) + repr(error) + caplog.text


def test_ses_connection_failures(refused_endpoint: str, unanswered_endpoint: str) -> None:
    for endpoint in (refused_endpoint, unanswered_endpoint):
        mailproviders.configure(
            EMAIL_PROVIDERS={"aws": ses_dsn(endpoint.removeprefix("http://"), timeout="0.3")}
        )
        message = EmailMessage("Hi", "Body", "shop@example.com", ["a@example.com"])
        with pytest.raises(APIUnavailable) as caught:
            providers.create_connection("aws").send_messages([message])
        assert possibly_sent_messages_of(caught.value) == []


def test_ses_request_never_answered_is_possibly_delivered(fake_ses: FakeSES) -> None:
    fake_ses.holding = True
    mailproviders.configure(
        EMAIL_PROVIDERS={"aws": ses_dsn(f"127.0.0.1:{fake_ses.server.port}", timeout="0.3")}
    )
    message = EmailMessage("Hi", "Body", "shop@example.com", ["a@example.com"])
    with pytest.raises(APIUnavailable) as caught:
        providers["aws"].send_messages([message])
    assert possibly_sent_messages_of(caught.value) == [message]
    assert len(fake_ses.bodies) == 1


def test_verify_accepts_access_denied_but_not_bad_credentials(fake_ses: FakeSES) -> None:
    mailproviders.configure(EMAIL_PROVIDERS={"aws": ses_dsn(f"127.0.0.1:{fake_ses.server.port}")})
    fake_ses.fault = (403, "AccessDeniedException", {})  # a send-only IAM policy
    with providers.create_connection("aws"):
        pass
    fake_ses.fault = (403, "UnrecognizedClientException", {})
    with pytest.raises(APIError) as caught, providers.create_connection("aws"):
        pass
    assert caught.value.code == "UnrecognizedClientException"


def test_failover_from_ses_to_postmark(fake_ses: FakeSES, make_api: Any) -> None:
    postmark = make_api("postmark")
    fake_ses.fault = (503, "ServiceUnavailable", {})
    mailproviders.configure(
        EMAIL_PROVIDERS={
            "default": "failover://ses,postmark",
            "ses": ses_dsn(f"127.0.0.1:{fake_ses.server.port}"),
            "postmark": postmark.dsn(),
        }
    )
    assert send_mail("Hi", "Body", "shop@example.com", ["a@example.com"]) == 1
    assert [r.subject for r in postmark.received] == ["Hi"]
