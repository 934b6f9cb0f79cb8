"""Django 6.1 behaviours that legacy code relies on (found with scripts/django-compat)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterable
from email.mime.image import MIMEImage

import pytest

import mailproviders
from mailproviders import (
    EmailMessage,
    MailProvidersDeprecationWarning,
    _hooks,
    configure,
    send_mail,
)
from mailproviders.backends import locmem, smtp
from mailproviders.backends.base import BaseEmailBackend
from mailproviders.message import hostname


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class Promise:
    """A stand-in for ``django.utils.functional.Promise`` (the base of lazy strings)."""


Promise.__module__ = "django.utils.functional"


class LazyString(Promise):
    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text


def test_bad_header_error_is_value_error_and_deprecated() -> None:
    with pytest.warns(MailProvidersDeprecationWarning, match="catch ValueError"):
        from mailproviders import BadHeaderError
    assert BadHeaderError is ValueError
    with pytest.raises(BadHeaderError):  # the header check's error is caught the old way
        EmailMessage("a\nb", "body", "from@example.com", ["to@example.com"]).message()
    with pytest.warns(MailProvidersDeprecationWarning):
        assert mailproviders.legacy.BadHeaderError is ValueError


def test_auth_arguments_with_connection_are_a_type_error() -> None:
    configure(EMAIL_PROVIDERS={"default": "locmem://"})
    connection = locmem.EmailBackend()
    for auth in ({"auth_user": "u"}, {"auth_password": "p"}):
        with pytest.raises(TypeError, match="cannot be used with a connection"):
            send_mail("s", "m", "f@example.com", ["t@example.com"], connection=connection, **auth)
    assert locmem.outbox == []


def test_legacy_fail_silently_silences_smtp_open_and_with() -> None:
    with pytest.warns(MailProvidersDeprecationWarning):
        backend = smtp.EmailBackend(host="127.0.0.1", port=closed_port(), fail_silently=True)
    backend.open()  # refused, silenced
    with backend as entered:
        assert entered is backend
    asyncio.run(backend.aopen())
    strict = smtp.EmailBackend(host="127.0.0.1", port=closed_port())
    with pytest.raises(ConnectionRefusedError):
        strict.open()


def test_deleting_the_cached_dns_name_looks_it_up_again() -> None:
    name = hostname.CachedDnsName(resolve=lambda: "first.example.com")
    assert str(name) == "first.example.com"
    name._resolve = lambda: "second.example.com"
    del name._fqdn  # what Django's own tests do to reset DNS_NAME
    assert str(name) == "second.example.com"


class CountingBackend(BaseEmailBackend):
    """A backend written the Django way: ``len()`` of what it is given."""

    def send_messages(self, email_messages: Iterable[EmailMessage]) -> int:
        return len(email_messages)  # type: ignore[arg-type]


def test_custom_backend_gets_a_list_from_send_mail() -> None:
    configure(EMAIL_PROVIDERS={"default": "locmem://"})
    backend = CountingBackend()
    with pytest.warns(MailProvidersDeprecationWarning, match="'connection' argument"):
        assert send_mail("s", "m", "f@example.com", ["t@example.com"], connection=backend) == 1
    with pytest.warns(MailProvidersDeprecationWarning):
        sent = asyncio.run(
            mailproviders.asend_mail(
                "s", "m", "f@example.com", ["t@example.com"], connection=backend
            )
        )
    assert sent == 1


class LazyText:
    """An object with a ``__str__`` that is not a lazy string: never taken for text."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text


@pytest.mark.parametrize("setting", ["ADMINS", "MANAGERS"])
def test_admins_managers_accept_lazy_strings(setting: str) -> None:
    loaded = configure(**{setting: [LazyString("a@example.com")]})
    assert getattr(loaded, setting) == ["a@example.com"]
    loaded = configure(**{setting: LazyString("a@example.com, b@example.com")})
    assert getattr(loaded, setting) == ["a@example.com", "b@example.com"]


@pytest.mark.parametrize("setting", ["ADMINS", "MANAGERS"])
def test_admins_managers_name_address_pairs_are_deprecated(setting: str) -> None:
    pairs = [("Nobody", "nobody@example.com"), ["Other", "other@example.com"]]
    with pytest.warns(
        MailProvidersDeprecationWarning, match=f"pairs in the {setting} setting"
    ) as caught:
        loaded = configure(**{setting: pairs})
    assert caught[0].filename == __file__  # the caller's line, not pydantic's
    assert getattr(loaded, setting) == ["nobody@example.com", "other@example.com"]
    for bad in ([("name", "test", "example.com")], [("Name <test@example.com",)], [[]]):
        with pytest.raises(mailproviders.ImproperlyConfigured, match=f"{setting}.0"):
            configure(**{setting: bad})


def test_lazy_strings_are_accepted_in_messages() -> None:
    message = EmailMessage(
        LazyString("Subject"),
        LazyString("Body"),
        LazyString("from@example.com"),
        [LazyString("to@example.com")],
        reply_to=[LazyString("reply@example.com")],
    )
    assert (message.subject, message.body, message.from_email) == (
        "Subject",
        "Body",
        "from@example.com",
    )
    assert message.to == ["to@example.com"]
    assert message.reply_to == ["reply@example.com"]
    assert message.message()["Subject"] == "Subject"


def test_other_objects_with_str_are_still_rejected() -> None:
    with pytest.raises(TypeError, match="subject"):
        EmailMessage(LazyText("Subject"), "Body", "f@example.com", ["t@example.com"])


def test_send_functions_take_optional_arguments_by_position_with_a_warning() -> None:
    configure(EMAIL_PROVIDERS={"default": "locmem://"}, ADMINS=["a@example.com"])
    with pytest.warns(MailProvidersDeprecationWarning, match="fail_silently") as caught:
        sent = send_mail("s", "m", "f@example.com", ["t@example.com"], True)
    assert sent == 1
    assert caught[0].filename == __file__
    with pytest.warns(MailProvidersDeprecationWarning, match="html_message"):
        mailproviders.mail_admins("s", "m", False, None, "<p>html</p>")
    assert locmem.outbox[-1].alternatives[0].content == "<p>html</p>"
    with pytest.warns(MailProvidersDeprecationWarning, match="'auth_password', 'connection'"):
        assert mailproviders.send_mass_mail([], False, None, None, None) == 0
    with pytest.warns(MailProvidersDeprecationWarning, match="asend_mail"):
        coroutine = mailproviders.asend_mail("s", "m", "f@example.com", ["t@example.com"], True)
    assert asyncio.run(coroutine) == 1


def test_messages_take_optional_arguments_by_position_with_a_warning() -> None:
    with pytest.warns(MailProvidersDeprecationWarning, match="'bcc', 'connection', 'attachments'"):
        message = EmailMessage(
            "s", "b", "f@example.com", ["t@example.com"], ["bcc@example.com"], None, None
        )
    assert message.bcc == ["bcc@example.com"]
    with pytest.warns(MailProvidersDeprecationWarning, match="'alternatives', 'cc'"):
        multi = mailproviders.EmailMultiAlternatives(
            "s", "b", "f@example.com", ["t@example.com"], None, None, None, None,
            [("<p>x</p>", "text/html")], ["cc@example.com"],
        )  # fmt: skip
    assert multi.cc == ["cc@example.com"]
    assert multi.alternatives[0].mimetype == "text/html"
    with pytest.raises(TypeError):  # one argument too many fails as Python makes it
        EmailMessage("s", "b", "f", ["t@example.com"], *[None] * 7)
    with pytest.raises(TypeError):  # given twice
        EmailMessage("s", "b", "f", ["t@example.com"], None, bcc=None)


def test_the_strict_hook_rejects_positional_optional_arguments(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_hooks, "compat", _hooks.Compat())
    with pytest.raises(TypeError, match="bcc as keyword arguments only"):
        EmailMessage("s", "b", "f@example.com", ["t@example.com"], ["bcc@example.com"])


def test_dns_name_looks_up_socket_getfqdn_at_lookup_time(monkeypatch: pytest.MonkeyPatch) -> None:
    name = hostname.CachedDnsName()
    monkeypatch.setattr(socket, "getfqdn", lambda: "漢字")  # patched after creation
    assert str(name) == "xn--p8s937b"


def test_email_mime_attachments_are_accepted_with_a_warning() -> None:
    image = MIMEImage(b"GIF89a...", "gif")
    image["Content-ID"] = "<image@example.com>"
    message = EmailMessage("s", "b", "f@example.com", ["t@example.com"])
    with pytest.warns(MailProvidersDeprecationWarning, match="MIMEImage") as caught:
        message.attach(image)
    assert caught[0].filename == __file__
    with pytest.warns(MailProvidersDeprecationWarning, match="MIMEImage"):
        built = EmailMessage("s", "b", "f@example.com", ["t@example.com"], attachments=[image])
    for each in (message, built):
        part = each.message().get_payload()[1]
        assert part.get_content_type() == "image/gif"
        assert part["Content-ID"] == "<image@example.com>"
        assert part.get_payload(decode=True) == b"GIF89a..."


def test_the_strict_hook_rejects_email_mime_attachments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_hooks, "compat", _hooks.Compat())
    with pytest.raises(TypeError, match="MIMEImage attachments"):
        EmailMessage().attach(MIMEImage(b"GIF89a...", "gif"))
