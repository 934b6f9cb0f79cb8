"""SMTP backend against real aiosmtpd servers (plain, STARTTLS, implicit TLS, AUTH, faults)."""

from __future__ import annotations

import logging
import re
import smtplib
import socket
import ssl
import threading
from pathlib import Path

import pytest

from mailproviders.backends.smtp import EmailBackend
from mailproviders.exceptions import InvalidEmailProvider, sent_messages_of
from mailproviders.legacy import MailProvidersDeprecationWarning
from mailproviders.message import EmailMessage
from smtp_fixtures import ServerFactory, SMTPTestServer, TLSCertificates, make_certificates


def make_message(n: int = 0, to: list[str] | None = None) -> EmailMessage:
    return EmailMessage(
        f"Subject {n}",
        f"Body of message {n}\nsecond line\n",
        "sender@example.com",
        ["to@example.com"] if to is None else to,
    )


def subjects(server: SMTPTestServer) -> list[str]:
    return [str(received.parsed()["Subject"]) for received in server.messages]


def free_closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- delivery and TLS -------------------------------------------------------------------


def test_plain_delivery(smtp_server: SMTPTestServer) -> None:
    message = make_message(1, to=["a@example.com", "b@example.com"])
    assert EmailBackend(**smtp_server.options()).send_messages([message]) == 1
    [received] = smtp_server.messages
    assert received.mail_from == "sender@example.com"
    assert received.rcpt_tos == ["a@example.com", "b@example.com"]
    parsed = received.parsed()
    assert parsed["Subject"] == "Subject 1"
    assert parsed.get_content() == "Body of message 1\nsecond line\n"
    assert message.refused_recipients == {}


@pytest.mark.parametrize("fixture", ["smtp_starttls_server", "smtp_ssl_server"])
def test_tls_delivery_verified_against_ca(fixture: str, request: pytest.FixtureRequest) -> None:
    server: SMTPTestServer = request.getfixturevalue(fixture)
    assert EmailBackend(**server.options()).send_messages([make_message()]) == 1
    assert subjects(server) == ["Subject 0"]


@pytest.mark.parametrize("tls", ["starttls", "ssl"])
def test_untrusted_certificate_fails(
    tls: str, fault_smtp_server: ServerFactory, tmp_path: Path, tls_ca: TLSCertificates
) -> None:
    other = make_certificates(tmp_path)
    server = fault_smtp_server(tls=tls, certificates=other)
    backend = EmailBackend(**server.options(ssl_cafile=str(tls_ca.ca_file)))
    with pytest.raises(ssl.SSLCertVerificationError) as info:
        backend.send_messages([make_message()])
    assert info.value.sent_count == 0  # type: ignore[attr-defined]
    assert server.messages == []


def test_verification_uses_system_store_by_default(smtp_ssl_server: SMTPTestServer) -> None:
    options = smtp_ssl_server.options()
    del options["ssl_cafile"]
    with pytest.raises(ssl.SSLCertVerificationError):
        EmailBackend(**options).send_messages([make_message()])
    assert smtp_ssl_server.messages == []


def test_client_certificate_is_presented_and_server_still_verified(
    fault_smtp_server: ServerFactory, tls_ca: TLSCertificates, tmp_path: Path
) -> None:
    server = fault_smtp_server(tls="ssl", require_client_cert=True)
    client = tls_ca.ca.issue_cert("client@example.com")
    cert_file, key_file = tmp_path / "client.pem", tmp_path / "client.key"
    client.cert_chain_pems[0].write_to_path(str(cert_file))
    client.private_key_pem.write_to_path(str(key_file))
    backend = EmailBackend(
        **server.options(ssl_certfile=str(cert_file), ssl_keyfile=str(key_file))
    )
    assert backend.ssl_context.verify_mode == ssl.CERT_REQUIRED
    assert backend.ssl_context.check_hostname
    assert backend.send_messages([make_message()]) == 1
    with pytest.raises(OSError):
        EmailBackend(**server.options()).send_messages([make_message(2)])
    assert subjects(server) == ["Subject 0"]


def test_use_tls_requires_starttls(smtp_server: SMTPTestServer, tls_ca: TLSCertificates) -> None:
    backend = EmailBackend(**smtp_server.options(use_tls=True, ssl_cafile=str(tls_ca.ca_file)))
    with pytest.raises(smtplib.SMTPNotSupportedError, match="does not offer STARTTLS"):
        backend.send_messages([make_message()])
    assert smtp_server.messages == []
    assert smtp_server.mail_count == 0


# --- authentication ---------------------------------------------------------------------


def test_auth_success(smtp_auth_server: SMTPTestServer) -> None:
    assert EmailBackend(**smtp_auth_server.options()).send_messages([make_message()]) == 1
    assert smtp_auth_server.auth_attempts == 1
    assert len(smtp_auth_server.messages) == 1


def test_auth_failure(smtp_auth_server: SMTPTestServer) -> None:
    backend = EmailBackend(**smtp_auth_server.options(password="wrong"))
    with pytest.raises(smtplib.SMTPAuthenticationError) as info:
        backend.send_messages([make_message()])
    assert info.value.sent_count == 0  # type: ignore[attr-defined]
    assert smtp_auth_server.messages == []
    assert backend.connection is None


@pytest.mark.parametrize("missing", ["username", "password"])
def test_login_skipped_without_both_credentials(
    missing: str, smtp_auth_server: SMTPTestServer
) -> None:
    options = smtp_auth_server.options(**{missing: None})
    assert EmailBackend(**options).send_messages([make_message()]) == 1
    assert smtp_auth_server.auth_attempts == 0


# --- connections ------------------------------------------------------------------------


def test_one_connection_per_call(smtp_server: SMTPTestServer) -> None:
    backend = EmailBackend(**smtp_server.options())
    assert backend.send_messages([make_message(n) for n in range(3)]) == 3
    assert smtp_server.connection_count == 1
    assert backend.connection is None  # the call opened it, the call closed it
    backend.send_messages([make_message(3)])
    assert smtp_server.connection_count == 2
    assert subjects(smtp_server) == [f"Subject {n}" for n in range(4)]


def test_explicit_open_reused_across_calls(smtp_starttls_server: SMTPTestServer) -> None:
    backend = EmailBackend(**smtp_starttls_server.options())
    with backend as entered:
        assert entered is backend
        backend.send_messages([make_message(1)])
        backend.send_messages([make_message(2)])
        backend.open()  # idempotent
        assert backend.connection is not None
    assert backend.connection is None
    assert smtp_starttls_server.connection_count == 1
    assert len(smtp_starttls_server.messages) == 2


def test_empty_input_and_no_recipients_never_connect(smtp_server: SMTPTestServer) -> None:
    backend = EmailBackend(**smtp_server.options())
    assert backend.send_messages([]) == 0
    assert backend.send_messages([make_message(to=[])]) == 0
    assert smtp_server.connection_count == 0
    messages = [make_message(1, to=[]), make_message(2), make_message(3, to=[])]
    assert backend.send_messages(iter(messages)) == 1
    assert subjects(smtp_server) == ["Subject 2"]


def test_ten_threads_share_one_instance(smtp_server: SMTPTestServer) -> None:
    backend = EmailBackend(**smtp_server.options())
    results: list[int] = []
    errors: list[BaseException] = []

    def send(n: int) -> None:
        try:
            results.append(backend.send_messages([make_message(n)]))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert results == [1] * 10
    assert sorted(subjects(smtp_server)) == sorted(f"Subject {n}" for n in range(10))
    for received in smtp_server.messages:
        number = str(received.parsed()["Subject"]).split()[-1]
        assert received.parsed().get_content() == f"Body of message {number}\nsecond line\n"


def test_close_after_server_hung_up(smtp_server: SMTPTestServer) -> None:
    backend = EmailBackend(**smtp_server.options())
    backend.open()
    smtp_server.stop()
    backend.close()
    assert backend.connection is None
    backend.close()


def test_broken_explicit_connection_is_replaced(fault_smtp_server: ServerFactory) -> None:
    server = fault_smtp_server(drop_after_data_at=1)
    backend = EmailBackend(**server.options())
    backend.open()
    with pytest.raises(smtplib.SMTPServerDisconnected):
        backend.send_messages([make_message(1)])
    assert backend.send_messages([make_message(2)]) == 1
    assert subjects(server) == ["Subject 2"]


# --- addresses --------------------------------------------------------------------------


def test_idna_domain_in_envelope(smtp_server: SMTPTestServer) -> None:
    EmailBackend(**smtp_server.options()).send_messages([make_message(to=["user@bücher.de"])])
    assert smtp_server.messages[0].rcpt_tos == ["user@xn--bcher-kva.de"]


def test_invalid_address_fails_before_talking_to_server(smtp_server: SMTPTestServer) -> None:
    messages = [make_message(1), make_message(2, to=["not an address"])]
    with pytest.raises(ValueError, match="not an address") as info:
        EmailBackend(**smtp_server.options()).send_messages(messages)
    assert sent_messages_of(info.value) == [messages[0]]
    assert subjects(smtp_server) == ["Subject 1"]


def test_invalid_address_first_means_no_connection(smtp_server: SMTPTestServer) -> None:
    with pytest.raises(ValueError):
        EmailBackend(**smtp_server.options()).send_messages([make_message(to=["bad@"])])
    assert smtp_server.connection_count == 0


def test_non_ascii_local_part_uses_smtputf8(smtp_server: SMTPTestServer) -> None:
    EmailBackend(**smtp_server.options()).send_messages([make_message(to=["jörg@example.com"])])
    [received] = smtp_server.messages
    assert received.smtputf8
    assert received.rcpt_tos == ["jörg@example.com"]


def test_non_ascii_local_part_without_smtputf8(fault_smtp_server: ServerFactory) -> None:
    server = fault_smtp_server(smtputf8=False)
    with pytest.raises(ValueError, match=re.escape("jörg@example.com")):
        EmailBackend(**server.options()).send_messages([make_message(to=["jörg@example.com"])])
    assert server.messages == []


# --- refusals and partial failure -------------------------------------------------------


def test_one_refused_recipient(
    fault_smtp_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    server = fault_smtp_server(refuse_rcpt=["bad@example.com"])
    refused = make_message(1, to=["good@example.com", "bad@example.com"])
    clean = make_message(2)
    with caplog.at_level(logging.WARNING, logger="mailproviders"):
        assert EmailBackend(**server.options()).send_messages([refused, clean]) == 2
    assert set(refused.refused_recipients) == {"bad@example.com"}
    code, reply = refused.refused_recipients["bad@example.com"]
    assert code == 550
    assert "mailbox unavailable" in reply
    assert clean.refused_recipients == {}
    assert server.messages[0].rcpt_tos == ["good@example.com"]
    [record] = [r for r in caplog.records if r.name == "mailproviders"]
    assert record.levelno == logging.WARNING
    assert "bad@example.com" in record.getMessage()


# All recipients refused, and the third of five messages failing, are in
# tests/backends/smtp/test_aio.py, which runs each case through the sync and the async path.


def test_stalled_server_times_out(fault_smtp_server: ServerFactory) -> None:
    server = fault_smtp_server(stall_at="MAIL")
    with pytest.raises(smtplib.SMTPServerDisconnected) as info:
        EmailBackend(**server.options(timeout=1)).send_messages([make_message()])
    assert isinstance(info.value.__context__, TimeoutError)
    assert info.value.sent_count == 0  # type: ignore[attr-defined]


def test_connection_refused_carries_sent_count() -> None:
    backend = EmailBackend(host="127.0.0.1", port=free_closed_port())
    with pytest.raises(ConnectionRefusedError) as info:
        backend.send_messages([make_message()])
    assert info.value.sent_count == 0  # type: ignore[attr-defined]


def test_legacy_fail_silently_swallows_connection_refused() -> None:
    with pytest.warns(MailProvidersDeprecationWarning, match="fail_silently"):
        backend = EmailBackend(host="127.0.0.1", port=free_closed_port(), fail_silently=True)
    assert backend.send_messages([make_message()]) == 0


def test_legacy_fail_silently_returns_count_so_far(fault_smtp_server: ServerFactory) -> None:
    server = fault_smtp_server(mail_reply="451 4.3.0 later", mail_reply_at=2)
    with pytest.warns(MailProvidersDeprecationWarning):
        backend = EmailBackend(**server.options(), fail_silently=True)
    assert backend.send_messages([make_message(n) for n in range(3)]) == 1


# --- construction -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "port"), [({}, 25), ({"use_tls": True}, 587), ({"use_ssl": True}, 465)]
)
def test_default_ports(flags: dict[str, bool], port: int) -> None:
    assert EmailBackend(**flags).port == port
    assert EmailBackend(port=2525, **flags).port == 2525


def test_tls_and_ssl_are_exclusive() -> None:
    with pytest.raises(InvalidEmailProvider, match="mutually exclusive") as info:
        EmailBackend(alias="main", use_tls=True, use_ssl=True)
    assert info.value.alias == "main"
    assert info.value.option == "use_ssl"


def test_timeout_none_means_thirty_seconds() -> None:
    assert EmailBackend(timeout=None).timeout == 30.0
    assert EmailBackend().timeout == 30.0


def test_repr_never_shows_password() -> None:
    backend = EmailBackend(
        alias="main", host="smtp.example.com", username="app", password="hunter2", use_tls=True
    )
    text = repr(backend)
    for part in ("'main'", "smtp.example.com", "587", "'app'", "STARTTLS"):
        assert part in text
    assert "hunter2" not in text
    assert "hunter2" not in str(vars(backend))


def test_password_is_masked_but_compares_as_its_value() -> None:
    from pydantic import SecretStr

    backend = EmailBackend(host="h", username="u", password="p@ss:w%rd")
    assert backend.password == "p@ss:w%rd"
    assert backend.password == SecretStr("p@ss:w%rd")
    assert backend.password != "other"
    assert isinstance(backend.password, SecretStr)
    assert backend.password.get_secret_value() == "p@ss:w%rd"
    for text in (str(backend.password), repr(backend.password), repr(backend), str(vars(backend))):
        assert "p@ss" not in text
    assert EmailBackend(host="h", password=SecretStr("z")).password == "z"
