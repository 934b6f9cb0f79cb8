"""override_providers, the outbox, and the pytest plugin's mailoutbox fixture."""

from __future__ import annotations

import asyncio
import threading

import pytest

import mailproviders
from mailproviders import EmailMessage, InvalidEmailProvider, configure, providers, send_mail
from mailproviders.backends import dummy, locmem
from mailproviders.testing import outbox, override_providers


def test_outbox_is_one_list() -> None:
    assert mailproviders.outbox is outbox
    assert locmem.outbox is outbox


def test_override_as_context_manager_restores_and_keeps_other_settings() -> None:
    configure(EMAIL_PROVIDERS={"default": "dummy://"}, DEFAULT_FROM_EMAIL="keep@example.com")
    with override_providers({"default": "locmem://", "extra": {"BACKEND": "locmem"}}):
        assert list(providers) == ["default", "extra"]
        assert providers.settings.DEFAULT_FROM_EMAIL == "keep@example.com"
        send_mail("s", "b", None, ["x@example.com"], using="extra")
    assert list(providers) == ["default"]
    assert isinstance(providers.default, dummy.EmailBackend)
    assert outbox[0].from_email is None or outbox[0].message()["From"] == "keep@example.com"


def test_override_restores_on_error() -> None:
    configure(EMAIL_PROVIDERS={"default": "dummy://"})
    with pytest.raises(ZeroDivisionError), override_providers({"default": "locmem://"}):
        raise ZeroDivisionError
    assert isinstance(providers.default, dummy.EmailBackend)


def test_override_validates_mapping() -> None:
    bad = {"default": {"BACKEND": "smtp", "OPTIONS": {"port": 0}}}
    with pytest.raises(InvalidEmailProvider, match="port"), override_providers(bad):
        pass


def test_override_is_visible_in_other_threads() -> None:
    configure(EMAIL_PROVIDERS={"default": "dummy://"})
    seen: list[object] = []
    with override_providers({"default": "locmem://"}):
        thread = threading.Thread(target=lambda: seen.append(providers.default))
        thread.start()
        thread.join()
    assert isinstance(seen[0], locmem.EmailBackend)


@override_providers({"default": "locmem://"})
def _decorated_sync() -> int:
    return EmailMessage("s", "b", "a@example.com", ["b@example.com"]).send()


@override_providers({"default": "locmem://"})
async def _decorated_async() -> int:
    await asyncio.sleep(0)
    return EmailMessage("s", "b", "a@example.com", ["b@example.com"]).send()


def test_override_as_decorator_sync_and_async() -> None:
    configure(EMAIL_PROVIDERS={"default": "dummy://"})
    assert _decorated_sync() == 1
    assert asyncio.run(_decorated_async()) == 1
    assert len(outbox) == 2
    assert isinstance(providers.default, dummy.EmailBackend)


def test_mailoutbox_fixture(mailoutbox: list[EmailMessage]) -> None:
    assert mailoutbox is outbox
    send_mail("s", "b", "a@example.com", ["b@example.com"])
    assert [m.sent_using for m in mailoutbox] == ["default"]


PLUGIN_TEST = """
import mailproviders
from mailproviders import EmailMessage, send_mail


def test_every_alias_is_locmem(mailoutbox):
    send_mail("one", "b", None, ["x@example.com"])
    send_mail("two", "b", None, ["y@example.com"], using="Alerts")
    sent = [(m.subject, m.sent_using) for m in mailoutbox]
    assert sent == [("one", "default"), ("two", "Alerts")]
    assert mailoutbox[1].message()["From"] == "alerts@example.com"


def test_outbox_emptied_between_tests(mailoutbox):
    assert mailoutbox == []


def test_configuration_restored_after():
    assert type(mailproviders.providers["default"]).__module__ == "mailproviders.backends.smtp"
"""


def test_plugin_swaps_every_alias(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMAIL_PROVIDERS__default", "smtp://mail.invalid:25")
    monkeypatch.setenv("EMAIL_PROVIDERS__Alerts__BACKEND", "smtp")
    monkeypatch.setenv("EMAIL_PROVIDERS__Alerts__OPTIONS__host", "mail.invalid")
    monkeypatch.setenv("EMAIL_PROVIDERS__Alerts__DEFAULTS__from_email", "alerts@example.com")
    pytester.makepyfile(PLUGIN_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_plugin_without_configuration_gives_locmem_default(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from mailproviders import EmailMessage

        def test_send(mailoutbox):
            assert EmailMessage("s", "b", "a@example.com", ["b@example.com"]).send() == 1
            assert mailoutbox[0].sent_using == "default"
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
