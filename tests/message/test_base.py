"""EmailMessage headers, addresses, envelope and dates, checked on the parsed bytes."""

from __future__ import annotations

import email
import email.policy
import email.utils
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from mailproviders.legacy import MailProvidersDeprecationWarning
from mailproviders.message import EmailMessage, EmailMultiAlternatives, Envelope


def parse(message: EmailMessage) -> email.message.EmailMessage:
    raw = message.as_bytes()
    assert all(len(line) <= 998 for line in raw.split(b"\n"))
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, email.message.EmailMessage)
    return parsed


def header_lines(raw: bytes) -> list[bytes]:
    return raw.split(b"\n\n", 1)[0].split(b"\n")


def test_basic_message_round_trips() -> None:
    msg = EmailMessage("Hello", "Body text\n", "from@example.com", ["to@example.com"])
    parsed = parse(msg)
    assert parsed["Subject"] == "Hello"
    assert parsed["From"] == "from@example.com"
    assert parsed["To"] == "to@example.com"
    assert parsed.get_content_type() == "text/plain"
    assert parsed.get_content_charset() == "utf-8"
    assert parsed.get_content() == "Body text\n"
    assert parsed["Content-Transfer-Encoding"] == "7bit"


def test_non_ascii_subject_body_and_names() -> None:
    msg = EmailMessage(
        "Rapport trimestriel — résumé für Zoë",
        "Grüße, Zoë — 日本語\n",
        "Zoë Ørsted <zoe@example.com>",
        ["Bob Müller <bob@example.org>", "Δοκιμή <test@example.net>"],
    )
    raw = msg.as_bytes()
    assert raw.split(b"\n\n", 1)[0].isascii()
    parsed = parse(msg)
    assert parsed["Subject"] == "Rapport trimestriel — résumé für Zoë"
    assert parsed.get_content() == "Grüße, Zoë — 日本語\n"
    assert parsed["Content-Transfer-Encoding"] in {"8bit", "quoted-printable", "base64"}
    assert parsed["From"].addresses[0].display_name == "Zoë Ørsted"
    names = [a.display_name for a in parsed["To"].addresses]
    assert names == ["Bob Müller", "Δοκιμή"]


def test_long_lines_in_body_are_encoded() -> None:
    body = "x" * 2000 + "\n" + "é" * 1200 + "\n"
    parsed = parse(EmailMessage("s", body, "a@example.com", ["b@example.com"]))
    assert parsed["Content-Transfer-Encoding"] in {"quoted-printable", "base64"}
    assert parsed.get_content() == body


@pytest.mark.parametrize(
    "subject",
    [
        "Rapport trimestriel — résumé n° 3 für Zoë " * 6,
        "word " * 60,
        "x" * 2000,
        "é" * 400,
        "mixed ascii and ünïcödé " * 10,
    ],
)
def test_long_subjects_are_folded_without_loss(subject: str) -> None:
    msg = EmailMessage(subject, "b", "a@example.com", ["b@example.com"])
    raw = msg.as_bytes()
    subject_lines: list[bytes] = []
    for line in header_lines(raw):
        if line.startswith(b"Subject:") or (subject_lines and line[:1] in b" \t"):
            subject_lines.append(line)
        elif subject_lines:
            break
    assert len(subject_lines) > 1
    assert all(len(line) <= 78 for line in subject_lines)
    assert parse(msg)["Subject"] == subject


def test_long_address_lists_are_folded() -> None:
    to = [f"Recipient Number {i} <recipient{i}@example.com>" for i in range(30)]
    to.append("x" * 300 + " <long@example.com>")
    raw = EmailMessage("s", "b", "a@example.com", to).as_bytes()
    assert all(len(line) <= 78 for line in header_lines(raw))
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    addresses = parsed["To"].addresses
    assert [a.addr_spec for a in addresses][:30] == [
        f"recipient{i}@example.com" for i in range(30)
    ]
    assert addresses[-1].addr_spec == "long@example.com"
    # The stdlib parser puts a space between adjacent encoded-words in a phrase.
    assert addresses[-1].display_name.replace(" ", "") == "x" * 300


@pytest.mark.parametrize(
    ("written", "name", "addr_spec"),
    [
        ('"Doe, John" <john@example.com>', "Doe, John", "john@example.com"),
        ("Doe, John <john@example.com>", "Doe, John", "john@example.com"),
        ('"He said \\"hi\\"" <q@example.com>', 'He said "hi"', "q@example.com"),
        ('Zoë "the, best" Ørsted <z@example.com>', "Zoë the, best Ørsted", "z@example.com"),
        ('"Zoë \\"the, best\\"" <z@example.com>', 'Zoë "the, best"', "z@example.com"),
        ("Müller, Bob <bob@example.com>", "Müller, Bob", "bob@example.com"),
        ("=?utf-8?q?J=C3=B6rg?= <j@example.com>", "Jörg", "j@example.com"),
        ('"a b"@example.com', "", '"a b"@example.com'),
        ("<plain@example.com>", "", "plain@example.com"),
        ("John Q. Public <jqp@example.com>", "John Q. Public", "jqp@example.com"),
    ],
)
def test_display_names_are_encoded_correctly(written: str, name: str, addr_spec: str) -> None:
    parsed = parse(EmailMessage("s", "b", "a@example.com", [written, "other@example.com"]))
    addresses = parsed["To"].addresses
    assert len(addresses) == 2
    assert addresses[0].display_name == name
    assert addresses[0].addr_spec == addr_spec
    assert addresses[1].addr_spec == "other@example.com"


def test_idna_domains_in_headers_and_envelope() -> None:
    msg = EmailMessage(
        "s", "b", "Jörg <jorg@bücher.example>", ["Ünï <u@exämple.org>"], cc=["c@ÿ.example"]
    )
    parsed = parse(msg)
    assert parsed["From"].addresses[0].domain == "xn--bcher-kva.example"
    assert parsed["To"].addresses[0].domain == "xn--exmple-cua.org"
    assert parsed["Cc"].addresses[0].domain == "xn--wda.example"
    assert msg.envelope() == Envelope(
        sender="jorg@xn--bcher-kva.example",
        recipients=[
            ("Ünï <u@exämple.org>", "u@xn--exmple-cua.org"),
            ("c@ÿ.example", "c@xn--wda.example"),
        ],
    )


def test_envelope_pairs_in_to_cc_bcc_order() -> None:
    msg = EmailMessage(
        "s",
        "b",
        '"Sender" <s@example.com>',
        ["A <a@example.com>", ""],
        cc=["c@example.com"],
        bcc=["Hidden <h@example.com>"],
    )
    assert msg.envelope() == (
        "s@example.com",
        [
            ("A <a@example.com>", "a@example.com"),
            ("c@example.com", "c@example.com"),
            ("Hidden <h@example.com>", "h@example.com"),
        ],
    )


def test_envelope_keeps_non_ascii_local_part() -> None:
    msg = EmailMessage("s", "b", "a@example.com", ["jörg@example.com"])
    assert msg.envelope().recipients == [("jörg@example.com", "jörg@example.com")]
    raw = msg.as_bytes()
    assert "To: jörg@example.com".encode() in raw
    parsed = email.message_from_bytes(raw, policy=email.policy.SMTPUTF8)
    assert parsed["Subject"] == "s"


@pytest.mark.parametrize(
    "address",
    [
        "not an address@",
        "a@b@c.example",
        "@example.com",
        "user@",
        "a..b@example.com",
        "user@exa mple.com",
        "Name <bad@>",
        "user@" + "x" * 300 + ".com",
        "a\x0bb@example.com",
    ],
)
def test_invalid_addresses_raise_value_error_with_the_address(address: str) -> None:
    msg = EmailMessage("s", "b", "a@example.com", [address])
    with pytest.raises(ValueError) as info:
        msg.message()
    assert address in str(info.value) or repr(address)[1:-1] in str(info.value)
    with pytest.raises(ValueError, match="Invalid address"):
        msg.envelope()


def test_invalid_from_raises_in_envelope_and_message() -> None:
    msg = EmailMessage("s", "b", "nobody@", ["a@example.com"])
    with pytest.raises(ValueError, match="nobody"):
        msg.envelope()
    with pytest.raises(ValueError, match="nobody"):
        msg.as_bytes()


def test_reply_to_and_cc_headers() -> None:
    msg = EmailMessage(
        "s",
        "b",
        "a@example.com",
        ["to@example.com"],
        cc=["Carbon <cc@example.com>", "cc2@example.com"],
        reply_to=["Support Team <support@example.com>"],
    )
    parsed = parse(msg)
    assert [a.addr_spec for a in parsed["Cc"].addresses] == ["cc@example.com", "cc2@example.com"]
    assert parsed["Reply-To"].addresses[0].display_name == "Support Team"
    assert parsed["Reply-To"].addresses[0].addr_spec == "support@example.com"


def test_bcc_is_a_recipient_but_never_a_header() -> None:
    msg = EmailMessage("s", "b", "a@example.com", ["to@example.com"], bcc=["hidden@example.com"])
    assert msg.recipients() == ["to@example.com", "hidden@example.com"]
    raw = msg.as_bytes()
    assert b"hidden" not in raw
    assert "Bcc" not in parse(msg)


def test_bcc_in_extra_headers_is_refused() -> None:
    msg = EmailMessage("s", "b", "a@example.com", ["t@example.com"], headers={"BCC": "x@y.com"})
    with pytest.raises(ValueError, match="use bcc="):
        msg.as_bytes()


def test_recipients_drop_empty_entries() -> None:
    msg = EmailMessage("s", "b", None, ["", "a@example.com"], cc=[""], bcc=["b@example.com", ""])
    assert msg.recipients() == ["a@example.com", "b@example.com"]
    assert [a.addr_spec for a in parse(msg)["To"].addresses] == ["a@example.com"]
    assert "Cc" not in parse(msg)


@pytest.mark.parametrize("argument", ["to", "cc", "bcc", "reply_to"])
def test_bare_string_is_a_type_error(argument: str) -> None:
    with pytest.raises(TypeError, match=argument):
        EmailMessage("s", "b", "a@example.com", **{argument: "x@example.com"})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=argument):
        EmailMultiAlternatives("s", "b", **{argument: "x@example.com"})  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["evil\nBcc: x@evil.com", "evil\r\nX: y", "trailing\n", "cr\r"])
@pytest.mark.parametrize(
    ("header", "kwargs"),
    [
        ("Subject", lambda v: {"subject": v}),
        ("From", lambda v: {"from_email": f"a@example.com{v}"}),
        ("From", lambda v: {"from_email": f"Name{v} <a@example.com>"}),
        ("To", lambda v: {"to": [f"a@example.com{v}"]}),
        ("To", lambda v: {"to": [f"Na{v}me <a@example.com>"]}),
        ("Cc", lambda v: {"cc": [f"Name{v} <a@example.com>"]}),
        ("Reply-To", lambda v: {"reply_to": [f"r@example.com{v}"]}),
        ("X-Custom", lambda v: {"headers": {"X-Custom": v}}),
        ("To", lambda v: {"headers": {"To": f"a@example.com{v}"}}),
    ],
)
def test_line_breaks_in_headers_are_refused(header: str, kwargs, value: str) -> None:  # type: ignore[no-untyped-def]
    fields = {"subject": "s", "from_email": "f@example.com", "to": ["t@example.com"]}
    fields.update(kwargs(value))
    msg = EmailMessage(body="b", **fields)
    with pytest.raises(ValueError, match=header):
        msg.as_bytes()
    with pytest.raises(ValueError, match=header):
        msg.message()


@pytest.mark.parametrize("name", ["X-Bad\nName", "X-Trailing\r", "Bad Name", "Colon:", ""])
def test_invalid_extra_header_names_are_refused(name: str) -> None:
    msg = EmailMessage("s", "b", "a@example.com", ["t@example.com"], headers={name: "v"})
    with pytest.raises(ValueError, match=r"(?i)header"):
        msg.as_bytes()


def test_other_line_separators_are_encoded_not_injected() -> None:
    subject = "a\u2029Bcc: x@evil.com\u2028X-Evil: 1\x85z"
    msg = EmailMessage(subject, "b", "a@example.com", ["t@example.com"], headers={"X-A": subject})
    parsed = parse(msg)
    assert parsed["Subject"] == subject
    assert parsed["X-A"] == subject
    assert "Bcc" not in parsed
    assert "X-Evil" not in parsed


@pytest.mark.parametrize(
    "name", ["To", "to", "Cc", "CC", "Reply-To", "reply-to", "From", "FROM", "Date", "date"]
)
def test_extra_headers_override_generated_ones(name: str) -> None:
    value = "Mon, 02 Mar 2026 10:00:00 +0000" if name.lower() == "date" else "o@example.com"
    msg = EmailMessage(
        "s",
        "b",
        "a@example.com",
        ["t@example.com"],
        cc=["c@example.com"],
        reply_to=["r@example.com"],
        headers={name: value},
    )
    raw = msg.as_bytes()
    assert (
        sum(line.lower().startswith(name.lower().encode() + b":") for line in header_lines(raw))
        == 1
    )
    assert parse(msg)[name] == value
    assert msg.recipients() == ["t@example.com", "c@example.com"]


@pytest.mark.parametrize("name", ["Message-ID", "message-id", "MESSAGE-ID"])
def test_message_id_override_any_case(name: str) -> None:
    msg = EmailMessage("s", "b", "a@example.com", ["t@example.com"], headers={name: "<m@id>"})
    parsed = parse(msg)
    assert parsed.get_all("Message-ID") == ["<m@id>"]


def test_from_header_override_keeps_envelope_sender() -> None:
    msg = EmailMessage(
        "s", "b", "bounce@example.com", ["t@example.com"], headers={"From": "Nice <n@example.com>"}
    )
    assert parse(msg)["From"].addresses[0].addr_spec == "n@example.com"
    assert msg.envelope().sender == "bounce@example.com"


def test_extra_headers_encoded_and_kept() -> None:
    msg = EmailMessage(
        "s",
        "b",
        "a@example.com",
        ["t@example.com"],
        headers={
            "X-Note": "héllo wörld",
            "List-Unsubscribe": "<https://example.com/" + "u" * 90 + ">",
        },
    )
    parsed = parse(msg)
    assert parsed["X-Note"] == "héllo wörld"
    assert parsed["List-Unsubscribe"] == "<https://example.com/" + "u" * 90 + ">"


def test_date_and_message_id_are_generated() -> None:
    parsed = parse(EmailMessage("s", "b", "a@example.com", ["t@example.com"]))
    assert parsed["Date"].datetime.utcoffset() == timedelta(0)
    assert parsed["Message-ID"].startswith("<") and parsed["Message-ID"].endswith(">")
    other = parse(EmailMessage("s", "b", "a@example.com", ["t@example.com"]))
    assert parsed["Message-ID"] != other["Message-ID"]


@pytest.fixture
def tz_tokyo(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        yield
    finally:
        monkeypatch.undo()
        time.tzset()


def test_date_in_utc_by_default(tz_tokyo: None) -> None:
    parsed = parse(EmailMessage("s", "b", "a@example.com", ["t@example.com"]))
    assert parsed["Date"].datetime.utcoffset() == timedelta(0)


def test_date_in_local_time_with_email_use_localtime(
    tz_tokyo: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMAIL_USE_LOCALTIME", "true")
    parsed = parse(EmailMessage("s", "b", "a@example.com", ["t@example.com"]))
    assert parsed["Date"].datetime.utcoffset() == timedelta(hours=9)


def test_from_email_none_uses_default_from_email(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEFAULT_FROM_EMAIL", "Site <site@example.com>")
    msg = EmailMessage("s", "b", None, ["t@example.com"])
    assert msg.from_email is None
    assert parse(msg)["From"].addresses[0].addr_spec == "site@example.com"
    assert msg.envelope().sender == "site@example.com"


def test_from_email_default_without_env() -> None:
    msg = EmailMessage(to=["t@example.com"])
    assert parse(msg)["From"] == "webmaster@localhost"


def test_connection_argument_is_deprecated() -> None:
    with pytest.warns(MailProvidersDeprecationWarning, match="using="):
        msg = EmailMessage("s", "b", connection=object())
    assert msg._connection is not None


def test_attributes_and_defaults() -> None:
    msg = EmailMessage()
    assert (msg.subject, msg.body, msg.from_email) == ("", "", None)
    assert (msg.to, msg.cc, msg.bcc, msg.reply_to) == ([], [], [], [])
    assert msg.extra_headers == {} and msg.attachments == []
    assert msg.refused_recipients == {} and msg.sent_using is None
    assert msg.encoding is None and msg.content_subtype == "plain"
    assert msg.mixed_subtype == "mixed"
    parsed = parse(msg)
    assert parsed["Subject"] == "" and "To" not in parsed


def test_crlf_serialization_for_smtp() -> None:
    raw = EmailMessage("é" * 100, "line1\nline2\n", "a@example.com", ["t@example.com"]).as_bytes(
        linesep="\r\n"
    )
    assert b"\r\n" in raw
    assert b"\n" not in raw.replace(b"\r\n", b"")
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == "é" * 100


def test_message_returns_stdlib_modern_message() -> None:
    msg = EmailMessage("Grüße", "b", "a@example.com", ["Bob <b@exämple.com>"]).message()
    assert isinstance(msg, email.message.EmailMessage)
    assert msg["Subject"] == "Grüße"
    assert msg["To"].addresses[0].domain == "xn--exmple-cua.com"
    utc = email.utils.parsedate_to_datetime(str(msg["Date"]))
    assert utc.utcoffset() == timedelta(0)


def test_local_part_only_addresses_are_accepted_as_in_django() -> None:
    """``postmaster`` (no ``@domain``): not RFC 5322, but used for local delivery."""
    msg = EmailMessage(from_email="django", to=["localpartonly", "Name <local>"])
    parsed = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    assert parsed["From"].addresses[0].addr_spec == "django"
    assert [a.addr_spec for a in parsed["To"].addresses] == ["localpartonly", "local"]
    assert [spec for _, spec in msg.envelope().recipients] == ["localpartonly", "local"]
