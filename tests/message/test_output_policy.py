"""message() output honours the policy it is written with (mailproviders.message.wire)."""

from __future__ import annotations

import copy
import email
import email.policy
import pickle

from mailproviders import EmailMessage
from mailproviders.message.wire import stored

SUBJECT = "Ärende med åäö och ett längre slut"


def test_smtputf8_policy_writes_utf8_headers() -> None:
    msg = EmailMessage(SUBJECT, "body", "from@example.com", ["nøn-åscîi@example.com"])
    data = msg.message(policy=email.policy.SMTPUTF8).as_bytes()
    assert f"Subject: {SUBJECT}".encode() in data
    assert "To: nøn-åscîi@example.com".encode() in data
    assert b"=?utf-8?" not in data


def test_utf8_given_to_as_bytes_writes_utf8_headers() -> None:
    msg = EmailMessage(SUBJECT, "body", "from@example.com", ["to@example.com"]).message()
    assert f"Subject: {SUBJECT}".encode() in msg.as_bytes(policy=email.policy.SMTPUTF8)


def test_compat32_encodes_the_decoded_text_its_own_way() -> None:
    msg = EmailMessage(SUBJECT, "body", "from@example.com", ["to@example.com"]).message()
    expected = str(email.header.Header(SUBJECT, "utf-8", header_name="Subject").encode())
    assert f"Subject: {expected}\n".encode() in msg.as_bytes(policy=email.policy.compat32)
    assert f"Subject: {expected}\n" in msg.as_string(policy=email.policy.compat32)


def test_default_policy_keeps_the_wire_form() -> None:
    message = EmailMessage(SUBJECT, "body", "from@example.com", ["to@example.com"])
    msg = message.message()
    ours = message.as_bytes()
    wire = next(line for line in ours.split(b"\n") if line.startswith(b"Subject: "))
    assert wire in msg.as_bytes()
    assert b"=?utf-8?" in wire
    assert str(msg["Subject"]) == SUBJECT  # read back decoded, as any header


def test_stored_value_is_a_header_object_only_when_needed() -> None:
    assert type(stored("X-Plain", "just ascii")) is str
    header = stored("Subject", "=?utf-8?q?=C3=A5?=")
    assert header == "å"
    assert header.fold(policy=email.policy.default) == "Subject: =?utf-8?q?=C3=A5?=\n"
    assert header.fold(policy=email.policy.SMTPUTF8) == "Subject: å\r\n"


def test_address_headers_stay_address_headers() -> None:
    msg = EmailMessage("s", "b", "Jörg <from@example.com>", ["Åsa <to@example.com>"]).message()
    assert [a.addr_spec for a in msg["To"].addresses] == ["to@example.com"]
    assert msg["From"].addresses[0].display_name == "Jörg"


def test_messages_with_kept_headers_copy_and_pickle() -> None:
    msg = EmailMessage(SUBJECT, "body", "from@example.com", ["to@example.com"]).message()
    for clone in (copy.deepcopy(msg), pickle.loads(pickle.dumps(msg))):
        assert str(clone["Subject"]) == SUBJECT
        assert clone.as_bytes() == msg.as_bytes()


def test_long_header_is_refolded_when_the_policy_is_narrower() -> None:
    msg = EmailMessage(SUBJECT * 3, "b", "from@example.com", ["to@example.com"]).message()
    narrow = email.policy.default.clone(max_line_length=40)
    lines = msg.as_bytes(policy=narrow).split(b"\n")
    start = next(i for i, line in enumerate(lines) if line.startswith(b"Subject:"))
    assert len(lines[start]) <= 40 and lines[start + 1].startswith(b" ")
