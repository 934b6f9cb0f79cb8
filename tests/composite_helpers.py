"""Helpers shared by the failover and round-robin tests."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from mailproviders.handler import configure
from mailproviders.message import EmailMessage
from smtp_fixtures import ServerFactory, SMTPTestServer


def batch(count: int, *, tag: str = "m") -> list[EmailMessage]:
    """``count`` messages, each with its own ``Message-ID`` ``<tag-n@composite.test>``."""
    return [
        EmailMessage(
            f"{tag}-{n}",
            f"body of {tag}-{n}\n",
            "sender@example.com",
            [f"rcpt{n}@example.com"],
            headers={"Message-ID": f"<{tag}-{n}@composite.test>"},
        )
        for n in range(1, count + 1)
    ]


def ids(server: SMTPTestServer) -> list[str]:
    """The Message-IDs the server accepted, in order (``tag-n``, without brackets)."""
    return [
        str(received.parsed()["Message-ID"]).strip("<>").split("@")[0]
        for received in server.messages
    ]


def smtp(server: SMTPTestServer, **options: Any) -> dict[str, Any]:
    """A provider entry for ``server``."""
    return {"BACKEND": "smtp", "OPTIONS": server.options(**options)}


def refusing(fault_smtp_server: ServerFactory) -> SMTPTestServer:
    """A server that was started and stopped: its port refuses connections."""
    server = fault_smtp_server()
    server.stop()
    return server


def setup(composite: str, **providers: Any) -> None:
    """Configure ``providers`` plus the composite provider ``"mail"`` (a DSN)."""
    configure(EMAIL_PROVIDERS={"mail": composite, **providers})


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Messages logged at WARNING on the ``mailproviders`` logger."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "mailproviders" and record.levelno == logging.WARNING
    ]
