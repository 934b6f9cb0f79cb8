"""SMTP fault matrix: every fault, for a 5-message ``send_messages`` batch and ``send_mail``.

Each cell checks: the exception type and a clear message, ``sent_count`` equal to what the
server really accepted, that the same backend (or provider) works again afterwards, and
that no client socket is left open (counted in /proc, see ``conftest.client_sockets``).
"""

from __future__ import annotations

import smtplib
import socket
import ssl
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from reliability_helpers import batch, client_sockets

import mailproviders
from mailproviders.backends.smtp import EmailBackend
from mailproviders.sending import send_mail
from smtp_fixtures import ServerFactory, SMTPTestServer, TLSCertificates, make_certificates

VIA = pytest.mark.parametrize("via", ["send_messages", "send_mail"])


def _use(server: SMTPTestServer, **options: Any) -> None:
    mailproviders.configure(
        EMAIL_PROVIDERS={"default": {"BACKEND": "smtp", "OPTIONS": server.options(**options)}}
    )


def _send_mail(to: list[str] | None = None) -> int:
    return send_mail("hello", "body\n", "sender@example.com", to or ["a@example.com"])


def _fails(via: str, backend: EmailBackend, to: list[str] | None = None) -> BaseException:
    """Run the faulty send and return its exception (a 5-message batch or one send_mail)."""
    with pytest.raises(Exception) as info:
        if via == "send_messages":
            backend.send_messages(batch(5, to=to))
        else:
            _send_mail(to)
    return info.value


def _assert_reusable(via: str, backend: EmailBackend, server: SMTPTestServer) -> None:
    """The next send through the same backend / the same provider works."""
    before = len(server.messages)
    if via == "send_messages":
        assert backend.send_messages(batch(2, tag="again")) == 2
        assert len(server.messages) == before + 2
    else:
        assert _send_mail() == 1
        assert len(server.messages) == before + 1


def _setup(via: str, server: SMTPTestServer, sockets: list[int], **options: Any) -> EmailBackend:
    sockets.append(server.port)
    _use(server, **options)
    return EmailBackend(**server.options(**options))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@VIA
def test_connection_refused(
    via: str, fault_smtp_server: ServerFactory, no_leaked_sockets: list[int]
) -> None:
    good = fault_smtp_server()
    port = _free_port()  # nothing listens there any more
    no_leaked_sockets.append(port)
    options = good.options(port=port)
    backend = EmailBackend(**options)
    mailproviders.configure(EMAIL_PROVIDERS={"default": {"BACKEND": "smtp", "OPTIONS": options}})
    exc = _fails(via, backend)
    assert isinstance(exc, ConnectionRefusedError)
    assert f"127.0.0.1:{port}" in "\n".join(exc.__notes__)
    assert exc.sent_count == 0  # type: ignore[attr-defined]
    backend.port = good.port
    _use(good)
    _assert_reusable(via, backend, good)


@VIA
def test_tls_certificate_not_trusted(
    via: str,
    fault_smtp_server: ServerFactory,
    tls_ca: TLSCertificates,
    tmp_path: Path,
    no_leaked_sockets: list[int],
) -> None:
    untrusted = fault_smtp_server(tls="starttls", certificates=make_certificates(tmp_path))
    good = fault_smtp_server(tls="starttls")
    backend = _setup(via, untrusted, no_leaked_sockets, ssl_cafile=str(tls_ca.ca_file))
    exc = _fails(via, backend)
    assert isinstance(exc, ssl.SSLCertVerificationError)
    assert "certificate verify failed" in str(exc)
    assert f"127.0.0.1:{untrusted.port}" in "\n".join(exc.__notes__)
    assert exc.sent_count == 0  # type: ignore[attr-defined]
    assert untrusted.mail_count == 0  # nothing went out in plain text
    backend.port = good.port
    _use(good)
    _assert_reusable(via, backend, good)


@VIA
def test_auth_rejected(
    via: str, fault_smtp_server: ServerFactory, no_leaked_sockets: list[int]
) -> None:
    server = fault_smtp_server(tls="starttls", auth=True)
    backend = _setup(via, server, no_leaked_sockets, password="wrong-password")
    exc = _fails(via, backend)
    assert isinstance(exc, smtplib.SMTPAuthenticationError)
    assert exc.smtp_code == 535
    assert exc.sent_count == 0  # type: ignore[attr-defined]
    assert server.mail_count == 0
    backend.password = SecretStr(server.password or "")
    _use(server)
    _assert_reusable(via, backend, server)


@VIA
@pytest.mark.parametrize("reply", ["421 4.3.2 shutting down", "451 4.3.0 try again later"])
def test_mail_from_temporary_failure(
    via: str, reply: str, fault_smtp_server: ServerFactory, no_leaked_sockets: list[int]
) -> None:
    at = 3 if via == "send_messages" else 1
    server = fault_smtp_server(mail_reply=reply, mail_reply_at=at)
    backend = _setup(via, server, no_leaked_sockets)
    exc = _fails(via, backend)
    assert isinstance(exc, smtplib.SMTPSenderRefused)
    assert exc.smtp_code == int(reply[:3])
    assert reply[4:] in str(exc)
    assert exc.sent_count == at - 1 == len(server.messages)  # type: ignore[attr-defined]
    _assert_reusable(via, backend, server)


@VIA
def test_one_recipient_of_several_refused(
    via: str, fault_smtp_server: ServerFactory, no_leaked_sockets: list[int]
) -> None:
    server = fault_smtp_server(refuse_rcpt=["bad@example.com"])
    backend = _setup(via, server, no_leaked_sockets)
    to = ["a@example.com", "bad@example.com", "c@example.com"]
    if via == "send_messages":
        messages = batch(5, to=to)
        assert backend.send_messages(messages) == 5
        assert all(set(m.refused_recipients) == {"bad@example.com"} for m in messages)
        assert len(server.messages) == 5
    else:
        assert _send_mail(to) == 1
        assert len(server.messages) == 1
    assert all(m.rcpt_tos == ["a@example.com", "c@example.com"] for m in server.messages)
    _assert_reusable(via, backend, server)


@VIA
def test_every_recipient_refused(
    via: str, fault_smtp_server: ServerFactory, no_leaked_sockets: list[int]
) -> None:
    server = fault_smtp_server(refuse_rcpt=["bad1@example.com", "bad2@example.com"])
    backend = _setup(via, server, no_leaked_sockets)
    to = ["bad1@example.com", "bad2@example.com"]
    if via == "send_messages":
        messages = batch(5)
        messages[2].to = to  # the third of five is refused entirely
        with pytest.raises(smtplib.SMTPRecipientsRefused) as info:
            backend.send_messages(messages)
        assert info.value.sent_count == 2 == len(server.messages)  # type: ignore[attr-defined]
        assert set(messages[2].refused_recipients) == set(to)
    else:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as info:
            _send_mail(to)
        assert info.value.sent_count == 0 == len(server.messages)  # type: ignore[attr-defined]
    assert set(info.value.recipients) == set(to)
    _assert_reusable(via, backend, server)


@VIA
def test_connection_dropped_after_data(
    via: str, fault_smtp_server: ServerFactory, no_leaked_sockets: list[int]
) -> None:
    k = 4 if via == "send_messages" else 1
    server = fault_smtp_server(drop_after_data_at=k)
    backend = _setup(via, server, no_leaked_sockets)
    exc = _fails(via, backend)
    assert isinstance(exc, smtplib.SMTPServerDisconnected)
    assert exc.sent_count == k - 1 == len(server.messages)  # type: ignore[attr-defined]
    _assert_reusable(via, backend, server)


@VIA
def test_server_stalls(
    via: str, fault_smtp_server: ServerFactory, no_leaked_sockets: list[int]
) -> None:
    # The one timing assertion of the suite, because a bounded wait is the guarantee: the
    # call must end after about one `timeout`. Waiting for a QUIT reply from the stalled
    # server would take a second full timeout, so `< 2 * timeout` (= timeout + 3 s) fails
    # deterministically in that case and leaves 3 s of slack otherwise.
    timeout = 3.0
    k = 3 if via == "send_messages" else 1
    server = fault_smtp_server(stall_at="MAIL", stall_at_number=k)
    backend = _setup(via, server, no_leaked_sockets, timeout=timeout)
    started = time.monotonic()
    exc = _fails(via, backend)
    elapsed = time.monotonic() - started
    # smtplib reports a reply timeout as a disconnection caused by the timeout.
    assert isinstance(exc, smtplib.SMTPServerDisconnected)
    assert isinstance(exc.__context__, TimeoutError)
    assert f"127.0.0.1:{server.port}" in "\n".join(exc.__notes__)
    assert "within timeout=3 s" in "\n".join(exc.__notes__)
    assert elapsed < 2 * timeout
    assert exc.sent_count == k - 1 == len(server.messages)  # type: ignore[attr-defined]
    _assert_reusable(via, backend, server)


@VIA
def test_server_closes_during_quit(
    via: str, fault_smtp_server: ServerFactory, no_leaked_sockets: list[int]
) -> None:
    server = fault_smtp_server(drop_at_quit=True)
    backend = _setup(via, server, no_leaked_sockets)
    if via == "send_messages":
        assert backend.send_messages(batch(5)) == 5
        assert len(server.messages) == 5
    else:
        assert _send_mail() == 1
        assert len(server.messages) == 1
    _assert_reusable(via, backend, server)


def test_explicitly_opened_connection_survives_a_refusal_and_recovers_from_a_drop(
    fault_smtp_server: ServerFactory, no_leaked_sockets: list[int]
) -> None:
    server = fault_smtp_server(mail_reply="451 4.3.0 later", mail_reply_at=2, drop_after_data_at=4)
    no_leaked_sockets.append(server.port)
    with EmailBackend(**server.options()) as backend:
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            backend.send_messages(batch(3, tag="a"))
        assert refused.value.sent_count == 1  # type: ignore[attr-defined]
        assert server.connection_count == 1
        with pytest.raises(smtplib.SMTPServerDisconnected) as dropped:
            backend.send_messages(batch(3, tag="b"))  # data 2, 3 fine; 4 dropped
        assert dropped.value.sent_count == 2  # type: ignore[attr-defined]
        assert backend.connection is None
        assert backend.send_messages(batch(2, tag="c")) == 2
    assert server.connection_count == 2
    assert [m.parsed()["Subject"] for m in server.messages] == ["a-1", "b-1", "b-2", "c-1", "c-2"]


def test_socket_accounting_sees_an_open_connection(smtp_server: SMTPTestServer) -> None:
    backend = EmailBackend(**smtp_server.options())
    backend.open()
    assert client_sockets(smtp_server.port) == 1
    backend.close()
    assert client_sockets(smtp_server.port) == 0
