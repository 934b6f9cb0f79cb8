"""More Django 6.1 behaviours legacy code relies on (issue 14, found with
scripts/django-compat): each test is written from the behaviour, not from Django's tests."""

from __future__ import annotations

import pickle
import socket
import warnings
from collections.abc import Iterable, Iterator
from email.mime.text import MIMEText
from typing import Any

import pytest

from mailproviders import (
    EmailMessage,
    EmailProviderDoesNotExist,
    MailProvidersDeprecationWarning,
    configure,
    get_connection,
    outbox,
    send_mail,
    send_mass_mail,
)
from mailproviders.backends import console, dummy, locmem, smtp
from mailproviders.backends.base import BaseEmailBackend


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class Keeping(BaseEmailBackend):
    """Keeps the message objects it is given (not copies)."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[EmailMessage] = []

    def send_messages(self, messages: Iterable[EmailMessage]) -> int:
        batch = list(messages)
        self.received.extend(batch)
        return len(batch)


@pytest.fixture
def strict_warnings() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("error", MailProvidersDeprecationWarning)
        yield


def test_connection_attribute_is_deprecated_on_read_and_write() -> None:
    message = EmailMessage("s", "b", "from@example.com", ["to@example.com"])
    backend = locmem.EmailBackend()
    with pytest.warns(MailProvidersDeprecationWarning, match="send\\(using=") as caught:
        message.connection = backend
    assert caught[0].filename == __file__
    with pytest.warns(MailProvidersDeprecationWarning, match="attribute is deprecated"):
        assert message.connection is backend


def test_connection_argument_is_readable_as_the_attribute() -> None:
    backend = locmem.EmailBackend()
    with pytest.warns(MailProvidersDeprecationWarning):
        message = EmailMessage(
            "s", "b", "from@example.com", ["to@example.com"], connection=backend
        )
        assert message.connection is backend


def test_send_functions_keep_the_connection_on_their_messages() -> None:
    configure(EMAIL_PROVIDERS={"default": "locmem://"})
    backend = Keeping()
    datatuple = [("s1", "b", "f@example.com", ["a@example.com"]), ("s2", "b", None, ["b@x.org"])]
    with pytest.warns(MailProvidersDeprecationWarning):
        assert send_mass_mail(datatuple, connection=backend) == 2
        assert send_mail("s3", "b", "f@example.com", ["c@example.com"], connection=backend) == 1
        assert [m.connection for m in backend.received] == [backend] * 3
    assert outbox == []


def test_messages_sent_by_alias_have_no_connection(strict_warnings: None) -> None:
    configure(EMAIL_PROVIDERS={"default": "locmem://"})
    assert send_mass_mail([("s", "b", "f@example.com", ["a@example.com"])]) == 1
    assert outbox[0]._connection is None


@pytest.mark.parametrize(
    ("start", "call"),
    [
        ("The 'connection' argument is deprecated", "connection"),
        ("The 'auth_user' and 'auth_password' arguments are deprecated", "auth"),
        ("Passing positional argument(s) 'fail_silently'", "positional"),
        ("MIMEBase attachments are deprecated", "mime"),
        ("The EmailMessage.connection attribute is deprecated", "attribute"),
        ("BaseEmailBackend.fail_silently is deprecated", "backend attribute"),
        ("The EMAIL_HOST setting is deprecated. Migrate to EMAIL_PROVIDERS", "settings"),
        (r"The EMAIL_\w+ setting is deprecated", "settings"),
        ("get_connection() is deprecated", "get_connection"),
    ],
)
def test_warning_filters_written_for_django_keep_matching(
    start: str, call: str, strict_warnings: None
) -> None:
    # A filter's message is a regular expression matched at the start of the text.
    refused = {"host": "127.0.0.1", "port": closed_port()}  # the auth call is sent there
    configure(EMAIL_PROVIDERS={"default": {"BACKEND": "smtp", "OPTIONS": refused}})
    args = ("s", "b", "f@example.com", ["t@example.com"])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=start.replace("(", r"\(").replace(")", r"\)"))
        if call == "connection":
            send_mail(*args, connection=locmem.EmailBackend())
            assert len(outbox) == 1
        elif call == "auth":
            send_mail(*args, auth_user="u", auth_password="p", fail_silently=True)
        elif call == "positional":
            send_mail(*args, True)  # type: ignore[misc]
        elif call == "mime":
            EmailMessage(*args).attach(MIMEText("text"))
        elif call == "backend attribute":
            assert locmem.EmailBackend().fail_silently is False
        elif call == "settings":
            configure(EMAIL_HOST="smtp.example.com", EMAIL_PORT=587, EMAIL_USE_TLS=True)
        elif call == "get_connection":
            get_connection()
        else:
            EmailMessage(*args).connection = None


def test_get_connection_takes_fail_silently_by_position() -> None:
    with pytest.warns(MailProvidersDeprecationWarning) as caught:
        backend = get_connection("mailproviders.backends.console.EmailBackend", True)
    texts = [str(w.message) for w in caught]
    assert any("'fail_silently' to get_connection() is deprecated" in t for t in texts)
    assert isinstance(backend, console.EmailBackend)
    assert backend.fail_silently is True


def test_using_with_auth_arguments_is_a_type_error() -> None:
    options = {"host": "127.0.0.1", "port": closed_port()}
    configure(EMAIL_PROVIDERS={"default": {"BACKEND": "smtp", "OPTIONS": options}})
    for auth in ({"auth_user": "u"}, {"auth_password": "p"}):
        with pytest.raises(TypeError, match="not compatible with 'using'"):
            send_mail("s", "b", "f@example.com", ["t@example.com"], using="default", **auth)


def test_connection_with_using_is_a_type_error() -> None:
    configure(EMAIL_PROVIDERS={"default": "locmem://"})
    with pytest.raises(TypeError, match="'connection' is not compatible with 'using'"):
        send_mail("s", "b", "f@example.com", ["t@example.com"], using="default",
                  connection=locmem.EmailBackend())  # fmt: skip
    assert outbox == []


def test_smtp_backend_offers_prep_address(strict_warnings: None) -> None:
    backend: Any = smtp.EmailBackend(host="127.0.0.1")
    assert backend.prep_address("Name <a@example.com>") == "a@example.com"
    assert backend.prep_address("oh@åh.example.dk") == "oh@xn--h-1fa.example.dk"
    for address in ("åh@example.dk", "oh@åh.example.dk", "åh@åh.example.dk"):
        assert backend.prep_address(address, force_ascii=False) == address
    with pytest.raises(ValueError, match="non-ASCII"):
        backend.prep_address("åh@example.dk")
    with pytest.raises(ValueError, match="line break"):
        backend.prep_address("a@example.com\nBcc: x@example.com")
    with pytest.raises(AttributeError):
        dummy.EmailBackend().prep_address  # only the SMTP backend has it


def test_smtp_open_says_whether_it_opened(smtp_server: Any) -> None:
    backend = smtp.EmailBackend(**smtp_server.options())
    try:
        assert backend.open() is True
        assert backend.open() is False
    finally:
        backend.close()
    assert backend.open() is True
    backend.close()


def test_fail_silently_set_after_building_silences_open() -> None:
    backend = smtp.EmailBackend(host="127.0.0.1", port=closed_port())
    backend.fail_silently = False  # the default: nothing to warn about
    with pytest.raises(ConnectionRefusedError):
        backend.open()
    with pytest.warns(MailProvidersDeprecationWarning, match="fail_silently"):
        backend.fail_silently = True
    assert backend.fail_silently is True
    assert backend.open() is None  # refused, silenced
    assert backend.connection is None


def test_email_mime_attachment_is_attached_as_it_is() -> None:
    part = MIMEText("content")
    with pytest.warns(MailProvidersDeprecationWarning):
        message = EmailMessage("s", "b", "f@example.com", ["t@example.com"], attachments=[part])
    assert message.attachments == [part]
    assert message.message().get_payload()[1] is part
    assert b"content" in message.as_bytes()


def test_provider_does_not_exist_takes_the_alias_by_keyword_only() -> None:
    with pytest.raises(TypeError):
        EmailProviderDoesNotExist("some other problem")  # type: ignore[misc]
    error = EmailProviderDoesNotExist(alias="mail", configured=["main"])
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), copy.alias, str(copy)) == (EmailProviderDoesNotExist, "mail", str(error))


@pytest.mark.parametrize(
    ("name", "cls"), [("SafeMIMEText", MIMEText), ("SafeMIMEMultipart", None)]
)
def test_safe_mime_classes_are_the_standard_ones_with_a_warning(name: str, cls: Any) -> None:
    import email.mime.multipart

    import mailproviders.legacy

    expected = cls or email.mime.multipart.MIMEMultipart
    with pytest.warns(MailProvidersDeprecationWarning, match=f"^{name} is deprecated") as caught:
        assert getattr(mailproviders.legacy, name) is expected
    assert caught[0].filename == __file__
