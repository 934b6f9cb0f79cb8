"""The Django adapter's scenarios, against a real aiosmtpd server on 127.0.0.1.

Imported by test_django_adapter.py (Django of the project venv, in-process, with the
servers of smtp_fixtures.py), and run as a script by the same test in cached venvs with
other Django versions (``python django_adapter_scenarios.py``: it starts its own servers,
configures Django — ``MAILERS`` from 6.1 on, else ``EMAIL_BACKEND`` — runs every scenario,
prints ``django X.Y.Z: N scenarios passed`` and exits 0, or fails with the traceback).

Each scenario compares the bytes the server received with the bytes Django rendered:
the adapter's ``render`` is wrapped to keep what Django produced, and a message with fixed
``Date``/``Message-ID`` is also sent through Django's own SMTP backend (same random seed,
so the same MIME boundaries) to compare with what Django itself would have sent.
"""

from __future__ import annotations

import logging
import random
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import django
from django.core import mail

import mailproviders
from mailproviders import RenderedMessage
from mailproviders.integrations import django as adapter

ALIAS = "primary"  # the mailproviders provider the adapter sends through
ADMINS = ["ops@example.com", "Dev Team <dev@example.com>"]
SCENARIOS: list[Callable[[Server], None]] = []
MODERN = django.VERSION >= (6, 0)


class Received(Protocol):
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


class Server(Protocol):
    """What the scenarios read of a server (smtp_fixtures.SMTPTestServer has it)."""

    port: int
    messages: list[Any]
    connection_count: int

    def reset_counters(self) -> None: ...


def scenario(function: Callable[[Server], None]) -> Callable[[Server], None]:
    SCENARIOS.append(function)
    return function


@contextmanager
def rendered_by_django() -> Iterator[list[RenderedMessage]]:
    """What the adapter's ``render`` returned (Django's bytes) during the block."""
    kept: list[RenderedMessage] = []
    original = adapter.render

    def keep(message: Any) -> RenderedMessage:
        result = original(message)
        kept.append(result)
        return result

    adapter.render = keep
    try:
        yield kept
    finally:
        adapter.render = original


def use_provider(port: int) -> None:
    mailproviders.configure(
        EMAIL_PROVIDERS={ALIAS: f"smtp://127.0.0.1:{port}?timeout=10", "default": "dummy://"}
    )


def django_smtp(port: int) -> Any:
    """Django's own SMTP backend, talking to the server on ``port``."""
    if hasattr(mail, "mailers") and mail.mailers._is_configured:
        return mail.mailers["django_smtp"]
    return mail.get_connection(
        "django.core.mail.backends.smtp.EmailBackend", host="127.0.0.1", port=port
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def check_exact(server: Server, kept: list[RenderedMessage]) -> None:
    assert len(server.messages) == len(kept) >= 1, (len(server.messages), len(kept))
    for received, rendered in zip(server.messages, kept, strict=True):
        # SMTP ends the data with CRLF (smtplib adds one to a body without it, as here).
        expected = rendered.data + (b"" if rendered.data.endswith(b"\r\n") else b"\r\n")
        assert received.data == expected, (received.data, expected)
        assert b"\r\n" in received.data and b"\n" not in received.data.replace(b"\r\n", b"")


@scenario
def send_mail_through_the_adapter(server: Server) -> None:
    with rendered_by_django() as kept:
        sent = mail.send_mail(
            "Grüße from Django",
            "Plain body\n.dot line\n",
            "Shop <shop@example.com>",
            ["ann@example.com", "zoë@example.com"],
            html_message="<p>HTML body</p>",
        )
    assert sent == 1
    check_exact(server, kept)
    [received] = server.messages
    assert received.mail_from == "shop@example.com"
    assert received.rcpt_tos == ["ann@example.com", "zoë@example.com"]
    assert b"Subject: =?utf-8?" in received.data and b"<p>HTML body</p>" in received.data


def multi_message() -> Any:
    message = mail.EmailMultiAlternatives(
        "Invoice 42",
        "See the attachments.",
        "billing@example.com",
        ["ann@example.com"],
        cc=["cc@example.com"],
        bcc=["archive@example.com"],
        reply_to=["help@example.com"],
        headers={
            "Date": "Tue, 01 Dec 2026 10:00:00 +0000",
            "Message-ID": "<invoice-42@example.com>",
            "X-Order": "42",
        },
    )
    message.attach_alternative("<h1>Invoice</h1>", "text/html")
    message.attach("invoice.pdf", b"%PDF-1.4\x00\xff binary", "application/pdf")
    message.attach("notes.txt", "Grüße\nline 2\n", "text/plain")
    return message


@scenario
def multi_alternatives_with_attachments(server: Server) -> None:
    random.seed(19)
    with rendered_by_django() as kept:
        assert multi_message().send() == 1
    check_exact(server, kept)
    [received] = server.messages
    assert received.rcpt_tos == ["ann@example.com", "cc@example.com", "archive@example.com"]
    assert b"archive@example.com" not in received.data  # Bcc only in the envelope
    server.reset_counters()
    random.seed(19)  # the same boundaries: Django's own backend must send the same bytes
    with django_smtp(server.port) as connection:
        assert connection.send_messages([multi_message()]) == 1
    [by_django] = server.messages
    assert by_django.data == received.data, (by_django.data, received.data)
    assert by_django.rcpt_tos == received.rcpt_tos


@scenario
def mail_admins_through_the_adapter(server: Server) -> None:
    with rendered_by_django() as kept:
        mail.mail_admins("Disk full", "Only 1% left.", html_message="<b>1%</b>")
    check_exact(server, kept)
    [received] = server.messages
    assert received.rcpt_tos == ["ops@example.com", "dev@example.com"]
    assert received.mail_from == "server@example.com"
    assert b"Subject: [Django] Disk full" in received.data


@scenario
def admin_email_handler_through_the_adapter(server: Server) -> None:
    """Django's AdminEmailHandler, for a record logged outside any request."""
    from django.utils.log import AdminEmailHandler

    logger = logging.getLogger("mailproviders.tests.django_admin_mail")
    logger.propagate = False
    handler = AdminEmailHandler()
    logger.addHandler(handler)
    try:
        with rendered_by_django() as kept:
            try:
                raise RuntimeError("disk on fire")
            except RuntimeError:
                logger.exception("Nightly job failed")
        check_exact(server, kept)
        [received] = server.messages
        assert received.mail_from == "server@example.com"
        assert received.rcpt_tos == ["ops@example.com", "dev@example.com"]
        assert b"Subject: [Django] ERROR: Nightly job failed" in received.data
        assert b"disk on fire" in received.data  # the traceback Django formatted
        if django.VERSION < (6, 1):  # before MAILERS, the handler sends with fail_silently
            use_provider(closed_port())
            try:
                logger.error("Nobody will read this")  # logged by mailproviders, not raised
            finally:
                use_provider(server.port)
            assert len(server.messages) == 1
    finally:
        logger.removeHandler(handler)


@scenario
def one_connection_between_open_and_close(server: Server) -> None:
    messages = [mail.EmailMessage(f"n{n}", "b", "a@example.com", ["b@example.com"]) for n in "12"]
    with rendered_by_django() as kept:
        connection = mail.get_connection()
        assert connection.open() is True and connection.open() is False
        assert connection.send_messages(messages[:1]) == 1
        assert connection.send_messages(messages[1:]) == 1
        connection.close()
    check_exact(server, kept)
    assert server.connection_count == 1


@scenario
def fail_silently_is_honoured(server: Server) -> None:
    use_provider(closed_port())
    try:
        assert (
            mail.send_mail("s", "b", "a@example.com", ["b@example.com"], fail_silently=True) == 0
        )
        try:
            mail.send_mail("s", "b", "a@example.com", ["b@example.com"])
        except OSError:
            pass
        else:
            raise AssertionError("a refused connection must raise without fail_silently")
    finally:
        use_provider(server.port)
    assert server.messages == []


def run(server: Server) -> int:
    """Every scenario against ``server`` (emptied before each); returns how many ran."""
    use_provider(server.port)
    for function in SCENARIOS:
        server.reset_counters()
        try:
            function(server)
        except AssertionError as exc:
            raise AssertionError(f"{function.__name__}: {exc}") from exc
    return len(SCENARIOS)


def settings_for(port: int) -> dict[str, Any]:
    """Django settings: ``MAILERS`` on Django 6.1+, else ``EMAIL_BACKEND``."""
    settings: dict[str, Any] = {
        "DEFAULT_FROM_EMAIL": "webmaster@example.com",
        "SERVER_EMAIL": "server@example.com",
        "EMAIL_SUBJECT_PREFIX": "[Django] ",
        "SECRET_KEY": "only-for-the-adapter-scenarios",  # AdminEmailHandler's report needs one
        "ADMINS": ADMINS if MODERN else [("", address) for address in ADMINS],
    }
    if django.VERSION >= (6, 1):
        settings["MAILERS"] = {
            "default": {"BACKEND": adapter.ADAPTER, "OPTIONS": {"using": ALIAS}},
            "django_smtp": {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {"host": "127.0.0.1", "port": port},
            },
        }
    else:
        settings.update(EMAIL_BACKEND=adapter.ADAPTER, MAILPROVIDERS_ALIAS=ALIAS)
    return settings


@dataclass
class _Message:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


@dataclass
class _Server:
    """A plain aiosmtpd server (the venvs have aiosmtpd, not the test fixtures)."""

    port: int = 0
    messages: list[_Message] = field(default_factory=list)
    connection_count: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset_counters(self) -> None:
        with self.lock:
            self.messages.clear()
            self.connection_count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            message = _Message(
                envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content
            )
            self.messages.append(message)
        return "250 OK"


def _start() -> tuple[_Server, Any]:
    from aiosmtpd.controller import Controller

    server = _Server()

    class Counting(Controller):  # type: ignore[misc]
        def factory(self) -> Any:
            with server.lock:
                server.connection_count += 1
            return super().factory()

    controller = Counting(server, hostname="127.0.0.1", port=0, enable_SMTPUTF8=True)
    controller.port = closed_port()  # aiosmtpd 1.4 cannot bind port 0 and report it
    controller.start()
    server.port = controller.port
    return server, controller


def main() -> None:
    from django.conf import settings

    expected_root = sys.argv[1] if len(sys.argv) > 1 else None
    if expected_root is not None:  # the tree under test, not another copy
        assert mailproviders.__file__.startswith(expected_root), mailproviders.__file__
    server, controller = _start()
    try:
        settings.configure(**settings_for(server.port))
        django.setup()
        count = run(server)
    finally:
        controller.stop()
    print(f"django {django.get_version()}: {count} scenarios passed")


if __name__ == "__main__":
    main()
