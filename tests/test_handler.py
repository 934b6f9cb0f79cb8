"""ProvidersHandler: lookups, caching per thread and per asyncio task, close_all, configure."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, ClassVar

import pytest

import mailproviders
from mailproviders import (
    EmailMessage,
    EmailProviderDoesNotExist,
    ImproperlyConfigured,
    InvalidEmailProvider,
    configure,
    providers,
)
from mailproviders.backends import console, dummy, locmem, smtp
from mailproviders.backends.base import BaseEmailBackend


class CachedBackend(BaseEmailBackend):
    """A cacheable custom backend that records open/close calls."""

    cacheable: ClassVar[bool] = True
    closed: ClassVar[list[CachedBackend]] = []

    def __init__(self, *, alias: str | None = None, label: str = "x") -> None:
        super().__init__(alias=alias)
        self.label = label

    def close(self) -> None:
        CachedBackend.closed.append(self)

    def send_messages(self, messages: Any) -> int:
        return len(list(messages))


class CachedSMTP(smtp.EmailBackend):
    cacheable: ClassVar[bool] = True


CACHED = f"{__name__}.CachedBackend"


@pytest.fixture(autouse=True)
def _reset_closed() -> None:
    CachedBackend.closed.clear()


def test_getitem_builds_configured_backend_with_alias() -> None:
    configure(EMAIL_PROVIDERS={"default": "dummy://", "Notify": {"BACKEND": "console"}})
    backend = providers["Notify"]
    assert isinstance(backend, console.EmailBackend)
    assert backend.alias == "Notify"
    assert isinstance(providers.default, dummy.EmailBackend)
    assert providers.default.alias == "default"


def test_new_instance_per_access_for_non_cacheable() -> None:
    configure(EMAIL_PROVIDERS={"default": "locmem://"})
    assert providers["default"] is not providers["default"]
    assert providers.create_connection("default") is not providers.create_connection("default")


def test_unknown_alias_is_keyerror_with_hint() -> None:
    configure(EMAIL_PROVIDERS={"default": "locmem://"})
    with pytest.raises(EmailProviderDoesNotExist) as info:
        providers["nope"]
    assert isinstance(info.value, KeyError)
    assert isinstance(info.value, InvalidEmailProvider)
    assert isinstance(info.value, ImproperlyConfigured)
    text = str(info.value)
    assert "'nope'" in text
    assert "EMAIL_PROVIDERS__nope=" in text
    assert "'default'" in text


def test_no_configuration_at_all_says_how_to_configure() -> None:
    with pytest.raises(EmailProviderDoesNotExist, match="EMAIL_PROVIDERS__default=console://"):
        providers.default


def test_contains_iter_len_never_instantiate() -> None:
    configure(EMAIL_PROVIDERS={"a": {"BACKEND": CACHED}, "b": "dummy://"})
    assert "a" in providers
    assert "c" not in providers
    assert 3 not in providers
    assert list(providers) == ["a", "b"]
    assert len(providers) == 2
    providers.close_all()
    assert CachedBackend.closed == []  # nothing was ever created


def test_get_returns_default_only_for_unconfigured_alias(tmp_path: Any) -> None:
    sentinel = object()
    configure(
        EMAIL_PROVIDERS={
            "ok": "dummy://",
            "broken": {"BACKEND": "no.such.module.EmailBackend"},
        }
    )
    assert providers.get("missing") is None
    assert providers.get("missing", sentinel) is sentinel
    assert isinstance(providers.get("ok"), dummy.EmailBackend)
    with pytest.raises(InvalidEmailProvider) as info:
        providers.get("broken")
    assert info.value.alias == "broken"
    assert "no.such.module" in str(info.value)


def test_unimportable_backend_reported_at_first_use_naming_alias() -> None:
    configure(EMAIL_PROVIDERS={"default": "dummy://", "bad": {"BACKEND": "nowhere.Backend"}})
    providers["default"]  # other aliases still work
    with pytest.raises(InvalidEmailProvider) as info:
        providers["bad"]
    assert info.value.option == "BACKEND"
    assert "'bad'" in str(info.value)


def test_settings_property_is_loaded_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_PROVIDERS__default", "console://")
    monkeypatch.setenv("DEFAULT_FROM_EMAIL", "app@example.com")
    settings = providers.settings
    assert isinstance(settings, mailproviders.MailSettings)
    assert settings.DEFAULT_FROM_EMAIL == "app@example.com"
    assert settings.EMAIL_PROVIDERS is not None
    assert settings.EMAIL_PROVIDERS["default"].BACKEND.endswith("console.EmailBackend")


def test_configuration_is_read_lazily_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_PROVIDERS__default", "dummy://")
    assert isinstance(providers.default, dummy.EmailBackend)
    monkeypatch.setenv("EMAIL_PROVIDERS__default", "locmem://")
    assert isinstance(providers.default, dummy.EmailBackend)  # read once
    configure()  # re-reads the sources
    assert isinstance(providers.default, locmem.EmailBackend)


def test_create_connection_overrides_options() -> None:
    configure(EMAIL_PROVIDERS={"default": "smtp://mail.example.com:2525"})
    backend = providers.create_connection("default", port=2626)
    assert isinstance(backend, smtp.EmailBackend)
    assert (backend.host, backend.port) == ("mail.example.com", 2626)
    assert providers.create_connection("default").port == 2525


def test_cacheable_instance_reused_within_a_thread_not_across_threads() -> None:
    configure(EMAIL_PROVIDERS={"default": {"BACKEND": CACHED}})
    first = providers["default"]
    assert providers["default"] is first
    seen: list[BaseEmailBackend] = []
    thread = threading.Thread(target=lambda: seen.extend([providers["default"]] * 1))
    thread.start()
    thread.join()
    assert seen[0] is not first
    assert seen[0].alias == "default"


def test_cacheable_instance_per_asyncio_task_and_not_inherited() -> None:
    configure(EMAIL_PROVIDERS={"default": {"BACKEND": CACHED}})

    async def in_task() -> tuple[BaseEmailBackend, BaseEmailBackend]:
        return providers["default"], providers["default"]

    async def main() -> list[BaseEmailBackend]:
        parent = providers["default"]
        results = await asyncio.gather(in_task(), in_task())
        for first, second in results:
            assert first is second  # reused within a task
            assert first is not parent  # a new task never reuses its parent's
        assert results[0][0] is not results[1][0]
        assert providers["default"] is parent
        return [parent, results[0][0], results[1][0]]

    instances = asyncio.run(main())
    providers.close_all()
    assert {id(b) for b in CachedBackend.closed} == {id(b) for b in instances}


def test_close_all_closes_cached_instances_of_all_threads() -> None:
    configure(EMAIL_PROVIDERS={"default": {"BACKEND": CACHED}})
    mine = providers["default"]
    others: list[BaseEmailBackend] = []
    threads = [
        threading.Thread(target=lambda: others.append(providers["default"])) for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    providers.close_all()
    assert len(CachedBackend.closed) == 4
    assert any(b is mine for b in CachedBackend.closed)
    assert providers["default"] is not mine  # a fresh instance after close_all


def test_close_all_closes_cached_smtp_connection(smtp_server: Any) -> None:
    configure(
        EMAIL_PROVIDERS={
            "default": {"BACKEND": f"{__name__}.CachedSMTP", "OPTIONS": smtp_server.options()}
        }
    )
    backend = providers["default"]
    backend.open()
    sent = backend.send_messages([EmailMessage("s", "b", "a@example.com", ["b@example.com"])])
    assert sent == 1
    assert backend.connection is not None
    providers.close_all()
    assert backend.connection is None
    assert len(smtp_server.messages) == 1


def test_configure_closes_cached_instances_and_replaces_configuration() -> None:
    configure(EMAIL_PROVIDERS={"default": {"BACKEND": CACHED}})
    cached = providers["default"]
    configure(EMAIL_PROVIDERS={"default": "dummy://"})
    assert CachedBackend.closed == [cached]
    assert isinstance(providers["default"], dummy.EmailBackend)


def test_configure_with_invalid_configuration_changes_nothing() -> None:
    configure(EMAIL_PROVIDERS={"default": "dummy://"})
    with pytest.raises(InvalidEmailProvider) as info:
        configure(EMAIL_PROVIDERS={"default": {"BACKEND": "smtp", "OPTIONS": {"port": "abc"}}})
    assert "port" in str(info.value)
    assert isinstance(providers["default"], dummy.EmailBackend)


def test_configure_in_code_beats_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_PROVIDERS__env_only", "dummy://")
    configure(EMAIL_PROVIDERS={"code": "locmem://"})
    assert list(providers) == ["code"]  # replaced, not merged


def test_repr_lists_aliases_and_never_secrets() -> None:
    configure(EMAIL_PROVIDERS={"default": "smtp+starttls://user:s3cr3t-pw@mail.example.com:587"})
    assert "default" in repr(providers)
    assert "s3cr3t-pw" not in repr(providers)
    assert "s3cr3t-pw" not in repr(providers.default)
    assert "s3cr3t-pw" not in repr(providers.settings)


# --- found by mutation testing (scripts/mutation handler) -------------------------------


class FailingClose(CachedBackend):
    """A cacheable backend whose close() fails (a fault no built-in backend has)."""

    def close(self) -> None:
        raise RuntimeError(f"close of {self.alias} failed")


def test_a_fresh_handler_reads_the_environment_and_works(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The module-level handler was built at import: these run a new one's __init__.
    monkeypatch.setenv("EMAIL_PROVIDERS__mail", "roundrobin://a,b")
    monkeypatch.setenv("EMAIL_PROVIDERS__a", "locmem://")
    monkeypatch.setenv("EMAIL_PROVIDERS__b", "smtp://mx.example:2525")
    handler = mailproviders.handler.ProvidersHandler()
    assert list(handler) == ["mail", "a", "b"]
    assert [handler.next_position("x") for _ in range(3)] == [0, 1, 2]
    assert handler.next_position("y") == 0
    cached = handler["mail"]
    assert cached is handler["mail"]
    backend = handler["b"]  # not cacheable: built with its OPTIONS
    assert isinstance(backend, smtp.EmailBackend)
    assert (backend.alias, backend.host, backend.port) == ("b", "mx.example", 2525)
    handler.close_all()
    assert handler["mail"] is not cached


def test_create_connection_passes_the_alias() -> None:
    configure(EMAIL_PROVIDERS={"Notify": "smtp://mx.example:2525"})
    backend = providers.create_connection("Notify", port=2626)
    assert isinstance(backend, smtp.EmailBackend)
    assert (backend.alias, backend.host, backend.port) == ("Notify", "mx.example", 2626)


def test_close_all_raises_the_close_error_after_closing_the_others() -> None:
    configure(
        EMAIL_PROVIDERS={"ok": {"BACKEND": CACHED}, "bad": {"BACKEND": f"{__name__}.FailingClose"}}
    )
    ok, _ = providers["ok"], providers["bad"]
    with pytest.raises(RuntimeError, match="close of bad failed"):
        providers.close_all()
    assert CachedBackend.closed == [ok]


def test_aclose_all_raises_the_close_error_after_closing_the_others() -> None:
    configure(
        EMAIL_PROVIDERS={"ok": {"BACKEND": CACHED}, "bad": {"BACKEND": f"{__name__}.FailingClose"}}
    )
    ok, _ = providers["ok"], providers["bad"]
    with pytest.raises(RuntimeError, match="close of bad failed"):
        asyncio.run(providers.aclose_all())
    assert CachedBackend.closed == [ok]
    asyncio.run(providers.aclose_all())  # forgotten: nothing left to close


def test_configure_installs_given_settings_object() -> None:
    settings = mailproviders.config.load_settings(EMAIL_PROVIDERS={"given": "dummy://"})
    assert configure(settings) is not None
    assert list(providers) == ["given"]


def test_message_defaults_come_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "XYZ-05:30")  # a POSIX zone 5 h 30 min east of UTC
    time.tzset()
    try:
        configure(DEFAULT_FROM_EMAIL="noreply@example.org", EMAIL_USE_LOCALTIME=True)
        message = EmailMessage("s", "b", to=["to@example.com"]).message()
        assert message["From"] == "noreply@example.org"
        assert str(message["Date"]).endswith("+0530")
        configure(EMAIL_USE_LOCALTIME=False)
        assert EmailMessage("s", "b", to=["to@example.com"]).message()["Date"].endswith("+0000")
    finally:
        monkeypatch.undo()
        time.tzset()
