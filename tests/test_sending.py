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
    assert record.exc_info is None  # one line: the traceback goes to DEBUG
    assert isinstance(record.exception, ValueError)
    assert "'default'" in record.getMessage()
    assert "ValueError: Header 'Subject' must not contain line breaks" in record.getMessage()
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
    assert any(isinstance(getattr(r, "exception", None), OSError) for r in caplog.records)
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


# -- argument errors: raised before any provider is touched, never silenced ----------------


@pytest.mark.parametrize("fail_silently", [False, True])
@pytest.mark.parametrize(
    ("arguments", "named", "problem"),
    [
        ({"recipient_list": "bob@x.org"}, "recipient_list", "must be a list or tuple, not a"),
        ({"recipient_list": [b"bob@x.org"]}, "recipient_list", "item 0 is bytes"),
        ({"recipient_list": {"bob@x.org"}}, "recipient_list", "not set"),
        ({"recipient_list": [["bob@x.org"]]}, "recipient_list", "item 0 is list"),
        ({"message": b"hi"}, "message", "must be a string or None, not bytes"),
        ({"html_message": 42}, "html_message", "must be a string or None, not int"),
        ({"from_email": b"a@x.org"}, "from_email", "must be a string or None"),
        ({"subject": 3}, "subject", "must be a string or None"),
    ],
)
def test_send_mail_argument_errors_come_before_any_provider(
    arguments: dict[str, Any], named: str, problem: str, fail_silently: bool
) -> None:
    # No provider at all: resolving one would raise EmailProviderDoesNotExist instead.
    configure(EMAIL_PROVIDERS={})
    call: dict[str, Any] = {
        "subject": "s",
        "message": "b",
        "from_email": "a@x.org",
        "recipient_list": ["b@x.org"],
        **arguments,
    }
    with pytest.raises(TypeError, match=f'"{named}" argument.* {problem}'):
        send_mail(**call, fail_silently=fail_silently)
    data = [(call["subject"], call["message"], call["from_email"], call["recipient_list"])]
    if named != "html_message":
        with pytest.raises(TypeError, match=f'"{named} \\(datatuple item 0\\)" argument'):
            send_mass_mail(data, fail_silently=fail_silently)


@pytest.mark.parametrize("fail_silently", [False, True])
def test_mass_mail_sequence_is_checked_whole_before_any_provider(fail_silently: bool) -> None:
    configure(EMAIL_PROVIDERS={})
    good = ("s", "b", "a@x.org", ["b@x.org"])
    with pytest.raises(TypeError, match=r'"recipient_list \(datatuple item 2\)" argument'):
        send_mass_mail([good, good, ("s", "b", None, "c@x.org")], fail_silently=fail_silently)
    with pytest.raises(TypeError, match=r'"datatuple" argument .* item 1 is tuple'):
        send_mass_mail([good, ("s", "b", ["b@x.org"])], fail_silently=fail_silently)


@pytest.mark.parametrize("fail_silently", [False, True])
def test_mail_admins_argument_errors(fail_silently: bool) -> None:
    configure(EMAIL_PROVIDERS={}, ADMINS=["admin@x.org"], MANAGERS=["boss@x.org"])
    with pytest.raises(TypeError, match='"subject" argument'):
        mail_admins(b"disk full", "b", fail_silently=fail_silently)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match='"message" argument'):
        mail_managers("s", b"b", fail_silently=fail_silently)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match='"html_message" argument'):
        mail_admins("s", "b", html_message=42, fail_silently=fail_silently)  # type: ignore[arg-type]


def test_message_changed_after_init_is_checked_before_any_provider() -> None:
    configure(EMAIL_PROVIDERS={})
    message = EmailMessage("s", "b", "a@x.org", ["b@x.org"])
    message.to = "bob@x.org"  # type: ignore[assignment]
    with pytest.raises(TypeError, match='"to" argument must be a list or tuple'):
        message.send(fail_silently=True)
    message.to = ["b@x.org"]
    message.attachments.append(("self", message, "message/rfc822"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match='"content" argument is the message itself'):
        message.send(fail_silently=True)


def test_argument_error_in_a_generator_is_not_silenced() -> None:
    configure(EMAIL_PROVIDERS={"default": "locmem://"})

    def data() -> Iterator[tuple[str, str, str, Any]]:
        for n in range(250):
            yield (f"m{n}", "b", "a@x.org", ["b@x.org"] if n != 230 else "b@x.org")

    with pytest.raises(TypeError, match=r"datatuple item 230") as info:
        send_mass_mail(data(), fail_silently=True)
    assert info.value.sent_count == 200  # type: ignore[attr-defined]
    assert len(outbox) == 200


# -- the fail_silently log -------------------------------------------------------------------


def test_silenced_failure_logs_one_warning_line_and_the_traceback_at_debug(
    caplog: pytest.LogCaptureFixture,
) -> None:
    configure(EMAIL_PROVIDERS={"default": {"BACKEND": EXPLODING}})
    with caplog.at_level(logging.DEBUG, logger="mailproviders"):
        assert send_mail("s", "b", "a@x.org", ["b@x.org"], fail_silently=True) == 0
    warning, debug = [r for r in caplog.records if r.name == "mailproviders"]
    assert warning.levelno == logging.WARNING
    line = logging.Formatter("%(levelname)s %(message)s").format(warning)
    assert line == (
        "WARNING sending through provider 'default' failed (fail_silently=True), "
        "0 message(s) accepted: RuntimeError: backend exploded"
    )
    assert isinstance(warning.exception, RuntimeError)
    assert debug.levelno == logging.DEBUG
    assert debug.exc_info is not None and debug.exc_info[1] is warning.exception
    assert "Traceback" in logging.Formatter().format(debug)


# -- send_mass_mail across batch boundaries ---------------------------------------------------


@pytest.mark.parametrize("failing", [250, 450])  # in the second batch, in the third
@pytest.mark.parametrize("kind", ["list", "generator"])
def test_mass_mail_failure_past_a_batch_boundary(failing: int, kind: str) -> None:
    from mailproviders.sendplan import MASS_MAIL_BATCH

    assert MASS_MAIL_BATCH == 200
    configure(EMAIL_PROVIDERS={"default": "locmem://"})
    subjects = [f"m{n}" if n != failing else "bad\nsubject" for n in range(600)]

    def data() -> Any:
        tuples = ((subject, "b", "a@x.org", ["b@x.org"]) for subject in subjects)
        return list(tuples) if kind == "list" else tuples

    with pytest.raises(ValueError, match="Subject") as info:
        send_mass_mail(data())
    assert info.value.sent_count == failing  # type: ignore[attr-defined]
    sent = [m.subject for m in sent_messages_of(info.value)]
    # A sequence lists every accepted message; an iterator those of the failing batch.
    first = 0 if kind == "list" else failing // MASS_MAIL_BATCH * MASS_MAIL_BATCH
    assert sent == subjects[first:failing]
    assert [m.subject for m in outbox] == subjects[:failing]
    assert {(m.from_email, m.body) for m in outbox} == {("a@x.org", "b")}
    outbox.clear()
    assert send_mass_mail(data(), fail_silently=True) == failing
    assert len(outbox) == failing


# -- a failing send through a provider with DEFAULTS -----------------------------------------


class AcceptsThenFailsBackend(BaseEmailBackend):
    """Accepts every message, then fails (as a relay that hangs up after its reply)."""

    def send_messages(self, messages: Any) -> int:
        accepted = list(messages)
        error = ConnectionError("hung up after accepting")
        from mailproviders.exceptions import record_sent

        record_sent(error, accepted)
        raise error


@pytest.mark.parametrize(
    ("backend", "accepted"), [(EXPLODING, 0), (f"{__name__}.AcceptsThenFailsBackend", 1)]
)
def test_failing_send_through_a_provider_with_defaults(backend: str, accepted: int) -> None:
    defaults = {"from_email": "d@x.org", "reply_to": ["r@x.org"]}
    configure(EMAIL_PROVIDERS={"default": {"BACKEND": backend, "DEFAULTS": defaults}})
    message = EmailMessage("s", "b", None, ["b@x.org"])
    with pytest.raises((RuntimeError, ConnectionError)) as info:
        message.send()
    assert info.value.sent_count == accepted  # type: ignore[attr-defined]
    sent = sent_messages_of(info.value)
    assert len(sent) == accepted
    assert all(m is message for m in sent)  # the caller's object, not the filled-in copy
    assert message.from_email is None and message.reply_to == []
    assert message.send(fail_silently=True) == accepted


# -- mail_admins/mail_managers do not silence by default ----------------------------------------


@pytest.mark.parametrize("function", [mail_admins, mail_managers])
def test_mail_admins_and_managers_raise_by_default(function: Any) -> None:
    configure(
        EMAIL_PROVIDERS={"default": {"BACKEND": EXPLODING}},
        ADMINS=["admin@x.org"],
        MANAGERS=["boss@x.org"],
    )
    with pytest.raises(RuntimeError, match="exploded") as info:
        function("s", "b")
    assert info.value.sent_count == 0  # type: ignore[attr-defined]
    assert function("s", "b", fail_silently=True) == 0


# -- what the plan fills in, and what it hands over -------------------------------------------


def test_process_defaults_fill_what_messages_leave_open() -> None:
    configure(
        EMAIL_PROVIDERS={"default": "locmem://"},
        DEFAULT_FROM_EMAIL="site@x.org",
        EMAIL_USE_LOCALTIME=True,
        ADMINS=["admin@x.org"],
        SERVER_EMAIL="server@x.org",
    )
    assert send_mail("s", "body", None, ["b@x.org"], html_message="<p>body</p>") == 1
    assert send_mass_mail([("s", "mass body", None, ["b@x.org"])]) == 1
    assert mail_admins("s", "admin body", html_message="<p>admin</p>") == 1
    own = EmailMessage("s", "b", None, ["b@x.org"])
    own.use_localtime = False
    assert own.send() == 1
    sent, mass, admin, copy = outbox
    assert (sent.from_email, sent.body, sent.use_localtime) == ("site@x.org", "body", True)
    assert sent.alternatives == [("<p>body</p>", "text/html")]  # type: ignore[attr-defined]
    assert (mass.from_email, mass.body, mass.use_localtime) == ("site@x.org", "mass body", True)
    assert (admin.from_email, admin.body, admin.to) == (
        "server@x.org",
        "admin body",
        ["admin@x.org"],
    )
    assert admin.alternatives == [("<p>admin</p>", "text/html")]  # type: ignore[attr-defined]
    assert (copy.from_email, copy.use_localtime) == ("site@x.org", False)


def test_silenced_failure_log_names_the_alias_and_cuts_a_long_message_to_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    configure(EMAIL_PROVIDERS={"default": "locmem://", "other": {"BACKEND": EXPLODING}})
    message = EmailMessage("s", "b", "a@x.org", ["b@x.org"])
    long_value = "x" * 400 + "\nsecond line"
    with caplog.at_level(logging.DEBUG, logger="mailproviders"):
        assert message.send(fail_silently=True, using="other") == 0
        message.extra_headers["X-Long"] = long_value  # refused: a line break
        assert message.send(fail_silently=True) == 0
    first, first_debug, second, _ = caplog.records
    assert "provider 'other'" in first.getMessage()
    assert first_debug.getMessage() == "traceback of the failure silenced above"
    text = second.getMessage()
    assert "\n" not in text and "second line" not in text
    summary = text.split("accepted: ", 1)[1]
    assert len(summary) == len("ValueError: ") + 300 + len("...")
    assert summary.endswith("x...")


@pytest.mark.parametrize(
    ("error", "logged"),
    [
        (ConnectionResetError(), "ConnectionResetError"),
        (RuntimeError("first line\nsecond line"), "RuntimeError: first line"),
    ],
)
def test_silenced_failure_logs_the_first_line_of_the_exception(
    error: Exception, logged: str, caplog: pytest.LogCaptureFixture
) -> None:
    configure(EMAIL_PROVIDERS={"default": {"BACKEND": f"{__name__}.RaisingBackend"}})
    RaisingBackend.error = error
    with caplog.at_level(logging.WARNING, logger="mailproviders"):
        assert send_mail("s", "b", "a@x.org", ["b@x.org"], fail_silently=True) == 0
    (record,) = caplog.records
    assert record.getMessage().endswith(f"0 message(s) accepted: {logged}")


class RaisingBackend(BaseEmailBackend):
    """Fails with the exception set on the class."""

    error: Exception = RuntimeError()

    def send_messages(self, messages: Any) -> int:
        raise self.error


def test_mail_admins_and_managers_use_the_named_provider() -> None:
    configure(
        EMAIL_PROVIDERS={"default": {"BACKEND": EXPLODING}, "staff": "locmem://"},
        ADMINS=["admin@x.org"],
        MANAGERS=["boss@x.org"],
    )
    assert mail_admins("Disk", "a", html_message="<p>a</p>", using="staff") == 1
    assert mail_managers("Weekly", "m", html_message="<p>m</p>", using="staff") == 1
    admin, manager = outbox
    assert (admin.sent_using, admin.subject, admin.to) == (
        "staff",
        "[mailproviders] Disk",
        ["admin@x.org"],
    )
    assert (manager.sent_using, manager.subject) == ("staff", "[mailproviders] Weekly")
    assert manager.alternatives == [("<p>m</p>", "text/html")]  # type: ignore[attr-defined]


def test_send_email_message_raises_by_default() -> None:
    from mailproviders.sending import send_email_message

    configure(EMAIL_PROVIDERS={"default": {"BACKEND": EXPLODING}})
    with pytest.raises(RuntimeError, match="exploded"):
        send_email_message(EmailMessage("s", "b", "a@x.org", ["b@x.org"]))


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
def test_message_send_reports_the_callers_message_as_possibly_sent(
    fault_smtp_server: Any, use_async: bool
) -> None:
    # send() hands a filled-in copy to the backend; what the caller gets back must name
    # the caller's own object, for sent_messages and possibly_sent_messages alike.
    import asyncio

    from mailproviders.exceptions import possibly_sent_messages_of

    server = fault_smtp_server(drop_after_data_at=1)
    configure(EMAIL_PROVIDERS={"default": {"OPTIONS": server.options()}})
    message = EmailMessage("s", "b", "from@example.com", ["to@example.com"])
    with pytest.raises(smtplib.SMTPServerDisconnected) as raised:
        if use_async:
            asyncio.run(message.asend())
        else:
            message.send()
    [possibly] = possibly_sent_messages_of(raised.value)
    assert possibly is message
    assert sent_messages_of(raised.value) == []
