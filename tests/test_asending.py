"""The async pair on every backend, the async send functions, and the fallback path."""

from __future__ import annotations

import asyncio
import logging
import smtplib
import sys
import threading
from collections.abc import Iterable

import pytest

import mailproviders
from mailproviders import (
    EmailMessage,
    EmailProviderDoesNotExist,
    amail_admins,
    amail_managers,
    asend_mail,
    asend_mass_mail,
    configure,
    outbox,
    providers,
)
from mailproviders.backends.base import BaseEmailBackend
from mailproviders.backends.smtp import EmailBackend as SMTPBackend
from mailproviders.legacy import MailProvidersDeprecationWarning
from smtp_fixtures import SMTPTestServer


class Recording(BaseEmailBackend):
    """A custom backend with only the sync methods; records the thread of each call."""

    def __init__(self, *, fail_open: bool = False, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.fail_open = fail_open
        self.calls: list[tuple[str, threading.Thread]] = []

    def open(self) -> None:
        self.calls.append(("open", threading.current_thread()))
        if self.fail_open:
            raise OSError("cannot open")

    def close(self) -> None:
        self.calls.append(("close", threading.current_thread()))

    def send_messages(self, messages: Iterable[EmailMessage]) -> int:
        self.calls.append(("send", threading.current_thread()))
        return len(list(messages))


def test_default_pair_runs_sync_methods_in_a_worker_thread() -> None:
    backend = Recording()

    async def main() -> int:
        async with backend as entered:
            assert entered is backend
            return await backend.asend_messages([EmailMessage("s", "b", "f@x.org", ["t@x.org"])])

    assert asyncio.run(main()) == 1
    assert [name for name, _ in backend.calls] == ["open", "send", "close"]
    assert all(thread is not threading.main_thread() for _, thread in backend.calls)


def test_aenter_closes_when_aopen_fails() -> None:
    backend = Recording(fail_open=True)

    async def main() -> None:
        async with backend:
            pytest.fail("not entered")

    with pytest.raises(OSError, match="cannot open"):
        asyncio.run(main())
    assert [name for name, _ in backend.calls] == ["open", "close"]


def test_smtp_falls_back_to_a_thread_without_aiosmtplib(
    smtp_server: SMTPTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "aiosmtplib", None)  # `import aiosmtplib` now fails
    backend = SMTPBackend(**smtp_server.options())
    message = EmailMessage("s", "b", "f@example.com", ["t@example.com"])

    async def main() -> int:
        async with backend:
            assert backend.connection is not None  # the sync connection, opened in a thread
            assert backend.async_connection is None
            return await backend.asend_messages([message])

    assert asyncio.run(main()) == 1
    assert backend.connection is None
    assert message.refused_recipients == {}
    assert len(smtp_server.messages) == 1


@pytest.fixture
def locmem() -> None:
    configure(
        EMAIL_PROVIDERS={
            "default": {"BACKEND": "locmem"},
            "marketing": {"BACKEND": "locmem", "DEFAULTS": {"from_email": "news@example.com"}},
            "broken": {"BACKEND": "smtp", "OPTIONS": {"host": "127.0.0.1", "port": 9}},
        },
        ADMINS=["ada@example.com"],
        MANAGERS=[],
    )
    outbox.clear()


@pytest.mark.usefixtures("locmem")
def test_async_send_functions() -> None:
    async def main() -> list[int]:
        message = EmailMessage("one", "body", None, ["a@example.com"])
        return [
            await message.asend(using="marketing"),
            await asend_mail(
                "two", "body", "f@example.com", ["b@example.com"], html_message="<p>"
            ),
            await asend_mass_mail(
                (("m", "body", "f@example.com", [f"r{n}@example.com"]) for n in range(3)),
                using="marketing",
            ),
            await amail_admins("three", "body"),
            await amail_managers("four", "body"),  # MANAGERS is empty
            await EmailMessage("none", "body", "f@example.com", []).asend(using="missing"),
        ]

    assert asyncio.run(main()) == [1, 1, 3, 1, 0, 0]
    assert [(m.subject, m.sent_using) for m in outbox] == [
        ("one", "marketing"),
        ("two", "default"),
        ("m", "marketing"),
        ("m", "marketing"),
        ("m", "marketing"),
        ("[mailproviders] three", "default"),
    ]
    assert outbox[0].from_email == "news@example.com"


@pytest.mark.usefixtures("locmem")
def test_async_fail_silently(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> int:
        return await asend_mail("s", "b", "f@example.com", ["t@example.com"], using="broken")

    with pytest.raises(ConnectionRefusedError):
        asyncio.run(main())

    async def silent() -> list[int]:
        message = EmailMessage("s", "b", "f@example.com", ["t@example.com"])
        return [
            await message.asend(fail_silently=True, using="broken"),
            await asend_mass_mail(
                [("s", "b", "f@example.com", ["t@example.com"])],
                fail_silently=True,
                using="broken",
            ),
            await amail_admins("s", "b", fail_silently=True, using="broken"),
        ]

    with caplog.at_level(logging.WARNING, logger="mailproviders"):
        assert asyncio.run(silent()) == [0, 0, 0]
    assert len(caplog.records) == 3
    assert all(type(r.exception) is ConnectionRefusedError for r in caplog.records)


@pytest.mark.usefixtures("locmem")
def test_async_provider_resolution_is_never_silenced() -> None:
    async def main() -> int:
        return await asend_mail("s", "b", "f@x.org", ["t@x.org"], fail_silently=True, using="nope")

    with pytest.raises(EmailProviderDoesNotExist):
        asyncio.run(main())


@pytest.mark.usefixtures("locmem")
def test_async_partial_failure_reports_sent_count(smtp_server: SMTPTestServer) -> None:
    server = smtp_server
    configure(EMAIL_PROVIDERS={"default": {"BACKEND": "smtp", "OPTIONS": server.options()}})
    datatuple = [("s", "b", "f@example.com", ["t@example.com"])] * 2 + [
        ("s", "b", "f@example.com", ["bad address"])
    ]
    with pytest.raises(ValueError, match="bad address") as info:
        asyncio.run(asend_mass_mail(datatuple))
    assert info.value.sent_count == 2  # type: ignore[attr-defined]
    assert asyncio.run(asend_mass_mail(datatuple, fail_silently=True)) == 2


@pytest.mark.usefixtures("locmem")
def test_async_connection_argument_is_deprecated_and_exclusive_with_using() -> None:
    backend = providers["default"]
    with pytest.warns(MailProvidersDeprecationWarning, match="connection="):
        assert asyncio.run(asend_mail("s", "b", "f@x.org", ["t@x.org"], connection=backend)) == 1
    with pytest.raises(TypeError, match="using"):
        asyncio.run(
            asend_mail("s", "b", "f@x.org", ["t@x.org"], connection=backend, using="default")
        )


def test_aclose_all_closes_cached_instances_with_aclose() -> None:
    closed: list[str] = []

    class Cached(Recording):
        cacheable = True

        async def aclose(self) -> None:
            closed.append(str(self.alias))

    configure(EMAIL_PROVIDERS={"a": {"BACKEND": f"{__name__}.Cached"}})
    globals()["Cached"] = Cached

    async def main() -> None:
        first = providers["a"]
        assert providers["a"] is first
        await providers.aclose_all()
        assert providers["a"] is not first

    asyncio.run(main())
    assert closed == ["a"]


def test_new_names_are_exported() -> None:
    for name in ("asend_mail", "asend_mass_mail", "amail_admins", "amail_managers"):
        assert name in mailproviders.__all__
        assert getattr(mailproviders, name).__module__ == "mailproviders.asending"
    assert smtplib  # the async SMTP path raises smtplib's exceptions (backends/smtp/test_aio.py)


@pytest.mark.parametrize("fail_silently", [False, True])
def test_async_argument_errors_come_before_any_provider(fail_silently: bool) -> None:
    configure(EMAIL_PROVIDERS={}, ADMINS=["admin@x.org"])  # resolving would fail differently
    with pytest.raises(TypeError, match='"recipient_list" argument must be a list or tuple'):
        asyncio.run(asend_mail("s", "b", "a@x.org", "bob@x.org", fail_silently=fail_silently))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r'"recipient_list \(datatuple item 0\)" argument'):
        asyncio.run(asend_mass_mail([("s", "b", None, "b@x.org")], fail_silently=fail_silently))  # type: ignore[list-item]
    with pytest.raises(TypeError, match='"html_message" argument'):
        asyncio.run(amail_admins("s", "b", html_message=42, fail_silently=fail_silently))  # type: ignore[arg-type]
    message = EmailMessage("s", "b", "a@x.org", ["b@x.org"])
    message.cc = [b"c@x.org"]  # type: ignore[list-item]
    with pytest.raises(TypeError, match='"cc" argument must hold strings'):
        asyncio.run(message.asend(fail_silently=fail_silently))


def test_async_mass_mail_failure_in_the_third_batch_of_a_generator() -> None:
    configure(EMAIL_PROVIDERS={"default": "locmem://"})
    data = (
        (f"m{n}" if n != 450 else "bad\nsubject", "b", "a@x.org", ["b@x.org"]) for n in range(600)
    )
    with pytest.raises(ValueError, match="Subject") as info:
        asyncio.run(asend_mass_mail(data))
    assert info.value.sent_count == 450  # type: ignore[attr-defined]
    assert [m.subject for m in info.value.sent_messages] == [f"m{n}" for n in range(400, 450)]  # type: ignore[attr-defined]
    assert len(outbox) == 450


class Exploding(BaseEmailBackend):
    def send_messages(self, messages: Iterable[EmailMessage]) -> int:
        raise RuntimeError("backend exploded")


@pytest.mark.parametrize("function", [amail_admins, amail_managers])
def test_async_mail_admins_and_managers_raise_by_default(function: object) -> None:
    configure(
        EMAIL_PROVIDERS={"default": {"BACKEND": f"{__name__}.Exploding"}},
        ADMINS=["admin@x.org"],
        MANAGERS=["boss@x.org"],
    )
    with pytest.raises(RuntimeError, match="exploded"):
        asyncio.run(function("s", "b"))  # type: ignore[operator]
    assert asyncio.run(function("s", "b", fail_silently=True)) == 0  # type: ignore[operator]
