"""Composite backends: what mutation testing found unchecked (scripts/mutation composite).

The boundaries of "transient", the text of the fail-over WARNING and of the notes, the
rotation belonging to its alias, possibly-sent messages from two members, and the count
reported by a member that is not the number of messages it took.
"""

from __future__ import annotations

import logging
import smtplib

import pytest

from composite_helpers import batch, refusing, setup, smtp, warnings_of
from mailproviders import outbox
from mailproviders.backends.composite import is_transient
from mailproviders.backends.failover import EmailBackend as Failover
from mailproviders.backends.roundrobin import EmailBackend as RoundRobin
from mailproviders.exceptions import InvalidEmailProvider, possibly_sent_messages_of
from mailproviders.handler import providers
from mailproviders.legacy import MailProvidersDeprecationWarning
from smtp_fixtures import ServerFactory


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (smtplib.SMTPResponseException(399, b"odd"), False),
        (smtplib.SMTPResponseException(400, b"later"), True),
        (smtplib.SMTPResponseException(499, b"later"), True),
        (smtplib.SMTPResponseException(500, b"no"), False),
        (smtplib.SMTPAuthenticationError(535, b"bad login"), True),
        (smtplib.SMTPRecipientsRefused({"a@x.org": (400, b"later")}), True),
        (smtplib.SMTPRecipientsRefused({"a@x.org": (450, b""), "b@x.org": (499, b"")}), True),
        (smtplib.SMTPRecipientsRefused({"a@x.org": (450, b""), "b@x.org": (500, b"")}), False),
        (smtplib.SMTPRecipientsRefused({"a@x.org": (399, b"")}), False),
        (smtplib.SMTPRecipientsRefused({}), False),
        (ConnectionRefusedError(111, "refused"), True),
        (TimeoutError(), True),
        (ValueError("bad address"), False),
    ],
)
def test_is_transient_boundaries(exc: BaseException, transient: bool) -> None:
    assert is_transient(exc) is transient


def test_each_round_robin_alias_has_its_own_rotation() -> None:
    setup("roundrobin://a,b", other="roundrobin://a,b", a="locmem://", b="locmem://")
    providers["mail"].send_messages(batch(1, tag="x"))
    providers["other"].send_messages(batch(1, tag="y"))
    providers["mail"].send_messages(batch(1, tag="z"))
    assert [message.sent_using for message in outbox] == ["a", "a", "b"]


def test_warning_names_composite_member_error_and_count(
    fault_smtp_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    primary = fault_smtp_server(mail_reply="451 4.3.0 try again later")
    setup("failover://primary,backup", primary=smtp(primary), backup="locmem://")
    with caplog.at_level(logging.WARNING, logger="mailproviders"):
        assert providers["mail"].send_messages(batch(3)) == 3
    [warning] = warnings_of(caplog)
    head = "provider 'mail': member 'primary' failed (SMTPSenderRefused: "
    assert warning.startswith(head), warning
    assert "4.3.0 try again later" in warning
    assert warning.endswith("; sending 3 message(s) through 'backup'"), warning


def test_round_robin_warning_moves_one_message(
    fault_smtp_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    setup("roundrobin://down,up", down=smtp(refusing(fault_smtp_server)), up="locmem://")
    with caplog.at_level(logging.WARNING, logger="mailproviders"):
        assert providers["mail"].send_messages(batch(2)) == 2
    [warning] = warnings_of(caplog)  # "down" is skipped for the rest of the call
    assert warning.startswith("provider 'mail': member 'down' failed ("), warning
    assert warning.endswith("; sending 1 message(s) through 'up'"), warning


def test_notes_name_the_composite_and_every_member(fault_smtp_server: ServerFactory) -> None:
    setup(
        "failover://first,last",
        first=smtp(refusing(fault_smtp_server)),
        last=smtp(fault_smtp_server(mail_reply="451 4.3.0 later")),
    )
    with pytest.raises(smtplib.SMTPSenderRefused) as info:
        providers["mail"].send_messages(batch(2))
    notes = info.value.__notes__
    assert "raised by provider 'last', a member of 'mail'" in notes
    assert "provider 'mail': every member failed without accepting ('first', 'last')" in notes


def test_possibly_sent_messages_of_two_members_add_up(fault_smtp_server: ServerFactory) -> None:
    primary = fault_smtp_server(drop_after_data_at=1)
    backup = fault_smtp_server(drop_after_data_at=1)
    setup("failover://primary,backup", primary=smtp(primary), backup=smtp(backup))
    messages = batch(3)
    with pytest.raises(smtplib.SMTPServerDisconnected) as info:
        providers["mail"].send_messages(messages)
    assert possibly_sent_messages_of(info.value) == messages[:2]
    assert info.value.sent_count == 0  # type: ignore[attr-defined]


def test_sent_count_is_what_members_reported(fault_smtp_server: ServerFactory) -> None:
    # A member with the deprecated fail_silently returns 0 for a message it could not
    # send: sent_count keeps the members' counts, at every level of nesting.
    permanent = fault_smtp_server(mail_reply="550 5.7.1 not you")
    setup(
        "failover://inner",
        inner="roundrobin://quiet,strict",
        quiet={
            "BACKEND": "smtp",
            "OPTIONS": {**refusing(fault_smtp_server).options(), "fail_silently": True},
        },
        strict=smtp(permanent),
    )
    with (
        pytest.warns(MailProvidersDeprecationWarning),
        pytest.raises(smtplib.SMTPSenderRefused) as info,
    ):
        providers["mail"].send_messages(batch(2))
    assert info.value.sent_count == 0  # type: ignore[attr-defined]


def test_construction_errors_are_explained() -> None:
    for cls in (Failover, RoundRobin):
        with pytest.raises(InvalidEmailProvider) as info:
            cls(alias="mail", using="a,b", providers=providers)
        assert "expected a non-empty list of provider aliases, got 'a,b'" in str(info.value)
        with pytest.raises(InvalidEmailProvider) as info:
            cls(alias="mail", using=["a"])
        assert (
            f"{cls.__qualname__} sends through other providers and needs them: configure it "
            "in EMAIL_PROVIDERS and use mailproviders.providers[alias]"
        ) in str(info.value)
