"""Failover backend against real SMTP servers on loopback, and composite configuration."""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from composite_helpers import batch, ids, refusing, setup, smtp, warnings_of
from mailproviders import outbox
from mailproviders.backends.failover import EmailBackend
from mailproviders.backends.smtp import EmailBackend as SMTPBackend
from mailproviders.exceptions import (
    InvalidEmailProvider,
    possibly_sent_messages_of,
    sent_messages_of,
)
from mailproviders.handler import configure, providers
from mailproviders.legacy import MailProvidersDeprecationWarning
from mailproviders.sending import send_mail
from mailproviders.testing import override_providers
from smtp_fixtures import (
    Faults,
    ServerFactory,
    SMTPTestServer,
    TLSCertificates,
    _Controller,
    _Handler,
    make_certificates,
)

ALL = ["m-1", "m-2", "m-3"]


def send(messages: list[Any]) -> int:
    return providers["mail"].send_messages(messages)


# --- failing over: the messages not accepted move on ------------------------------------


@pytest.mark.parametrize(
    ("faults", "options"),
    [
        ({}, {"password": "wrong"}),  # failed login
        ({}, {"use_tls": True}),  # STARTTLS required, not offered: TLS failure
        ({"tls": "starttls", "untrusted": True}, {}),  # certificate verification fails
        ({"stall_at": "MAIL"}, {"timeout": 1}),  # timeout before DATA
        ({"mail_reply": "451 4.3.0 try again later"}, {}),  # 4xx before DATA
        ({"mail_reply": "421 4.3.2 shutting down"}, {}),
    ],
    ids=["login", "no-starttls", "certificate", "timeout", "451", "421"],
)
def test_transient_failure_moves_every_message_to_the_backup(
    fault_smtp_server: ServerFactory,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
    tls_ca: TLSCertificates,
    faults: dict[str, Any],
    options: dict[str, Any],
) -> None:
    faults = dict(faults)  # a copy: the parameter's dict outlives the test (mutmut reruns)
    if faults.pop("untrusted", False):  # the client trusts tls_ca, the server's CA is another
        faults["certificates"] = make_certificates(tmp_path)
        options = {"ssl_cafile": str(tls_ca.ca_file)}
    if "password" in options:
        faults.update(tls="starttls", auth=True)
    primary = fault_smtp_server(**faults)
    backup = fault_smtp_server()
    setup("failover://primary,backup", primary=smtp(primary, **options), backup=smtp(backup))
    messages = batch(3)
    with caplog.at_level(logging.WARNING, logger="mailproviders"):
        assert send(messages) == 3
    assert primary.messages == []
    assert ids(backup) == ALL
    [warning] = warnings_of(caplog)
    assert "'primary'" in warning and "'backup'" in warning and "3 message(s)" in warning
    assert "wrong" not in caplog.text


def test_refused_connection_moves_the_batch(fault_smtp_server: ServerFactory) -> None:
    backup = fault_smtp_server()
    setup(
        "failover://down,backup",
        down=smtp(refusing(fault_smtp_server)),
        backup=smtp(backup),
    )
    assert send(batch(3)) == 3
    assert ids(backup) == ALL


def test_4xx_in_the_middle_moves_only_the_rest(fault_smtp_server: ServerFactory) -> None:
    primary = fault_smtp_server(mail_reply="451 4.3.0 later", mail_reply_at=2)
    backup = fault_smtp_server()
    setup("failover://primary,backup", primary=smtp(primary), backup=smtp(backup))
    messages = batch(4)
    assert send(messages) == 4
    assert ids(primary) == ["m-1"]
    assert ids(backup) == ["m-2", "m-3", "m-4"]
    # The backup got the caller's message untouched: same Message-ID, same fields.
    assert messages[1].subject == "m-2" and messages[1].to == ["rcpt2@example.com"]


def test_three_providers_in_order(
    fault_smtp_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    second = fault_smtp_server(mail_reply="451 4.3.0 later")
    third = fault_smtp_server()
    setup(
        "failover://first,second,third",
        first=smtp(refusing(fault_smtp_server)),
        second=smtp(second),
        third=smtp(third),
    )
    with caplog.at_level(logging.WARNING, logger="mailproviders"):
        assert send(batch(3)) == 3
    assert ids(third) == ALL and second.messages == []
    first_warning, second_warning = warnings_of(caplog)
    assert "'first'" in first_warning and "'second'" in first_warning
    assert "'second'" in second_warning and "'third'" in second_warning


# --- never twice: ambiguous outcomes ------------------------------------------------------


def test_connection_lost_after_data_is_possibly_sent_not_resent(
    fault_smtp_server: ServerFactory,
) -> None:
    primary = fault_smtp_server(drop_after_data_at=2)
    backup = fault_smtp_server()
    setup("failover://primary,backup", primary=smtp(primary), backup=smtp(backup))
    messages = batch(4)
    with pytest.raises(smtplib.SMTPServerDisconnected) as info:
        send(messages)
    assert ids(primary) == ["m-1"]
    assert ids(backup) == ["m-3", "m-4"]  # m-2 may have been delivered: not resent
    exc = info.value
    assert possibly_sent_messages_of(exc) == [messages[1]]
    assert exc.sent_count == 3  # type: ignore[attr-defined]
    assert sent_messages_of(exc) == [messages[0], messages[2], messages[3]]
    assert any("possibly delivered" in note for note in exc.__notes__)


def test_stall_after_data_is_possibly_sent(fault_smtp_server: ServerFactory) -> None:
    primary = fault_smtp_server(stall_at="DATA", stall_at_number=1)
    backup = fault_smtp_server()
    setup("failover://primary,backup", primary=smtp(primary, timeout=1), backup=smtp(backup))
    messages = batch(2)
    with pytest.raises(smtplib.SMTPServerDisconnected) as info:
        send(messages)
    assert possibly_sent_messages_of(info.value) == [messages[0]]
    assert ids(backup) == ["m-2"]


def test_smtp_backend_marks_the_message_lost_after_its_data(
    fault_smtp_server: ServerFactory,
) -> None:
    server = fault_smtp_server(drop_after_data_at=2)
    messages = batch(3)
    with pytest.raises(smtplib.SMTPServerDisconnected) as info:
        SMTPBackend(**server.options()).send_messages(messages)
    assert possibly_sent_messages_of(info.value) == [messages[1]]
    assert sent_messages_of(info.value) == [messages[0]]


def test_smtp_refusals_are_not_possibly_sent_and_the_session_stays_usable(
    fault_smtp_server: ServerFactory,
) -> None:
    server = fault_smtp_server(mail_reply="451 4.3.0 later", mail_reply_at=1)
    backend = SMTPBackend(**server.options())
    first, second = batch(2)
    with backend:
        with pytest.raises(smtplib.SMTPSenderRefused) as info:
            backend.send_messages([first])
        assert possibly_sent_messages_of(info.value) == []
        assert backend.send_messages([second]) == 1
    assert ids(server) == ["m-2"] and server.connection_count == 1


# --- permanent errors stay where they are -------------------------------------------------


@pytest.mark.parametrize(
    ("faults", "error"),
    [
        ({"refuse_rcpt": ["rcpt2@example.com"]}, smtplib.SMTPRecipientsRefused),
        (
            {"mail_reply": "550 5.7.1 sender rejected", "mail_reply_at": 2},
            smtplib.SMTPSenderRefused,
        ),
    ],
    ids=["550-rcpt", "550-mail"],
)
def test_permanent_error_is_not_moved(
    fault_smtp_server: ServerFactory, faults: dict[str, Any], error: type[Exception]
) -> None:
    primary = fault_smtp_server(**faults)
    backup = fault_smtp_server()
    setup("failover://primary,backup", primary=smtp(primary), backup=smtp(backup))
    messages = batch(3)
    with pytest.raises(error) as info:
        send(messages)
    assert ids(primary) == ["m-1"]
    assert backup.messages == [] and backup.connection_count == 0
    assert sent_messages_of(info.value) == [messages[0]]
    assert any("'primary'" in note for note in info.value.__notes__)


def test_invalid_address_is_not_moved() -> None:
    setup("failover://a,b", a="locmem://", b="locmem://")
    bad = batch(1)[0]
    bad.to = ["not an address"]
    with pytest.raises(ValueError, match="not an address") as info:
        send([*batch(1, tag="ok"), bad])
    assert [message.sent_using for message in outbox] == ["a"]
    assert info.value.sent_count == 1  # type: ignore[attr-defined]


def test_every_provider_failing_raises_the_last_error(
    fault_smtp_server: ServerFactory,
) -> None:
    last = fault_smtp_server(mail_reply="451 4.3.0 later")
    setup(
        "failover://first,last",
        first=smtp(refusing(fault_smtp_server)),
        last=smtp(last),
    )
    with pytest.raises(smtplib.SMTPSenderRefused) as info:
        send(batch(2))
    assert info.value.sent_count == 0  # type: ignore[attr-defined]
    assert any("'first', 'last'" in note for note in info.value.__notes__)


# --- connections, nesting, send functions -----------------------------------------------


def test_opened_failover_keeps_one_connection_per_member(
    fault_smtp_server: ServerFactory,
) -> None:
    primary = fault_smtp_server()
    setup("failover://primary,backup", primary=smtp(primary), backup="dummy://")
    with providers["mail"] as backend:
        backend.send_messages(batch(2))
        backend.send_messages(batch(2, tag="n"))
    assert primary.connection_count == 1 and len(primary.messages) == 4


def test_nested_composites(fault_smtp_server: ServerFactory) -> None:
    a, c = fault_smtp_server(), fault_smtp_server()
    setup(
        "failover://spread,c",
        spread="roundrobin://a,b",
        a=smtp(a),
        b=smtp(refusing(fault_smtp_server)),
        c=smtp(c),
    )
    assert send(batch(4)) == 4
    assert ids(a) == [*ALL, "m-4"] and c.messages == []


def test_send_mail_through_failover(fault_smtp_server: ServerFactory) -> None:
    backup = fault_smtp_server()
    setup("failover://down,backup", down=smtp(refusing(fault_smtp_server)), backup=smtp(backup))
    assert send_mail("Hi", "body", "from@example.com", ["to@example.com"], using="mail") == 1
    assert backup.messages[0].parsed()["Subject"] == "Hi"


def test_empty_batch_touches_no_provider(fault_smtp_server: ServerFactory) -> None:
    primary = fault_smtp_server()
    setup("failover://primary", primary=smtp(primary))
    assert send([]) == 0
    assert send(batch(0)) == 0
    assert primary.connection_count == 0


def test_legacy_fail_silently_returns_the_count() -> None:
    configure(EMAIL_PROVIDERS={"a": "smtp://127.0.0.1:1?timeout=1"})
    with pytest.warns(MailProvidersDeprecationWarning):
        backend = EmailBackend(using=["a"], providers=providers, fail_silently=True)
    assert backend.send_messages(batch(1)) == 0


def test_direct_construction_and_repr() -> None:
    backend = EmailBackend(alias="mail", using=["a", "b"], providers=providers)
    assert repr(backend) == (
        "<mailproviders.backends.failover.EmailBackend alias='mail', using=['a', 'b']>"
    )
    for using in ([], "a,b", [1]):
        with pytest.raises(InvalidEmailProvider) as info:
            EmailBackend(alias="mail", using=using, providers=providers)  # type: ignore[arg-type]
        assert (info.value.alias, info.value.option) == ("mail", "using")
    with pytest.raises(InvalidEmailProvider, match="needs them") as info:
        EmailBackend(alias="mail", using=["a"])  # no providers to find the members in
    assert (info.value.alias, info.value.option) == ("mail", "using")


# --- configuration: load-time checks, DSN and env forms ---------------------------------


def problems_of(mapping: dict[str, Any]) -> list[tuple[str | None, str | None, str]]:
    with pytest.raises(InvalidEmailProvider) as info:
        configure(EMAIL_PROVIDERS=mapping)
    return [(p.alias, p.option, p.message) for p in info.value.errors]


@pytest.mark.parametrize("scheme", ["failover", "roundrobin"])
def test_unknown_alias_self_reference_and_cycles(scheme: str) -> None:
    [(alias, option, message)] = problems_of({"x": f"{scheme}://a,nope", "a": "dummy://"})
    assert (alias, option) == ("x", "using") and "'nope'" in message
    [(alias, option, message)] = problems_of({"x": f"{scheme}://a,x", "a": "dummy://"})
    assert (alias, option) == ("x", "using") and "itself" in message
    found = problems_of({"x": f"{scheme}://y", "y": "failover://z,x", "z": "dummy://"})
    assert [(a, o) for a, o, _ in found] == [("x", "using"), ("y", "using")]
    assert "'x' → 'y' → 'x'" in found[0][2]


@pytest.mark.parametrize(
    ("using", "fragment"),
    [
        ([], "non-empty list"),
        ([""], "non-empty list"),
        ([3], "non-empty list"),
        (["a", "a"], "more than once"),
        ("[1", "JSON list"),
    ],
)
def test_bad_using(using: Any, fragment: str) -> None:
    found = problems_of(
        {"x": {"BACKEND": "failover", "OPTIONS": {"using": using}}, "a": "dummy://"}
    )
    [(alias, option, message)] = found
    assert alias == "x" and option in ("using", "using.0") and fragment in message


def test_missing_using_and_bad_dsn() -> None:
    [(alias, option, message)] = problems_of({"x": {"BACKEND": "roundrobin"}})
    assert (alias, option, message) == ("x", "using", "required, not given")
    for dsn in ("failover://", "failover://a,,b", "roundrobin://a/b"):
        [(alias, _, message)] = problems_of({"x": dsn, "a": "dummy://", "b": "dummy://"})
        assert alias == "x" and "e.g. " in message


def test_dsn_env_and_short_name_forms(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_PROVIDERS__mail", "failover://Primary,backup")
    monkeypatch.setenv("EMAIL_PROVIDERS__rr__BACKEND", "roundrobin")
    monkeypatch.setenv("EMAIL_PROVIDERS__rr__OPTIONS__using", "Primary, backup")
    monkeypatch.setenv("EMAIL_PROVIDERS__Primary", "locmem://")
    monkeypatch.setenv("EMAIL_PROVIDERS__backup", "dummy://")
    configure()
    assert providers.config("mail").OPTIONS["using"] == ["Primary", "backup"]
    assert providers.config("rr").BACKEND == "mailproviders.backends.roundrobin.EmailBackend"
    assert providers.config("rr").OPTIONS["using"] == ["Primary", "backup"]
    assert send(batch(1)) == 1 and outbox[0].sent_using == "Primary"


def test_mailoutbox_fixture_replaces_composites() -> None:
    from mailproviders.pytest_plugin import _locmem_mapping  # what the fixture installs

    configure(EMAIL_PROVIDERS={"mail": "failover://a", "a": "smtp://127.0.0.1:1"})
    with override_providers(_locmem_mapping()):
        assert send(batch(1)) == 1
    assert [message.sent_using for message in outbox] == ["mail"]


def test_schema_accepts_composites() -> None:
    from mailproviders.config import json_schema

    defs = json_schema()["$defs"]
    assert defs["FailoverProvider"]["properties"]["BACKEND"]["enum"][0] == "failover"
    assert "roundrobin" in defs["ProviderDSN"]["pattern"]
    assert defs["CompositeOptions"]["required"] == ["using"]


# --- member connections are closed; transient RCPT; ambiguous then permanent -----------


class Tracked(SMTPBackend):
    """The SMTP backend, noting each open() and close() (a real connection behind it)."""

    events: ClassVar[list[tuple[str, str | None]]] = []

    def open(self) -> None:
        Tracked.events.append(("open", self.alias))
        super().open()

    def close(self) -> None:
        Tracked.events.append(("close", self.alias))
        super().close()
        assert self.connection is None


@pytest.fixture
def tracked() -> Iterator[list[tuple[str, str | None]]]:
    Tracked.events.clear()
    yield Tracked.events
    Tracked.events.clear()


def track(server: SMTPTestServer) -> dict[str, Any]:
    return {"BACKEND": Tracked, "OPTIONS": server.options()}


@pytest.mark.parametrize("scheme", ["failover", "roundrobin"])
def test_members_are_closed_after_a_send(
    fault_smtp_server: ServerFactory, tracked: list[Any], scheme: str
) -> None:
    a, b = fault_smtp_server(), fault_smtp_server()
    setup(f"{scheme}://a,b", a=track(a), b=track(b))
    assert send(batch(2)) == 2
    used = ["a"] if scheme == "failover" else ["a", "b"]
    assert sorted(tracked) == sorted([("open", n) for n in used] + [("close", n) for n in used])
    assert sorted(tracked[-len(used) :]) == [("close", name) for name in used]  # at the end


def test_a_member_whose_open_fails_is_closed(
    fault_smtp_server: ServerFactory, tracked: list[Any]
) -> None:
    backup = fault_smtp_server()
    setup("failover://down,backup", down=track(refusing(fault_smtp_server)), backup=track(backup))
    assert send(batch(1)) == 1
    assert tracked == [
        ("open", "down"),
        ("close", "down"),  # right after its open() failed
        ("open", "backup"),
        ("close", "backup"),
    ]


@pytest.mark.parametrize("scheme", ["failover", "roundrobin"])
def test_opened_composite_closes_its_members_on_close(
    fault_smtp_server: ServerFactory, tracked: list[Any], scheme: str
) -> None:
    a, b = fault_smtp_server(), fault_smtp_server()
    setup(f"{scheme}://a,b", a=track(a), b=track(b))
    backend = providers["mail"]
    backend.open()
    backend.send_messages(batch(2))
    backend.send_messages(batch(2, tag="n"))
    assert [event for event, _ in tracked] == ["open"] * len(tracked)  # kept open
    opened = [alias for _, alias in tracked]
    backend.close()
    assert sorted(tracked[len(opened) :]) == [("close", alias) for alias in sorted(opened)]
    assert a.connection_count == 1


class _BusyRecipients(_Handler):
    """Answers 450 (mailbox busy, try later) to every RCPT TO."""

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        return f"450 4.2.1 <{address}>: mailbox busy, try again later"


@pytest.fixture
def busy_server() -> Iterator[SMTPTestServer]:
    """A server that refuses every recipient with a temporary (4xx) reply."""
    server = SMTPTestServer("none", None)
    controller = _Controller(server, _BusyRecipients(server, Faults()), ready_timeout=10.0)
    controller.start()
    server.reset_counters()
    try:
        yield server
    finally:
        controller.stop()


@pytest.mark.parametrize("scheme", ["failover", "roundrobin"])
def test_every_recipient_refused_with_4xx_moves_on(
    fault_smtp_server: ServerFactory,
    busy_server: SMTPTestServer,
    caplog: pytest.LogCaptureFixture,
    scheme: str,
) -> None:
    backup = fault_smtp_server()
    setup(f"{scheme}://busy,backup", busy=smtp(busy_server), backup=smtp(backup))
    message = batch(1)[0]
    message.to = ["a@example.com", "b@example.com"]
    with caplog.at_level(logging.WARNING, logger="mailproviders"):
        assert send([message]) == 1
    assert busy_server.messages == [] and busy_server.mail_count == 1
    assert backup.messages[0].rcpt_tos == ["a@example.com", "b@example.com"]
    [warning] = warnings_of(caplog)
    assert "SMTPRecipientsRefused" in warning and "'backup'" in warning


def test_possibly_sent_is_kept_when_a_permanent_error_follows_on_another_member(
    fault_smtp_server: ServerFactory,
) -> None:
    primary = fault_smtp_server(drop_after_data_at=2)
    backup = fault_smtp_server(refuse_rcpt=["rcpt4@example.com"])
    setup("failover://primary,backup", primary=smtp(primary), backup=smtp(backup))
    messages = batch(4)
    with pytest.raises(smtplib.SMTPRecipientsRefused) as info:
        send(messages)
    assert ids(primary) == ["m-1"] and ids(backup) == ["m-3"]
    exc = info.value
    assert possibly_sent_messages_of(exc) == [messages[1]]  # from the first member
    assert sent_messages_of(exc) == [messages[0], messages[2]]
    assert exc.sent_count == 2  # type: ignore[attr-defined]
    notes = "\n".join(exc.__notes__)
    assert "possibly delivered: 1 message" in notes and "'backup'" in notes
