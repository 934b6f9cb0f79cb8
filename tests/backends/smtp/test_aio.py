"""The SMTP contract, run through the sync methods and the native async ones (aiosmtplib)
against the same real servers: same results, same exceptions, same reports."""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from pathlib import Path

import pytest

from mailproviders.backends.smtp import EmailBackend
from mailproviders.exceptions import possibly_sent_messages_of, sent_messages_of
from mailproviders.message import EmailMessage
from smtp_fixtures import Send, ServerFactory, SMTPTestServer, TLSCertificates, make_certificates


def make_message(n: int = 0, to: list[str] | None = None) -> EmailMessage:
    return EmailMessage(
        f"Subject {n}",
        f"Body of message {n}\n.leading dot\n",
        "sender@example.com",
        ["to@example.com"] if to is None else to,
    )


def subjects(server: SMTPTestServer) -> list[str]:
    return [str(received.parsed()["Subject"]) for received in server.messages]


@pytest.mark.parametrize(
    "fixture", ["smtp_server", "smtp_starttls_server", "smtp_ssl_server", "smtp_auth_server"]
)
def test_delivery(fixture: str, send: Send, request: pytest.FixtureRequest) -> None:
    server: SMTPTestServer = request.getfixturevalue(fixture)
    messages = [make_message(1, to=["a@example.com", "b@example.com"]), make_message(2)]
    assert send(EmailBackend(**server.options()), messages) == 2
    assert subjects(server) == ["Subject 1", "Subject 2"]
    assert server.messages[0].rcpt_tos == ["a@example.com", "b@example.com"]
    assert server.messages[0].parsed().get_content() == "Body of message 1\n.leading dot\n"
    assert server.connection_count == 1
    assert server.auth_attempts == (1 if fixture == "smtp_auth_server" else 0)
    assert [m.refused_recipients for m in messages] == [{}, {}]


@pytest.mark.parametrize("tls", ["starttls", "ssl"])
def test_untrusted_certificate_fails(
    tls: str, send: Send, fault_smtp_server: ServerFactory, tmp_path: Path, tls_ca: TLSCertificates
) -> None:
    server = fault_smtp_server(tls=tls, certificates=make_certificates(tmp_path))
    backend = EmailBackend(**server.options(ssl_cafile=str(tls_ca.ca_file)))
    with pytest.raises(ssl.SSLCertVerificationError) as info:
        send(backend, [make_message()])
    assert info.value.sent_count == 0  # type: ignore[attr-defined]
    assert server.messages == []


def test_client_certificate(
    send: Send, fault_smtp_server: ServerFactory, tls_ca: TLSCertificates, tmp_path: Path
) -> None:
    server = fault_smtp_server(tls="ssl", require_client_cert=True)
    client = tls_ca.ca.issue_cert("client@example.com")
    certfile = tmp_path / "client.pem"
    client.private_key_and_cert_chain_pem.write_to_path(str(certfile))
    assert send(EmailBackend(**server.options(ssl_certfile=str(certfile))), [make_message()]) == 1
    assert len(server.messages) == 1


def test_use_tls_requires_starttls(
    send: Send, smtp_server: SMTPTestServer, tls_ca: TLSCertificates
) -> None:
    backend = EmailBackend(**smtp_server.options(use_tls=True, ssl_cafile=str(tls_ca.ca_file)))
    with pytest.raises(smtplib.SMTPNotSupportedError, match="does not offer STARTTLS"):
        send(backend, [make_message()])
    assert smtp_server.mail_count == 0


def test_auth_failure(send: Send, smtp_auth_server: SMTPTestServer) -> None:
    backend = EmailBackend(**smtp_auth_server.options(password="wrong"))
    with pytest.raises(smtplib.SMTPAuthenticationError) as info:
        send(backend, [make_message()])
    assert info.value.sent_count == 0  # type: ignore[attr-defined]
    assert "wrong" not in str(info.value)
    assert smtp_auth_server.messages == []


@pytest.mark.parametrize("missing", ["username", "password"])
def test_no_login_without_both_credentials(
    missing: str, send: Send, smtp_auth_server: SMTPTestServer
) -> None:
    backend = EmailBackend(**smtp_auth_server.options(**{missing: None}))
    assert send(backend, [make_message()]) == 1
    assert smtp_auth_server.auth_attempts == 0


def test_one_refused_recipient(
    send: Send, fault_smtp_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    server = fault_smtp_server(refuse_rcpt=["bad@example.com"])
    message = make_message(1, to=["good@example.com", "Bad <bad@example.com>"])
    with caplog.at_level(logging.WARNING, logger="mailproviders"):
        assert send(EmailBackend(**server.options()), [message]) == 1
    [(address, (code, reply))] = message.refused_recipients.items()
    assert (address, code) == ("Bad <bad@example.com>", 550)
    assert "mailbox unavailable" in reply
    assert server.messages[0].rcpt_tos == ["good@example.com"]
    assert "bad@example.com" in caplog.records[-1].getMessage()


def test_all_recipients_refused(send: Send, fault_smtp_server: ServerFactory) -> None:
    server = fault_smtp_server(refuse_rcpt=["bad@example.com"])
    message = make_message(to=["bad@example.com"])
    with pytest.raises(smtplib.SMTPRecipientsRefused) as info:
        send(EmailBackend(**server.options()), [message])
    assert info.value.recipients["bad@example.com"][0] == 550
    assert message.refused_recipients["bad@example.com"][0] == 550
    assert info.value.sent_count == 0  # type: ignore[attr-defined]
    assert sent_messages_of(info.value) == []
    assert server.messages == []


@pytest.mark.parametrize(
    ("faults", "error"),
    [
        (
            {"mail_reply": "451 4.3.0 try again later", "mail_reply_at": 3},
            smtplib.SMTPSenderRefused,
        ),
        ({"mail_reply": "421 4.3.2 going down", "mail_reply_at": 3}, smtplib.SMTPSenderRefused),
        ({"drop_after_data_at": 3}, smtplib.SMTPServerDisconnected),
    ],
    ids=["451-mail", "421-mail", "drop-after-data"],
)
def test_third_of_five_fails(
    faults: dict[str, object], error: type[Exception], send: Send, fault_smtp_server: ServerFactory
) -> None:
    server = fault_smtp_server(**faults)
    messages = [make_message(n) for n in range(5)]
    with pytest.raises(error) as info:
        send(EmailBackend(**server.options()), (m for m in messages))
    assert info.value.sent_count == 2  # type: ignore[attr-defined]
    assert sent_messages_of(info.value) == messages[:2]
    assert sent_messages_of(info.value)[0] is messages[0]  # the caller's objects
    assert any("2 messages were accepted" in note for note in info.value.__notes__)
    assert subjects(server) == ["Subject 0", "Subject 1"]
    dropped = "drop_after_data_at" in faults
    assert possibly_sent_messages_of(info.value) == (messages[2:3] if dropped else [])


def test_refusal_keeps_an_opened_session(fault_smtp_server: ServerFactory) -> None:
    server = fault_smtp_server(mail_reply="451 4.3.0 later", mail_reply_at=1)

    async def main() -> int:
        async with EmailBackend(**server.options()) as backend:
            with pytest.raises(smtplib.SMTPSenderRefused):
                await backend.asend_messages([make_message(1)])
            return await backend.asend_messages([make_message(2)])

    assert asyncio.run(main()) == 1
    assert server.connection_count == 1
    assert subjects(server) == ["Subject 2"]


def test_stalled_server_times_out(send: Send, fault_smtp_server: ServerFactory) -> None:
    server = fault_smtp_server(stall_at="MAIL")
    with pytest.raises(smtplib.SMTPServerDisconnected) as info:
        send(EmailBackend(**server.options(timeout=0.5)), [make_message()])
    assert isinstance(info.value.__context__, TimeoutError)
    assert any("timeout=0.5 s" in note for note in info.value.__notes__)


def test_smtputf8(send: Send, smtp_server: SMTPTestServer) -> None:
    assert send(EmailBackend(**smtp_server.options()), [make_message(to=["jürgen@example.com"])])
    assert smtp_server.messages[0].smtputf8
    assert smtp_server.messages[0].rcpt_tos == ["jürgen@example.com"]


def test_smtputf8_not_offered(send: Send, fault_smtp_server: ServerFactory) -> None:
    server = fault_smtp_server(smtputf8=False)
    with pytest.raises(ValueError, match=r"jürgen@example\.com.*SMTPUTF8"):
        send(EmailBackend(**server.options()), [make_message(to=["jürgen@example.com"])])
    assert server.mail_count == 0


def test_connection_refused(send: Send, smtp_server: SMTPTestServer) -> None:
    port = smtp_server.port
    smtp_server.stop()
    with pytest.raises(ConnectionRefusedError) as info:
        send(EmailBackend(host="127.0.0.1", port=port), [make_message()])
    assert info.value.sent_count == 0  # type: ignore[attr-defined]
    assert any("while connecting" in note for note in info.value.__notes__)


def test_async_connection_is_separate_from_the_sync_one(smtp_server: SMTPTestServer) -> None:
    backend = EmailBackend(**smtp_server.options())

    async def main() -> None:
        await backend.aopen()
        await backend.aopen()  # idempotent
        assert backend.async_connection is not None
        assert backend.connection is None
        assert backend.send_messages([make_message(1)]) == 1  # its own connection
        assert await backend.asend_messages([make_message(2)]) == 1
        await backend.aclose()
        assert backend.async_connection is None

    asyncio.run(main())
    assert smtp_server.connection_count == 2


def test_aclose_also_closes_a_sync_connection(smtp_server: SMTPTestServer) -> None:
    backend = EmailBackend(**smtp_server.options())
    backend.open()
    assert backend.send_messages([make_message(1)]) == 1
    assert backend.connection is not None

    async def main() -> None:
        assert await backend.asend_messages([make_message(2)]) == 1
        await backend.aclose()

    asyncio.run(main())
    assert backend.connection is None
    assert backend.async_connection is None
    assert subjects(smtp_server) == ["Subject 1", "Subject 2"]
