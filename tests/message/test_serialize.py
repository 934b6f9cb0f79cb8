"""The fast serializer against the standard-library path, on the same messages.

The reference is the same message built by a subclass that overrides a MIME hook,
which makes it take the standard-library path (``set_content``, ``add_attachment``,
the standard generator). Both outputs are parsed with the standard parser and
compared header by header (decoded) and part by part (type, charset, file name,
decoded payload). The fast bytes must also equal what the standard generator writes
for the very object ``message()`` returned.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import random
import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import mailproviders
from mailproviders.message import EmailMessage, EmailMultiAlternatives, payloads
from mailproviders.message.addresses import _parse_mailbox_fully, parse_mailbox
from mailproviders.message.payloads import Base64, Text
from mailproviders.message.stdlib import SerializedMessage

FIXED = {"Date": "Mon, 23 Nov 2026 10:00:00 +0000", "Message-ID": "<fixed.1@example.com>"}
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 9


class ReferenceMessage(EmailMessage):
    def _add_bodies(self, msg: email.message.EmailMessage) -> None:
        super()._add_bodies(msg)


class ReferenceAlternatives(EmailMultiAlternatives):
    def _add_bodies(self, msg: email.message.EmailMessage) -> None:
        super()._add_bodies(msg)


def _make(fast: bool, spec: dict[str, Any]) -> EmailMessage:
    spec = dict(spec)
    alternatives = spec.pop("alternatives", [])
    attachments = spec.pop("attachments", [])
    subtype = spec.pop("content_subtype", None)
    mixed = spec.pop("mixed_subtype", None)
    headers = {**FIXED, **spec.pop("headers", {})}
    cls = (EmailMultiAlternatives if fast else ReferenceAlternatives) if alternatives else (
        EmailMessage if fast else ReferenceMessage
    )  # fmt: skip
    msg = cls(headers=headers, **spec)
    for content, mimetype in alternatives:
        msg.attach_alternative(content, mimetype)  # type: ignore[attr-defined]
    for attachment in attachments:
        msg.attach(*attachment) if isinstance(attachment, tuple) else msg.attach(attachment)
    if subtype:
        msg.content_subtype = subtype
    if mixed:
        msg.mixed_subtype = mixed
    return msg


def _describe(data: bytes) -> list[dict[str, Any]]:
    """Every part of the parsed message: decoded headers, type, charset, file, payload."""
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    parts = []
    for part in parsed.walk():
        headers = [
            (name.lower(), str(value))
            for name, value in part.items()
            if name.lower() != "content-type"
        ]
        payload = None if part.is_multipart() else part.get_payload(decode=True)
        parts.append({
            "headers": headers,
            "type": part.get_content_type(),
            "charset": part.get_content_charset(),
            "filename": part.get_filename(),
            "disposition": part.get_content_disposition(),
            "payload": payload,
            "defects": [type(d).__name__ for d in part.defects],
        })  # fmt: skip
    return parts


def _check_lines(data: bytes) -> None:
    for line in data.split(b"\n"):
        assert len(line.rstrip(b"\r")) <= 998


def _compare(spec: dict[str, Any], *, fast_path: bool | None = True) -> None:
    reference = _make(False, spec)
    try:
        expected = reference.as_bytes()
    except (ValueError, TypeError, UnicodeError) as exc:
        with pytest.raises(type(exc)) as info:
            _make(True, spec).as_bytes()
        assert str(info.value) == str(exc)
        with pytest.raises(type(exc)):
            _make(True, spec).message()
        return
    fast = _make(True, spec)
    stdlib_object = fast.message()
    if fast_path is not None:
        assert isinstance(stdlib_object, SerializedMessage) is fast_path
    smtp = email.policy.SMTP
    for policy in (email.policy.default, smtp):
        built = stdlib_object if policy is email.policy.default else fast.message(policy=policy)
        if isinstance(built, SerializedMessage):
            # What the standard generator writes for the object message() returned.
            assert built.as_bytes() == email.message.EmailMessage.as_bytes(built)
    if isinstance(stdlib_object, SerializedMessage):
        _check_wire_bytes(spec)
    pairs: list[tuple[Callable[[], bytes], Callable[[], bytes]]] = [
        (fast.as_bytes, lambda: expected),
        (stdlib_object.as_bytes, lambda: reference.message().as_bytes()),
        (lambda: fast.as_bytes(linesep="\r\n"), lambda: reference.as_bytes(linesep="\r\n")),
        (
            lambda: fast.message(policy=smtp).as_bytes(),
            lambda: reference.message(policy=smtp).as_bytes(),
        ),
    ]  # fmt: skip
    for fast_bytes, reference_bytes in pairs:
        try:
            reference_data = reference_bytes()
        except UnicodeEncodeError:  # the stdlib cannot write a non-ASCII local part as ASCII
            with pytest.raises(UnicodeEncodeError):
                fast_bytes()
            continue
        data = fast_bytes()
        _check_lines(data)
        assert _describe(data) == _describe(reference_data)


def _check_wire_bytes(spec: dict[str, Any]) -> None:
    """``as_bytes()`` (rendered from the tree, never via standard-library objects) is
    byte for byte what the standard generator writes for the same message, built as the
    standard-library path of ``as_bytes()`` builds it; the same random boundary is drawn
    for both."""
    state = random.getstate()
    policy = email.policy.default.clone(refold_source="none")
    try:
        for linesep in ("\n", "\r\n"):
            random.seed(linesep)
            data = _make(True, spec).as_bytes(linesep=linesep)
            random.seed(linesep)
            built = _make(True, spec).message(policy=policy)
            generated = email.message.EmailMessage.as_bytes(
                built, policy=policy.clone(linesep=linesep)
            )
            assert data == generated
    finally:
        random.setstate(state)


TEXT = "Hello Zoë,\nyour report (Q3 — €12,480.50) is attached.\n"
LONG_ASCII = ("word " * 60 + "\n") * 3
LONG_UTF8 = ("ŻŹĆŃĄŚŁĘÓ " * 30 + "\n") * 12
CASES: dict[str, dict[str, Any]] = {
    "simple": {
        "subject": "Sign-in code",
        "body": "Line\n" * 12,
        "from_email": "a@example.com",
        "to": ["b@example.com"],
    },
    "non-ascii": {
        "subject": "Rapport — résumé n° 3 für Zoë " * 3,
        "body": TEXT,
        "from_email": '"Reports Team" <r@example.com>',
        "to": ["Bob Müller <bob@example.org>", "c@bücher.example"],
        "cc": ["d@example.com"],
        "reply_to": ["Support, Inc <s@example.com>"],
    },
    "long ascii lines (quoted-printable)": {
        "subject": "x",
        "body": LONG_ASCII,
        "to": ["b@example.com"],
    },
    "long non-ascii lines (base64)": {"subject": "x", "body": LONG_UTF8, "to": ["b@example.com"]},
    "one line over 998": {"subject": "x", "body": "y" * 3000, "to": ["b@example.com"]},
    "line endings": {"subject": "x", "body": "a\r\nb\rc\n\nFrom me\n.\n", "to": ["b@example.com"]},
    "empty body": {"subject": "", "body": "", "to": ["b@example.com"]},
    "html body": {
        "subject": "x",
        "body": "<p>é</p>",
        "to": ["b@example.com"],
        "content_subtype": "html",
    },
    "rich": {
        "subject": "Rapport trimestriel — résumé",
        "body": TEXT,
        "to": ["b@example.com"],
        "alternatives": [("<p>" + TEXT + "</p>", "text/html")],
        "attachments": [
            ("report.pdf", PDF, "application/pdf"),
            ("notes.txt", "é\n" * 50, "text/plain"),
            ("raw.txt", b"caf\xc3\xa9\n", "text/plain"),
            ("bad.txt", b"\xff\xfe\x00", "text/plain"),
            (None, b"", "application/octet-stream"),
            ("a-file-name-that-is-quite-long-so-the-header-folds-x.bin", b"1", None),
        ],
    },
    "alternatives without body": {
        "subject": "x",
        "to": ["b@example.com"],
        "alternatives": [("<b>x</b>", "text/html"), (b"{}", "application/json")],
    },
    "attachments without body": {
        "subject": "x",
        "to": ["b@example.com"],
        "attachments": [("a.csv", "a,b\n1,2\n", "text/csv")],
        "mixed_subtype": "related",
    },
    "attachment of several base64 blocks": {
        "subject": "x",
        "body": "b",
        "to": ["b@example.com"],
        "attachments": [
            ("big.bin", bytes(range(256)) * 600, None),
            ("t.txt", "é\r" * 70000, None),
        ],
    },
    "boundary-like body": {
        "subject": "x",
        "body": "--===============\n--==\n",
        "to": ["b@e.com"],
        "attachments": [("x.bin", b"--===============", None)],
    },
    "extra headers": {
        "subject": "x",
        "body": "b",
        "to": ["b@example.com"],
        "headers": {
            "X-Tag": "é " * 60,
            "To": "Over Ride <o@example.com>",
            "Reply-To": ["r1@example.com", "R Two <r2@example.com>"],
        },
    },
}
FALLBACK_CASES: dict[str, dict[str, Any]] = {
    "non-ascii filename": {"subject": "x", "body": "b", "to": ["b@example.com"],
                           "attachments": [("résumé.pdf", b"1", "application/pdf")]},
    "message attachment": {"subject": "x", "body": "b", "to": ["b@example.com"],
                           "attachments": [("m.eml", b"Subject: hi\n\nbody\n", "message/rfc822")]},
    "mime part": {"subject": "x", "body": "b", "to": ["b@example.com"],
                  "attachments": [email.message.MIMEPart()]},
    "content header given": {"subject": "x", "body": "b", "to": ["b@example.com"],
                             "headers": {"Content-Language": "fr"}},
    "non-ascii local part": {"subject": "x", "body": "b", "to": ["jörg@example.com"]},
}  # fmt: skip


@pytest.fixture(autouse=True)
def _settings() -> None:
    mailproviders.configure(EMAIL_PROVIDERS={}, DEFAULT_FROM_EMAIL="site@example.com")


@pytest.mark.parametrize("name", list(CASES))
def test_fast_path_matches_stdlib(name: str) -> None:
    _compare(CASES[name], fast_path=True)


@pytest.mark.parametrize("name", list(FALLBACK_CASES))
def test_uncovered_messages_fall_back_to_stdlib(name: str) -> None:
    _compare(FALLBACK_CASES[name], fast_path=False)


def test_other_charset_falls_back() -> None:
    msg = EmailMessage("x", "café", to=["b@example.com"])
    msg.encoding = "iso-8859-1"
    assert not isinstance(msg.message(), SerializedMessage)
    assert b'charset="iso-8859-1"' in msg.as_bytes()


@pytest.mark.parametrize(
    "value",
    ["x\nBcc: evil@example.com", "x\r", "\rX-Evil: 1"],
)
@pytest.mark.parametrize("where", ["subject", "name", "extra", "extra name"])
def test_header_injection_rejected_on_both_paths(value: str, where: str) -> None:
    spec: dict[str, Any] = {"subject": "s", "body": "b", "to": ["b@example.com"]}
    if where == "subject":
        spec["subject"] = value
    elif where == "name":
        spec["to"] = [f'"{value}" <b@example.com>']
    elif where == "extra":
        spec["headers"] = {"X-Tag": value}
    else:
        spec["headers"] = {f"X-{value}": "v"}
    for fast in (True, False):
        with pytest.raises(ValueError):
            _make(fast, spec).as_bytes()
        with pytest.raises(ValueError):
            _make(fast, spec).message()


def _body(msg: email.message.EmailMessage) -> email.message.MIMEPart:
    body = msg.get_body()
    assert body is not None
    return body


MUTATIONS: dict[str, Callable[[email.message.EmailMessage], None]] = {
    "add header": lambda m: m.__setitem__("X-New", "1"),
    "delete header": lambda m: m.__delitem__("Subject"),
    "replace header": lambda m: m.replace_header("Subject", "changed"),
    "set boundary": lambda m: m.set_boundary("changed-boundary"),
    "part payload": lambda m: next(m.iter_attachments()).set_content(b"new", "application", "x"),
    "attach": lambda m: m.attach(email.message.EmailMessage()),
    "body header": lambda m: _body(m).set_param("format", "flowed"),
    "preamble": lambda m: setattr(m, "preamble", "preamble text"),
    "epilogue": lambda m: setattr(m.get_payload(0), "epilogue", "x"),
    "policy": lambda m: setattr(m, "policy", email.policy.SMTP),
    "add_attachment": lambda m: m.add_attachment(b"z", "application", "z"),
}


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_modified_message_uses_the_standard_generator(name: str) -> None:
    msg = _make(True, CASES["rich"]).message()
    before = msg.as_bytes()
    MUTATIONS[name](msg)
    after = msg.as_bytes()
    assert after != before
    assert after == email.message.EmailMessage.as_bytes(msg)


def test_as_string_and_bytes_protocol() -> None:
    msg = _make(True, CASES["simple"]).message()
    assert msg.as_string() == email.message.EmailMessage.as_string(msg)
    assert bytes(msg) == email.message.EmailMessage.as_bytes(msg)
    assert msg.as_bytes(unixfrom=True).startswith(b"From ")
    policy = email.policy.default.clone(linesep="\r\n")
    assert msg.as_bytes(policy=policy) == email.message.EmailMessage.as_bytes(msg, policy=policy)


# -- generated messages ----------------------------------------------------------------

_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=300)
_word = st.text("abcxyzé—€ \t=?_\"'<>,;:.()\\@", max_size=40)
_name = st.one_of(st.just(""), _word, st.text("ab Cd.-'", min_size=1, max_size=20))
_filename = st.one_of(st.none(), st.text('abc.-_ é"', min_size=1, max_size=90))
_attachment = st.tuples(
    _filename,
    st.one_of(st.binary(max_size=300), _text),
    st.sampled_from(["application/pdf", "text/plain", "image/png", "text/csv"]),
)


@st.composite
def _specs(draw: st.DrawFn) -> dict[str, Any]:
    to = [
        f'"{draw(_name)}" <{draw(st.sampled_from(["a", "b.c", "d_e"]))}@example.com>'
        for _ in range(draw(st.integers(1, 3)))
    ]
    spec: dict[str, Any] = {
        "subject": draw(st.one_of(_word, _text)),
        "body": draw(_text),
        "from_email": f"{draw(_name)} <from@example.com>",
        "to": to,
        "cc": draw(st.lists(st.just("cc@example.org"), max_size=2)),
        "alternatives": draw(st.lists(st.tuples(_text, st.just("text/html")), max_size=2)),
        "attachments": draw(st.lists(_attachment, max_size=3)),
    }
    if draw(st.booleans()):
        spec["headers"] = {"X-Extra": draw(_text)}
    return spec


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_specs())
@example({"subject": "é" * 200, "body": "\r\n.\r\n", "to": ["b@example.com"]})
def test_generated_messages_match_stdlib(spec: dict[str, Any]) -> None:
    _compare(spec, fast_path=None)


_chars = "aZ0.!#$%&'*+/=?^_`{|}~-\"(),:;<>@[]\\ é\t"


@settings(max_examples=300, deadline=None)
@given(st.text(_chars, max_size=30), st.text(_chars, min_size=1, max_size=20))
@example("Bob", "b@example.com")
@example('"a, b (c)"', "x.y@z")
def test_quick_address_parse_agrees_with_full_parse(name: str, addr: str) -> None:
    for address in (addr, f"{name} <{addr}>", f"<{addr}>"):
        try:
            expected = _parse_mailbox_fully(address, "To")
        except ValueError:
            with pytest.raises(ValueError):
                parse_mailbox(address, "To")
            continue
        assert parse_mailbox(address, "To") == expected


# -- payloads held in the tree (base64 as raw bytes, written a block at a time) ----------

_BLOCK = 57 * 1024


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 3 * _BLOCK + 100), st.integers(0, 2**32 - 1))
@example(0, 0)
@example(1, 0)
@example(57, 0)
@example(58, 0)
@example(_BLOCK - 1, 0)
@example(_BLOCK, 0)
@example(_BLOCK + 1, 0)
@example(2 * _BLOCK + 56, 0)
def test_base64_payload_is_the_standard_librarys(size: int, seed: int) -> None:
    data = random.Random(seed).randbytes(size)
    part = email.message.EmailMessage()
    part.set_content(data, "application", "octet-stream")
    expected = part.get_payload()
    payload = Base64(data)
    assert payload.text() == expected
    for linesep in ("\n", "\r\n"):
        pieces: list[bytes] = []
        payload.write(pieces.append, linesep)
        written = b"".join(pieces)
        assert written == expected.replace("\n", linesep).encode("ascii")
        assert payload.size(linesep) == len(written)


@given(
    st.text(st.sampled_from(["a", "\r", "\n", "\udcff", " "]), max_size=60),
    st.sampled_from([1, 2, 3, 7, payloads._TEXT_CHUNK]),
)
@example("a\r\nb\r\n\r", 2)
@example("\r\r\n", 1)
def test_text_payload_is_written_with_its_line_endings_made_linesep(
    payload: str, chunk: int
) -> None:
    # Written in chunks (of ``chunk`` characters here), a CRLF is never cut in two.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(payloads, "_TEXT_CHUNK", chunk)
        for linesep in ("\n", "\r\n"):
            pieces: list[bytes] = []
            Text(payload).write(pieces.append, linesep)
            written = b"".join(pieces)
            expected = linesep.join(re.split(r"\r\n|\r|\n", payload))
            assert written == expected.encode("ascii", "surrogateescape")
            assert Text(payload).size(linesep) == len(written)
