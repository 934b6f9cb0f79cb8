"""The contract every built-in backend keeps (SPEC §4, §6, §12.3, §12.5, §12.17).

One suite for the seven built-in backends (the ``kind`` fixture): smtp (against a real
server), console, filebased, locmem, dummy, and the composites failover and roundrobin
(built by the handler, with two locmem members). Everything that sends runs through the
sync methods and through their async twins (the ``mode`` fixture), which must give the
same counts and the same exceptions.
"""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import mailproviders
from mailproviders.backends import console, dummy, failover, filebased, locmem, roundrobin, smtp
from mailproviders.backends.base import BaseEmailBackend
from mailproviders.legacy import MailProvidersDeprecationWarning
from mailproviders.message import EmailMessage
from smtp_fixtures import SMTPTestServer

KINDS = ["smtp", "console", "filebased", "locmem", "dummy", "failover", "roundrobin"]
#: The providers a composite sends through.
MEMBERS: dict[str, Any] = {"a": "locmem://", "b": "locmem://"}

Backend = BaseEmailBackend
MessageFactory = Callable[..., EmailMessage]


@dataclass
class Kind:
    """One built-in backend kind, ready to send."""

    name: str
    #: ``backend(**options)``: the backend as an application gets it (composites from
    #: ``mailproviders.providers``, ``options`` in their OPTIONS; the others built directly).
    backend: Callable[..., Backend]
    #: ``direct(**options)``: built directly with keyword options (composites get
    #: ``using`` and ``providers=mailproviders.providers``).
    direct: Callable[..., Backend]
    #: Subjects of what reached the destination, in order; ``None``: dummy keeps nothing.
    delivered: Callable[[], list[str]] | None
    #: Whether messages without recipients are skipped (not sent, not counted).
    skips_messages_without_recipients: bool

    def assert_delivered(self, subjects: list[str], *, ordered: bool = True) -> None:
        """What reached the destination is exactly ``subjects`` (dummy: nothing to check)."""
        if self.delivered is not None:
            delivered = self.delivered()
            assert (delivered if ordered else sorted(delivered)) == subjects


def _subjects(text: str) -> list[str]:
    return re.findall(r"^Subject: (.*)$", text, flags=re.MULTILINE)


def _outbox_subjects(*aliases: str | None) -> list[str]:
    """Subjects in the locmem outbox, only of copies sent through one of ``aliases``."""
    return [message.subject for message in locmem.outbox if message.sent_using in aliases]


def _smtp(server: SMTPTestServer) -> Kind:
    def build(**extra: Any) -> Backend:
        return smtp.EmailBackend(**server.options(), **extra)

    def delivered() -> list[str]:
        return [str(received.parsed()["Subject"]) for received in server.messages]

    return Kind("smtp", build, build, delivered, skips_messages_without_recipients=True)


def _console() -> Kind:
    stream = io.StringIO()

    def build(**extra: Any) -> Backend:
        return console.EmailBackend(stream=stream, **extra)

    def delivered() -> list[str]:
        return _subjects(stream.getvalue())

    return Kind("console", build, build, delivered, skips_messages_without_recipients=False)


def _filebased(directory: Path) -> Kind:
    def build(**extra: Any) -> Backend:
        return filebased.EmailBackend(file_path=directory, **extra)

    def delivered() -> list[str]:
        files = sorted(directory.iterdir()) if directory.exists() else []
        return _subjects("".join(path.read_text(encoding="utf-8") for path in files))

    return Kind("filebased", build, build, delivered, skips_messages_without_recipients=False)


def _locmem() -> Kind:
    return Kind(
        "locmem",
        locmem.EmailBackend,
        locmem.EmailBackend,
        lambda: _outbox_subjects(None),
        skips_messages_without_recipients=True,
    )


def _dummy() -> Kind:
    return Kind(
        "dummy",
        dummy.EmailBackend,
        dummy.EmailBackend,
        None,
        skips_messages_without_recipients=False,
    )


def _composite(name: str) -> Kind:
    cls = failover.EmailBackend if name == "failover" else roundrobin.EmailBackend
    mailproviders.configure(EMAIL_PROVIDERS=MEMBERS)

    def configured(alias: str = "mail", **options: Any) -> Backend:
        entry = {"BACKEND": name, "OPTIONS": {"using": list(MEMBERS), **options}}
        mailproviders.configure(EMAIL_PROVIDERS={alias: entry, **MEMBERS})
        return mailproviders.providers[alias]

    def direct(**options: Any) -> Backend:
        return cls(using=list(MEMBERS), providers=mailproviders.providers, **options)

    return Kind(
        name,
        configured,
        direct,
        lambda: _outbox_subjects(*MEMBERS),
        skips_messages_without_recipients=True,
    )


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest, tmp_path: Path) -> Kind:
    """The parametrised backend kind (the outbox and the configuration are reset by the
    autouse fixture of conftest.py)."""
    name: str = request.param
    if name == "smtp":
        return _smtp(request.getfixturevalue("smtp_server"))
    if name == "console":
        return _console()
    if name == "filebased":
        return _filebased(tmp_path / "out")
    if name == "locmem":
        return _locmem()
    if name == "dummy":
        return _dummy()
    return _composite(name)


class Sync:
    """``send_messages``, ``open``/``close`` and ``with``."""

    def send(self, backend: Backend, messages: Iterable[EmailMessage]) -> int:
        return backend.send_messages(messages)

    def close(self, backend: Backend) -> None:
        backend.close()

    def send_in_context(
        self, backend: Backend, messages: Iterable[EmailMessage]
    ) -> tuple[Backend, int]:
        with backend as entered:
            return entered, backend.send_messages(messages)

    def send_opened(self, backend: Backend, messages: Iterable[EmailMessage]) -> int:
        backend.open()
        try:
            return backend.send_messages(messages)
        finally:
            backend.close()


class Async:
    """``asend_messages``, ``aopen``/``aclose`` and ``async with``, each scenario in one
    event loop (``asyncio.run``)."""

    def send(self, backend: Backend, messages: Iterable[EmailMessage]) -> int:
        return asyncio.run(backend.asend_messages(messages))

    def close(self, backend: Backend) -> None:
        asyncio.run(backend.aclose())

    def send_in_context(
        self, backend: Backend, messages: Iterable[EmailMessage]
    ) -> tuple[Backend, int]:
        async def scenario() -> tuple[Backend, int]:
            async with backend as entered:
                return entered, await backend.asend_messages(messages)

        return asyncio.run(scenario())

    def send_opened(self, backend: Backend, messages: Iterable[EmailMessage]) -> int:
        async def scenario() -> int:
            await backend.aopen()
            try:
                return await backend.asend_messages(messages)
            finally:
                await backend.aclose()

        return asyncio.run(scenario())


Mode = Sync | Async


@pytest.fixture(params=[Sync(), Async()], ids=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> Mode:
    return request.param  # type: ignore[no-any-return]


class Unserializable(EmailMessage):
    def as_bytes(self, linesep: str = "\n") -> bytes:
        raise ValueError("cannot serialize this message")


# -- what a backend is -------------------------------------------------------------------


def test_is_a_backend_and_cacheable_only_if_documented(kind: Kind) -> None:
    backend = kind.backend()
    assert isinstance(backend, BaseEmailBackend)
    # roundrobin is reused per alias, thread and task; its rotation is the handler's
    assert type(backend).cacheable is (kind.name == "roundrobin")


def test_alias_and_repr(kind: Kind) -> None:
    backend = kind.backend(alias="primary")
    assert backend.alias == "primary"
    assert "'primary'" in repr(backend)
    assert type(backend).__name__ in repr(backend)


def test_unknown_option_is_a_type_error(kind: Kind) -> None:
    with pytest.raises(TypeError):
        kind.direct(no_such_option=1)


def test_legacy_fail_silently_keyword_warns(kind: Kind) -> None:
    with pytest.warns(MailProvidersDeprecationWarning, match="fail_silently"):
        backend = kind.backend(fail_silently=True)
    assert backend.fail_silently is True


def test_fail_silently_attribute_not_defined_warns(kind: Kind) -> None:
    backend = kind.backend()
    with pytest.warns(MailProvidersDeprecationWarning, match="fail_silently"):
        assert backend.fail_silently is False


# -- sending, sync and async -------------------------------------------------------------


def test_empty_input_returns_zero(kind: Kind, mode: Mode) -> None:
    result = mode.send(kind.backend(), [])
    assert result == 0
    assert type(result) is int
    kind.assert_delivered([])


def test_generator_consumed_once_and_counted(
    kind: Kind, mode: Mode, make_message: MessageFactory
) -> None:
    pulled: list[int] = []

    def generate() -> Iterator[EmailMessage]:
        for n in range(5):
            pulled.append(n)
            yield make_message(n)

    result = mode.send(kind.backend(), generate())
    assert result == 5
    assert type(result) is int
    assert pulled == [0, 1, 2, 3, 4]
    kind.assert_delivered([f"Subject {n}" for n in range(5)])


def test_messages_without_recipients(kind: Kind, mode: Mode, make_message: MessageFactory) -> None:
    messages = [make_message(1, to=[]), make_message(2), make_message(3, to=[])]
    if kind.skips_messages_without_recipients:
        expected = ["Subject 2"]
    else:  # console and filebased write them; dummy counts everything it is given
        expected = ["Subject 1", "Subject 2", "Subject 3"]
    assert mode.send(kind.backend(), messages) == len(expected)
    kind.assert_delivered(expected)


def test_context_manager_and_idempotent_close(
    kind: Kind, mode: Mode, make_messages: Callable[..., list[EmailMessage]]
) -> None:
    backend = kind.backend()
    mode.close(backend)  # closing what was never opened is harmless
    entered, count = mode.send_in_context(backend, make_messages(2))
    assert entered is backend
    assert count == 2
    mode.close(backend)
    mode.close(backend)
    kind.assert_delivered(["Subject 1", "Subject 2"])


def test_explicit_open_and_close(
    kind: Kind,
    mode: Mode,
    make_message: MessageFactory,
    make_messages: Callable[..., list[EmailMessage]],
) -> None:
    backend = kind.backend()
    assert mode.send_opened(backend, make_messages(2)) == 2
    assert mode.send_opened(backend, [make_message(3)]) == 1  # it opens again after close
    # (filebased writes a new file per open: the order across files is not kept)
    kind.assert_delivered(["Subject 1", "Subject 2", "Subject 3"], ordered=False)


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "dummy"], indirect=True)
def test_failure_carries_what_was_accepted(
    kind: Kind, mode: Mode, make_messages: Callable[..., list[EmailMessage]]
) -> None:
    messages = [*make_messages(2), Unserializable("x", "y", "a@b.c", ["d@e.f"])]
    with pytest.raises(ValueError, match="cannot serialize") as info:
        mode.send(kind.backend(), messages)
    assert info.value.sent_count == 2  # type: ignore[attr-defined]
    assert info.value.sent_messages == messages[:2]  # type: ignore[attr-defined]
    kind.assert_delivered(["Subject 1", "Subject 2"])


def test_dummy_counts_what_it_cannot_serialize(mode: Mode) -> None:
    messages = [EmailMessage("s", "b", "a@b.c", []), Unserializable("x", "y", "a@b.c", ["d@e"])]
    assert mode.send(dummy.EmailBackend(), messages) == 2
