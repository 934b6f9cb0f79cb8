"""Send functions: `using`, uniform `fail_silently`, DEFAULTS, partial failure."""

from __future__ import annotations

import logging
import smtplib
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from mailproviders import (
    EmailMessage,
    EmailMultiAlternatives,
    EmailProviderDoesNotExist,
    InvalidEmailProvider,
    configure,
    mail_admins,
    mail_managers,
    outbox,
    send_mail,
    send_mass_mail,
    sent_messages_of,
)
from mailproviders.backends.base import BaseEmailBackend


class ExplodingBackend(BaseEmailBackend):
    """A custom backend whose send always fails with a non-mail exception."""

    def send_messages(self, messages: Any) -> int:
        raise RuntimeError("backend exploded")


EXPLODING = f"{__name__}.ExplodingBackend"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def two_providers(smtp_server: Any) -> None:
    configure(
        EMAIL_PROVIDERS={
            "default": {"BACKEND": "smtp", "OPTIONS": smtp_server.options()},
            "notifications": {
                "BACKEND": "locmem",
                "DEFAULTS": {"from_email": "notify@example.com"},
            },
        }
    )


def test_send_mail_goes_to_the_named_provider(smtp_server: Any) -> None:
    two_providers(smtp_server)
    assert send_mail("one", "body", "a@example.com", ["x@example.com"]) == 1
    assert send_mail("two", "body", None, ["y@example.com"], using="notifications") == 1
    assert [m.mail_from for m in smtp_server.messages] == ["a@example.com"]
    assert [m.subject for m in outbox] == ["two"]
    assert outbox[0].sent_using == "notifications"
    assert outbox[0].from_email == "notify@example.com"


def test_send_mail_html_message_adds_alternative() -> None:
    configure(EMAIL_PROVIDERS={"default": "locmem://"})
    send_mail("s", "text", "a@example.com", ["b@example.com"], html_message="<b>html</b>")
    (sent,) = outbox
    assert isinstance(sent, EmailMultiAlternatives)
    assert sent.alternatives[0].mimetype == "text/html"


def test_message_send_using(smtp_server: Any) -> None:
    two_providers(smtp_server)
    message = EmailMessage("hello", "body", "me@example.com", ["to@example.com"])
    assert message.send(using="notifications") == 1
    assert message.send() == 1
    assert len(outbox) == 1
    assert len(smtp_server.messages) == 1


def test_message_without_recipients_touches_no_provider() -> None:
    # No configuration at all: resolving a provider would raise.
    assert EmailMessage("s", "b", "a@example.com").send() == 0
    assert EmailMessage("s", "b", "a@example.com", to=[""]).send(using="nowhere") == 0


def test_send_mass_mail_one_connection_and_generator(smtp_server: Any) -> None:
    configure(EMAIL_PROVIDERS={"default": {"BACKEND": "smtp", "OPTIONS": smtp_server.options()}})

    def datatuples() -> Iterator[tuple[str, str, str, list[str]]]:
        for i in range(450):  # more than one internal batch
            yield (f"m{i}", "body", "from@example.com", [f"r{i}@example.com"])

    assert send_mass_mail(datatuples()) == 450
    assert len(smtp_server.messages) == 450
    assert smtp_server.connection_count == 1


def test_send_mass_mail_using_alias() -> None:
    configure(EMAIL_PROVIDERS={"default": "dummy://", "bulk": "locmem://"})
    count = send_mass_mail(
        [("a", "b", "f@example.com", ["x@example.com"]), ("c", "d", None, ["y@example.com"])],
        using="bulk",
    )
    assert count == 2
    assert [m.sent_using for m in outbox] == ["bulk", "bulk"]


def test_mail_admins_and_managers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMINS", '["admin@example.com"]')
    monkeypatch.setenv("MANAGERS", '["boss@example.com", "chief@example.com"]')
    monkeypatch.setenv("SERVER_EMAIL", "server@example.com")
    monkeypatch.setenv("EMAIL_SUBJECT_PREFIX", "[app] ")
    monkeypatch.setenv("EMAIL_PROVIDERS__default", "locmem://")
    monkeypatch.setenv("EMAIL_PROVIDERS__ops", "locmem://")
    assert mail_admins("disk full", "details", html_message="<p>details</p>") == 1
    assert mail_managers("report", "numbers", using="ops") == 1
    admin, manager = outbox
    assert (admin.subject, admin.from_email, admin.to) == (
        "[app] disk full",
        "server@example.com",
        ["admin@example.com"],
    )
    assert admin.sent_using == "default"
    assert manager.to == ["boss@example.com", "chief@example.com"]
    assert manager.sent_using == "ops"


def test_mail_admins_with_empty_list_resolves_no_provider() -> None:
    # No provider configured: returning 0 proves none was resolved.
    assert mail_admins("s", "m") == 0
    assert mail_managers("s", "m", using="missing") == 0


# -- fail_silently ---------------------------------------------------------------------------


def test_unknown_alias_raises_even_with_fail_silently() -> None:
    configure(EMAIL_PROVIDERS={"default": "locmem://"})
    with pytest.raises(EmailProviderDoesNotExist):
        send_mail("s", "b", "a@example.com", ["b@example.com"], using="nope", fail_silently=True)


def test_invalid_backend_raises_even_with_fail_silently() -> None:
    configure(EMAIL_PROVIDERS={"default": {"BACKEND": "no.such.Backend"}})
    with pytest.raises(InvalidEmailProvider, match=r"no\.such\.Backend"):
        send_mail("s", "b", "a@example.com", ["b@example.com"], fail_silently=True)
    with pytest.raises(InvalidEmailProvider):
        EmailMessage("s", "b", "a@example.com", ["b@example.com"]).send(fail_silently=True)


def _send_injected(fail_silently: bool) -> int:
    return send_mail("bad\r\nBcc: x@evil.example", "b", "a@example.com", ["b@example.com"],
                     fail_silently=fail_silently)  # fmt: skip


@pytest.mark.parametrize("backend", ["locmem://", "console://"])
def test_header_injection_silenced_and_logged(
    backend: str, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(EMAIL_PROVIDERS={"default": backend})
    with caplog.at_level(logging.WARNING, logger="mailproviders"):
        assert _send_injected(fail_silently=True) == 0
    (record,) = [r for r in caplog.records if r.name == "mailproviders"]
    assert record.levelno == logging.WARNING
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], ValueError)
    assert "'default'" in record.getMessage()
    assert outbox == []
    with pytest.raises(ValueError, match=r"(?i)subject"):
        _send_injected(fail_silently=False)
    assert "evil" not in capsys.readouterr().out


def test_connection_refused_silenced_and_raised(caplog: pytest.LogCaptureFixture) -> None:
    configure(
        EMAIL_PROVIDERS={
            "default": {"BACKEND": "smtp", "OPTIONS": {"host": "127.0.0.1", "port": free_port()}}
        }
    )
    with caplog.at_level(logging.WARNING, logger="mailproviders"):
        assert send_mail("s", "b", "a@example.com", ["b@example.com"], fail_silently=True) == 0
    assert any(isinstance(r.exc_info and r.exc_info[1], OSError) for r in caplog.records)
    with pytest.raises(ConnectionRefusedError) as info:
        send_mail("s", "b", "a@example.com", ["b@example.com"])
    assert info.value.sent_count == 0  # type: ignore[attr-defined]


def test_smtp_5xx_silenced_and_raised(fault_smtp_server: Any) -> None:
    server = fault_smtp_server(refuse_rcpt={"b@example.com"})
    configure(EMAIL_PROVIDERS={"default": {"BACKEND": "smtp", "OPTIONS": server.options()}})
    assert send_mail("s", "b", "a@example.com", ["b@example.com"], fail_silently=True) == 0
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send_mail("s", "b", "a@example.com", ["b@example.com"])
    assert server.messages == []


def test_runtime_error_of_custom_backend_silenced_and_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    configure(EMAIL_PROVIDERS={"default": {"BACKEND": EXPLODING}})
    message = EmailMessage("s", "b", "a@example.com", ["b@example.com"])
    with caplog.at_level(logging.WARNING, logger="mailproviders"):
        assert message.send(fail_silently=True) == 0
        assert send_mass_mail([("s", "b", None, ["x@example.com"])], fail_silently=True) == 0
    assert sum(1 for r in caplog.records if r.name == "mailproviders") == 2
    with pytest.raises(RuntimeError, match="exploded") as info:
        message.send()
    assert info.value.sent_count == 0  # type: ignore[attr-defined]


def test_connection_and_using_together_is_typeerror() -> None:
    configure(EMAIL_PROVIDERS={"default": "locmem://"})
    from mailproviders import providers
    from mailproviders.legacy import MailProvidersDeprecationWarning

    connection = providers.default
    with pytest.raises(TypeError):
        send_mail("s", "b", "a@e.com", ["b@e.com"], connection=connection, using="default")
    with pytest.warns(MailProvidersDeprecationWarning):
        message = EmailMessage("s", "b", "a@e.com", ["b@e.com"], connection=connection)
    with pytest.raises(TypeError):
        message.send(using="default")


# -- DEFAULTS --------------------------------------------------------------------------------


def test_defaults_per_provider_and_caller_object_unchanged(smtp_server: Any) -> None:
    configure(
        EMAIL_PROVIDERS={
            "default": {"BACKEND": "smtp", "OPTIONS": smtp_server.options()},
            "notifications": {
                "BACKEND": "locmem",
                "DEFAULTS": {
                    "from_email": "Notifier <notify@example.com>",
                    "reply_to": ["support@example.com"],
                    "headers": {"X-Origin": "notify", "X-Kind": "auto"},
                },
            },
        },
        DEFAULT_FROM_EMAIL="site@example.com",
    )
    message = EmailMessage("hi", "body", to=["u@example.com"], headers={"x-kind": "manual"})
    message.send(using="notifications")
    message.send(using="default")
    assert message.from_email is None
    assert message.reply_to == []
    assert message.extra_headers == {"x-kind": "manual"}
    (copy,) = outbox
    assert copy.from_email == "Notifier <notify@example.com>"
    parsed = copy.message()
    assert parsed["Reply-To"] == "support@example.com"
    assert parsed["X-Origin"] == "notify"
    assert parsed.get_all("X-Kind") == ["manual"]
    (received,) = smtp_server.messages
    assert received.mail_from == "site@example.com"

    own = EmailMessage("hi", "body", "mine@example.com", ["u@example.com"])
    own.send(using="notifications")
    assert outbox[-1].from_email == "mine@example.com"


def test_unknown_defaults_key_is_load_error() -> None:
    with pytest.raises(InvalidEmailProvider, match="DEFAULTS"):
        configure(EMAIL_PROVIDERS={"default": {"BACKEND": "locmem", "DEFAULTS": {"subject": "x"}}})


# -- partial failure -------------------------------------------------------------------------


def _five() -> list[EmailMessage]:
    return [EmailMessage(f"m{i}", "b", "a@example.com", [f"r{i}@example.com"]) for i in range(5)]


def test_partial_failure_send_messages(fault_smtp_server: Any) -> None:
    server = fault_smtp_server(mail_reply="451 4.3.0 try later", mail_reply_at=3)
    configure(EMAIL_PROVIDERS={"default": {"BACKEND": "smtp", "OPTIONS": server.options()}})
    from mailproviders import providers

    messages = _five()
    with pytest.raises(smtplib.SMTPException) as info:
        providers.default.send_messages(messages)
    assert info.value.sent_count == 2  # type: ignore[attr-defined]
    assert sent_messages_of(info.value) == messages[:2]
    assert all(a is b for a, b in zip(sent_messages_of(info.value), messages[:2], strict=True))
    assert [m.parsed()["Subject"] for m in server.messages] == ["m0", "m1"]
    assert any("2 messages were accepted" in note for note in info.value.__notes__)


def test_partial_failure_send_mass_mail(fault_smtp_server: Any) -> None:
    server = fault_smtp_server(mail_reply="451 4.3.0 try later", mail_reply_at=3)
    configure(EMAIL_PROVIDERS={"default": {"BACKEND": "smtp", "OPTIONS": server.options()}})
    data = [(f"m{i}", "b", "a@example.com", [f"r{i}@example.com"]) for i in range(5)]
    with pytest.raises(smtplib.SMTPException) as info:
        send_mass_mail(data)
    assert info.value.sent_count == 2  # type: ignore[attr-defined]
    assert [m.subject for m in sent_messages_of(info.value)] == ["m0", "m1"]
    assert len(server.messages) == 2


def test_partial_failure_with_fail_silently_returns_truth(fault_smtp_server: Any) -> None:
    server = fault_smtp_server(mail_reply="451 4.3.0 try later", mail_reply_at=3)
    configure(EMAIL_PROVIDERS={"default": {"BACKEND": "smtp", "OPTIONS": server.options()}})
    data = ((f"m{i}", "b", "a@example.com", [f"r{i}@example.com"]) for i in range(5))
    assert send_mass_mail(data, fail_silently=True) == 2
    assert len(server.messages) == 2


def test_defaults_message_partial_failure_reports_caller_objects(fault_smtp_server: Any) -> None:
    server = fault_smtp_server(refuse_rcpt={"no@example.com"})
    configure(
        EMAIL_PROVIDERS={
            "default": {
                "BACKEND": "smtp",
                "OPTIONS": server.options(),
                "DEFAULTS": {"from_email": "d@example.com"},
            }
        }
    )
    message = EmailMessage("s", "b", None, ["ok@example.com", "no@example.com"])
    assert message.send() == 1
    assert set(message.refused_recipients) == {"no@example.com"}
    assert message.refused_recipients["no@example.com"][0] == 550
    assert message.from_email is None
