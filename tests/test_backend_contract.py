"""The contract every built-in backend keeps (SPEC §4, §6, §12.3, §12.5, §12.17)."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from mailproviders.deprecation import MailProvidersDeprecationWarning

from mailproviders.backends import console, dummy, filebased, locmem, smtp
from mailproviders.backends.base import BaseEmailBackend
from mailproviders.message import EmailMessage
from smtp_fixtures import SMTPTestServer

BACKENDS = ["smtp", "console", "filebased", "locmem", "dummy"]
Factory = Callable[..., BaseEmailBackend]


@pytest.fixture(params=BACKENDS)
def make_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Factory]:
    """``make_backend(**extra)`` builds the parametrised backend, ready to send."""
    name: str = request.param
    if name == "smtp":
        server: SMTPTestServer = request.getfixturevalue("smtp_server")
        yield lambda **extra: smtp.EmailBackend(**server.options(), **extra)
    elif name == "console":
        yield lambda **extra: console.EmailBackend(stream=io.StringIO(), **extra)
    elif name == "filebased":
        yield lambda **extra: filebased.EmailBackend(file_path=tmp_path / "out", **extra)
    else:
        module = locmem if name == "locmem" else dummy
        locmem.outbox.clear()
        try:
            yield module.EmailBackend
        finally:
            locmem.outbox.clear()


def make_message(n: int = 0) -> EmailMessage:
    return EmailMessage(f"Subject {n}", "Body", "from@example.com", ["to@example.com"])


def test_is_a_backend_and_not_cacheable(make_backend: Factory) -> None:
    backend = make_backend()
    assert isinstance(backend, BaseEmailBackend)
    assert type(backend).cacheable is False


def test_empty_input_returns_zero(make_backend: Factory) -> None:
    result = make_backend().send_messages([])
    assert result == 0
    assert type(result) is int


def test_generator_consumed_once_and_counted(make_backend: Factory) -> None:
    pulled: list[int] = []

    def generate() -> Iterator[EmailMessage]:
        for n in range(5):
            pulled.append(n)
            yield make_message(n)

    assert make_backend().send_messages(generate()) == 5
    assert pulled == [0, 1, 2, 3, 4]


def test_alias_and_repr(make_backend: Factory) -> None:
    backend = make_backend(alias="primary")
    assert backend.alias == "primary"
    assert "'primary'" in repr(backend)
    assert type(backend).__name__ in repr(backend)


def test_context_manager_and_idempotent_close(make_backend: Factory) -> None:
    backend = make_backend()
    backend.close()
    with backend as entered:
        assert entered is backend
        assert backend.send_messages([make_message(1), make_message(2)]) == 2
    backend.close()


def test_unknown_option_is_a_type_error(make_backend: Factory) -> None:
    with pytest.raises(TypeError):
        make_backend(no_such_option=1)


def test_legacy_fail_silently_keyword_warns(make_backend: Factory) -> None:
    with pytest.warns(MailProvidersDeprecationWarning, match="fail_silently"):
        backend = make_backend(fail_silently=True)
    assert backend.fail_silently is True  # type: ignore[attr-defined]


def test_fail_silently_attribute_not_defined_warns(make_backend: Factory) -> None:
    backend = make_backend()
    with pytest.warns(MailProvidersDeprecationWarning):
        assert backend.fail_silently is False  # type: ignore[attr-defined]


class Unserializable(EmailMessage):
    def as_bytes(self, linesep: str = "\n") -> bytes:
        raise ValueError("cannot serialize this message")


@pytest.mark.parametrize("make_backend", [b for b in BACKENDS if b != "dummy"], indirect=True)
def test_failure_carries_what_was_accepted(make_backend: Factory) -> None:
    messages = [make_message(1), make_message(2), Unserializable("x", "y", "a@b.c", ["d@e.f"])]
    with pytest.raises(ValueError, match="cannot serialize") as info:
        make_backend().send_messages(messages)
    assert info.value.sent_count == 2  # type: ignore[attr-defined]
    assert info.value.sent_messages == messages[:2]  # type: ignore[attr-defined]
