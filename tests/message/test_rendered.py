"""RenderedMessage: a message whose bytes are final (issue 19, item 1)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import mailproviders
from mailproviders import EmailMessage, EmailMultiAlternatives, RenderedMessage, outbox
from mailproviders.message import RenderedMessage as FromMessagePackage

DATA = (
    b"From: Shop <shop@example.com>\r\n"
    b"To: ann@example.com\r\n"
    b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n"
    b"Message-ID: <abc.123@example.com>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"Gr\xc3\xbc\xc3\x9fe\r\n.a line with a dot\r\n"
)


def rendered(**overrides: Any) -> RenderedMessage:
    arguments: dict[str, Any] = {
        "from_email": "shop@example.com",
        "recipients": ["ann@example.com", "Hidden <hidden@example.com>"],
    }
    arguments.update(overrides)
    return RenderedMessage(arguments.pop("data", DATA), **arguments)


def test_exported_and_a_subclass_of_email_message() -> None:
    assert FromMessagePackage is RenderedMessage
    assert issubclass(RenderedMessage, EmailMessage)
    assert "RenderedMessage" in mailproviders.__all__


def test_fields_and_envelope() -> None:
    message = rendered(alias="smtp_primary")
    assert message.data == DATA
    assert message.from_email == "shop@example.com"
    assert message.recipients() == ["ann@example.com", "Hidden <hidden@example.com>"]
    assert message.message_id == "<abc.123@example.com>"  # from the data
    assert message.alias == "smtp_primary"
    assert message.subject == "Grüße"
    envelope = message.envelope()
    assert envelope.sender == "shop@example.com"
    assert [spec for _, spec in envelope.recipients] == ["ann@example.com", "hidden@example.com"]
    assert "abc.123@example.com" in repr(message)


def test_explicit_message_id_wins_and_missing_header_gives_none() -> None:
    assert rendered(message_id="<other@x>").message_id == "<other@x>"
    data = b"Subject: no id\r\n\r\nbody\r\n"
    assert rendered(data=data).message_id is None


def test_line_endings_are_normalised_and_nothing_else() -> None:
    mixed = b"Subject: a\nX-A: b\r\n\r\nline1\rline2\nline3\r\n"
    message = rendered(data=mixed)
    assert message.as_bytes(linesep="\r\n") == (
        b"Subject: a\r\nX-A: b\r\n\r\nline1\r\nline2\r\nline3\r\n"
    )
    assert message.as_bytes() == b"Subject: a\nX-A: b\n\nline1\nline2\nline3\n"
    assert message.data == mixed  # kept as given
    assert rendered().as_bytes(linesep="\r\n") is DATA  # already CRLF: the same object


def test_message_parses_the_data() -> None:
    parsed = rendered().message()
    assert parsed["Message-ID"] == "<abc.123@example.com>"
    assert parsed.get_content() == "Grüße\n.a line with a dot\n"
    assert ("To", "ann@example.com") in rendered().header_items()


def test_from_message_renders_once_with_crlf() -> None:
    original = EmailMultiAlternatives(
        "Hi", "Body", "Me <me@example.com>", ["a@example.com"], bcc=["b@example.com"]
    )
    original.attach_alternative("<p>Body</p>", "text/html")
    message = RenderedMessage.from_message(original, alias="queue")
    assert message.from_email == "Me <me@example.com>"
    assert message.recipients() == ["a@example.com", "b@example.com"]
    assert b"\r\n" in message.data and b"\n" not in message.data.replace(b"\r\n", b"")
    assert b"Bcc" not in message.data
    assert message.message_id is not None
    assert message.message_id.encode() in message.data
    assert message.alias == "queue"


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"data": "text, not bytes"}, "data"),
        ({"data": b""}, "data"),
        ({"data": b"\r\nno headers"}, "data"),
        ({"from_email": ""}, "from_email"),
        ({"from_email": "not an address"}, "not an address"),
        ({"from_email": "a@example.com\r\nRCPT TO:<x@y>"}, "from_email"),
        ({"recipients": "ann@example.com"}, "recipients"),
        ({"recipients": ["ok@example.com", "bad@@example.com"]}, "bad@@example.com"),
        ({"recipients": ["a@example.com\nRCPT TO:<evil@x>"]}, "line break"),
        ({"recipients": [42]}, "recipients"),
        ({"message_id": "<a@b>\r\nBcc: x@y"}, "message_id"),
        ({"alias": 3}, "alias"),
    ],
)
def test_bad_input_is_a_value_error_naming_it(overrides: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError) as info:
        rendered(**overrides)
    assert named in str(info.value)


def test_the_bytes_are_final() -> None:
    message = rendered()
    with pytest.raises(TypeError, match="final"):
        message.attach("a.txt", "x", "text/plain")


def test_to_dict_is_json_safe_and_round_trips() -> None:
    message = rendered(alias="smtp_primary")
    data = message.to_dict()
    assert data["v"] == 1
    again = RenderedMessage.from_dict(json.loads(json.dumps(data)))
    assert again.to_dict() == data
    assert again.data == DATA and again.recipients() == message.recipients()


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"v": 2}, "'v'"),
        ({"v": None}, "'v'"),
        ({"v": True}, "'v'"),
        ({"v": 1.0}, "'v'"),
        ({"extra": 1}, "'extra'"),
        ({"data": "***"}, "'data'"),
        ({"data": 5}, "'data'"),
        ({"recipients": "a@example.com"}, "'recipients'"),
        ({"from_email": "bad address"}, "from_email"),
    ],
)
def test_from_dict_names_the_bad_key(change: dict[str, Any], named: str) -> None:
    data = {**rendered().to_dict(), **change}
    with pytest.raises(ValueError, match=named):
        RenderedMessage.from_dict(data)


@pytest.mark.parametrize("key", ["data", "from_email", "recipients"])
def test_from_dict_names_a_missing_key(key: str) -> None:
    data = rendered().to_dict()
    del data[key]
    with pytest.raises(ValueError, match=f"'{key}': missing"):
        RenderedMessage.from_dict(data)


_LOCAL = st.from_regex(r"[a-z0-9][a-z0-9.+_-]{0,20}", fullmatch=True).filter(
    lambda s: ".." not in s and not s.endswith(".")
)
_ADDRESS = st.builds(lambda local, domain: f"{local}@{domain}.example", _LOCAL, _LOCAL)


@given(
    body=st.binary(max_size=2000),
    sender=_ADDRESS,
    recipients=st.lists(_ADDRESS, max_size=5),
    alias=st.none() | st.text(st.characters(blacklist_characters="\r\n"), max_size=20),
    message_id=st.none() | st.from_regex(r"<[a-z0-9.]{1,20}@[a-z.]{1,20}>", fullmatch=True),
)
def test_round_trip_property(
    body: bytes,
    sender: str,
    recipients: list[str],
    alias: str | None,
    message_id: str | None,
) -> None:
    message = RenderedMessage(
        b"Subject: x\r\n\r\n" + body,
        from_email=sender,
        recipients=recipients,
        alias=alias,
        message_id=message_id,
    )
    wire = json.dumps(message.to_dict())  # JSON-safe: raises otherwise
    again = RenderedMessage.from_dict(json.loads(wire))
    assert (again.data, again.from_email, again.recipients()) == (
        message.data,
        sender,
        recipients,
    )
    assert (again.alias, again.message_id) == (alias, message_id)


def test_send_functions_do_not_change_its_bytes() -> None:
    mailproviders.configure(
        EMAIL_PROVIDERS={
            "default": {
                "BACKEND": "locmem",
                "DEFAULTS": {
                    "from_email": "defaults@example.com",
                    "reply_to": ["reply@example.com"],
                    "headers": {"X-Added": "by defaults"},
                },
            }
        }
    )
    outbox.clear()
    message = rendered()
    assert message.send() == 1
    [kept] = outbox
    assert isinstance(kept, RenderedMessage)
    assert kept.data == DATA and kept.sent_using == "default"
    assert kept.extra_headers == {} and kept.reply_to == []
    assert kept.from_email == "shop@example.com"
    assert b"X-Added" not in kept.as_bytes()


def test_deep_copy_keeps_everything() -> None:
    message = rendered(alias="a")
    clone = copy.deepcopy(message)
    assert clone.to_dict() == message.to_dict()
