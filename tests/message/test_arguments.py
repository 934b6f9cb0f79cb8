"""Wrong argument types and shapes: a TypeError/ValueError naming the argument, raised when
the message is built (or, for attributes changed afterwards, before it is serialized),
never a str() of the value, an AttributeError, a KeyError or a RecursionError."""

from __future__ import annotations

import email.message
from typing import Any

import pytest

from mailproviders.message import EmailMessage, EmailMultiAlternatives
from mailproviders.message.arguments import MAX_NESTING, ArgumentTypeError


def _message(**overrides: Any) -> EmailMessage:
    arguments: dict[str, Any] = {
        "subject": "s",
        "body": "b",
        "from_email": "a@example.com",
        "to": ["b@example.com"],
    }
    return EmailMessage(**{**arguments, **overrides})


@pytest.mark.parametrize("argument", ["to", "cc", "bcc", "reply_to"])
@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("bob@example.com", "not a string"),
        ([b"bob@example.com"], "item 0 is bytes"),
        (["ok@example.com", {"x@example.com"}], "item 1 is set"),
        ([7], "item 0 is int"),
        ({"x@example.com"}, "not set"),
        (b"bob@example.com", "not bytes"),
        (iter(["x@example.com"]), "not list_iterator"),
    ],
)
def test_address_arguments_of_the_wrong_type(argument: str, value: object, shown: str) -> None:
    with pytest.raises(TypeError, match=f'"{argument}" argument') as info:
        _message(**{argument: value})
    assert shown in str(info.value)


@pytest.mark.parametrize(
    ("argument", "value"),
    [("from_email", b"a@example.com"), ("subject", b"hi"), ("body", b"hi"), ("body", 42)],
)
def test_text_arguments_of_the_wrong_type(argument: str, value: object) -> None:
    with pytest.raises(TypeError, match=f'"{argument}" argument must be a string or None'):
        _message(**{argument: value})


def test_address_list_changed_after_init_is_checked_before_serializing() -> None:
    message = _message()
    message.to.append(b"x@example.com")  # type: ignore[arg-type]
    for serialize in (message.message, message.as_bytes, message.envelope):
        with pytest.raises(TypeError, match='"to" argument must hold strings; item 1 is bytes'):
            serialize()
    message.to = "x@example.com"  # type: ignore[assignment]
    with pytest.raises(TypeError, match='"to" argument must be a list or tuple'):
        message.as_bytes()


def test_header_names_and_byte_values() -> None:
    with pytest.raises(TypeError, match='"headers" argument must have string keys; got int 1'):
        _message(headers={1: "v"})
    with pytest.raises(TypeError, match="value of 'X-Raw' must not be bytes"):
        _message(headers={"X-Raw": b"v"})
    message = _message()
    message.extra_headers[2] = "v"  # type: ignore[index]
    with pytest.raises(TypeError, match='"headers" argument'):
        message.as_bytes()
    message = _message(headers={"To": ["ok@example.com", b"x@example.com"]})
    with pytest.raises(TypeError, match="Header 'To' must list strings, not bytes"):
        message.as_bytes()


@pytest.mark.parametrize("content", [[1, 2], 42, {"a": 1}, object()])
def test_attachment_content_of_the_wrong_type(content: object) -> None:
    message = _message()
    with pytest.raises(TypeError, match='"content" argument must be str, bytes or an email'):
        message.attach("a.bin", content, "application/octet-stream")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match='"content" argument'):
        _message(attachments=[("a.bin", content, "application/octet-stream")])
    assert message.attachments == []


def test_attachment_filename_and_mimetype_of_the_wrong_type() -> None:
    with pytest.raises(TypeError, match='"filename" argument'):
        _message().attach(b"a.txt", "x", "text/plain")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match='"mimetype" argument'):
        _message().attach("a.txt", "x", b"text/plain")  # type: ignore[arg-type]


def test_alternative_content_of_the_wrong_type() -> None:
    message = EmailMultiAlternatives("s", "b", "a@example.com", ["b@example.com"])
    with pytest.raises(TypeError, match='"content" argument must be str or bytes, not int'):
        message.attach_alternative(42, "text/html")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match='"content" argument'):
        EmailMultiAlternatives(alternatives=[([1], "text/html")])  # type: ignore[list-item]


def test_a_message_attached_to_itself() -> None:
    message = _message()
    with pytest.raises(ValueError, match='"content" argument is the message itself'):
        message.attach(None, message, "message/rfc822")
    other = _message()
    other.attach(None, message, "message/rfc822")
    with pytest.raises(ValueError, match='"content" argument is the message itself'):
        message.attach(None, other, "message/rfc822")  # a cycle through `other`
    assert message.attachments == []


def test_a_cycle_made_behind_attach_is_found_before_serializing() -> None:
    outer, inner = _message(), _message()
    outer.attach(None, inner, "message/rfc822")
    inner.attachments.append(outer.attachments[0]._replace(content=outer))
    for serialize in (outer.message, outer.as_bytes):
        with pytest.raises(ValueError, match='"content" argument is the message itself'):
            serialize()


def test_messages_nested_too_deep() -> None:
    message = _message()
    for _ in range(MAX_NESTING):  # MAX_NESTING messages inside the outermost one
        outer = _message()
        outer.attach(None, message, "message/rfc822")
        message = outer
    parsed = email.message_from_bytes(message.as_bytes())  # the deepest allowed works
    assert parsed.is_multipart()
    with pytest.raises(ValueError, match=f"more than {MAX_NESTING} deep"):
        _message().attach(None, message, "message/rfc822")
    for _ in range(500 - MAX_NESTING):  # built behind attach(), 500 deep as in the issue
        outer = _message()
        outer.attachments.append(("m", message, "message/rfc822"))  # type: ignore[arg-type]
        message = outer
    with pytest.raises(ValueError, match=f"more than {MAX_NESTING} deep"):
        message.as_bytes()


def test_argument_errors_are_type_errors_with_the_argument_named() -> None:
    with pytest.raises(ArgumentTypeError) as info:
        _message(cc="c@example.com")
    assert isinstance(info.value, TypeError)
    assert info.value.argument == "cc"
