"""What older code did with messages: the connection attribute, a get_connection()
override, None in address lists (mailproviders.message.deprecated, .arguments)."""

from __future__ import annotations

import asyncio

import pytest

from mailproviders import EmailMessage, _hooks, configure, outbox
from mailproviders.backends import locmem


class WithGetConnection(EmailMessage):
    def get_connection(self, fail_silently: bool = False) -> locmem.EmailBackend:
        return locmem.EmailBackend()


def test_get_connection_override_is_rejected_before_any_provider() -> None:
    configure(EMAIL_PROVIDERS={"default": "locmem://"})
    message = WithGetConnection("s", "b", "from@example.com", ["to@example.com"])
    with pytest.raises(AttributeError, match=r"WithGetConnection\.get_connection\(\)"):
        message.send()
    with pytest.raises(AttributeError, match="using="):
        asyncio.run(message.asend())
    assert outbox == []


def test_a_message_without_the_override_sends() -> None:
    configure(EMAIL_PROVIDERS={"default": "locmem://"})
    assert EmailMessage("s", "b", "from@example.com", ["to@example.com"]).send() == 1


def test_none_in_address_lists_is_an_empty_entry() -> None:
    message = EmailMessage(
        "s", "b", "from@example.com", ["to@example.com", None], reply_to=["", None]
    )
    assert message.recipients() == ["to@example.com"]
    assert message.reply_to == ["", ""]
    assert "Reply-To" not in message.message()


def test_strict_core_rejects_setting_a_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without the legacy layer (the hook's base implementation) nothing can set it.
    monkeypatch.setattr(_hooks, "compat", _hooks.Compat())
    message = EmailMessage("s", "b", "from@example.com", ["to@example.com"])
    with pytest.raises(TypeError, match=r"send\(using=\.\.\.\)"):
        message.connection = locmem.EmailBackend()
    message.connection = None
    assert message.connection is None


def test_class_attribute_is_the_descriptor() -> None:
    assert EmailMessage.connection is vars(EmailMessage)["connection"]
