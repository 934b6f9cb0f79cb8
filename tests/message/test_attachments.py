"""Attachments, alternatives and body_contains, checked on the parsed bytes."""

from __future__ import annotations

import email
import email.message
import email.policy
from pathlib import Path

import pytest

from mailproviders.message import (
    EmailAlternative,
    EmailAttachment,
    EmailMessage,
    EmailMultiAlternatives,
)


def parse(message: EmailMessage) -> email.message.EmailMessage:
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, email.message.EmailMessage)
    return parsed


def attachments(message: EmailMessage) -> list[email.message.EmailMessage]:
    return list(parse(message).iter_attachments())  # type: ignore[arg-type]


def new() -> EmailMessage:
    return EmailMessage("s", "Body", "a@example.com", ["t@example.com"])


def test_text_attachment() -> None:
    msg = new()
    msg.attach("notes.txt", "Grüße\n", "text/plain")
    parsed = parse(msg)
    assert parsed.get_content_type() == "multipart/mixed"
    body = parsed.get_body(("plain",))
    assert body is not None and body.get_content() == "Body\n"
    (part,) = attachments(msg)
    assert part.get_filename() == "notes.txt"
    assert part.get_content_type() == "text/plain"
    assert part.get_content() == "Grüße\n"


def test_bytes_attachment_and_guessed_type() -> None:
    msg = new()
    msg.attach("report.pdf", b"%PDF-1.7\x00\xff")
    assert msg.attachments == [
        EmailAttachment("report.pdf", b"%PDF-1.7\x00\xff", "application/pdf")
    ]
    (part,) = attachments(msg)
    assert part.get_content_type() == "application/pdf"
    assert part.get_content() == b"%PDF-1.7\x00\xff"


def test_text_bytes_are_decoded() -> None:
    msg = new()
    msg.attach("a.txt", "é".encode())
    assert msg.attachments[0] == EmailAttachment("a.txt", "é", "text/plain")


def test_text_bytes_invalid_in_charset_become_octet_stream() -> None:
    msg = new()
    msg.attach("a.txt", b"\xff\xfe binary")
    assert msg.attachments[0].mimetype == "application/octet-stream"  # type: ignore[union-attr]
    (part,) = attachments(msg)
    assert part.get_content_type() == "application/octet-stream"
    assert part.get_content() == b"\xff\xfe binary"


def test_attachment_tuple_set_directly_with_invalid_text_bytes() -> None:
    msg = EmailMessage("s", "b", "a@example.com", ["t@example.com"])
    msg.attachments.append(EmailAttachment("x.txt", b"\xff", "text/plain"))
    (part,) = attachments(msg)
    assert part.get_content_type() == "application/octet-stream"


def test_non_ascii_and_long_filenames() -> None:
    msg = new()
    name = "Résumé très long nom de fichier avec des accents partout ééééé.pdf"
    msg.attach(name, b"data", "application/pdf")
    msg.attach("a" * 150 + ".bin", b"x", "application/octet-stream")
    first, second = attachments(msg)
    assert first.get_filename() == name
    assert second.get_filename() == "a" * 150 + ".bin"


def test_mimepart_attachment() -> None:
    part = email.message.MIMEPart()
    part.set_content(b"\x01\x02", maintype="image", subtype="png", filename="dot.png")
    msg = EmailMessage("s", "b", "a@example.com", ["t@example.com"], attachments=[part])
    (got,) = attachments(msg)
    assert got.get_content_type() == "image/png"
    assert got.get_content() == b"\x01\x02"
    with pytest.raises(ValueError, match="MIMEPart"):
        msg.attach(part, b"x")


def test_attach_requires_content() -> None:
    with pytest.raises(ValueError, match="content"):
        new().attach("x.txt")
    with pytest.raises(ValueError, match="MIME type"):
        new().attach("x", b"x", "nonsense")


def test_attachments_argument_takes_tuples() -> None:
    msg = EmailMessage(
        "s", "b", "a@example.com", ["t@example.com"], attachments=[("a.csv", "x,y\n", None)]
    )
    assert msg.attachments == [EmailAttachment("a.csv", "x,y\n", "text/csv")]


def test_attach_file_guesses_type(tmp_path: Path) -> None:
    text = tmp_path / "hello.txt"
    text.write_text("Grüße\n", encoding="utf-8")
    binary = tmp_path / "data.txt"
    binary.write_bytes(b"\xff\x00\xfe")
    image = tmp_path / "pic.png"
    image.write_bytes(b"\x89PNG\r\n")
    unknown = tmp_path / "blob.unknownext"
    unknown.write_bytes(b"zz")
    msg = new()
    for path in (text, binary, image, unknown):
        msg.attach_file(path)
    msg.attach_file(str(text), mimetype="text/x-custom")
    types = [(a.filename, a.mimetype) for a in msg.attachments]  # type: ignore[union-attr]
    assert types == [
        ("hello.txt", "text/plain"),
        ("data.txt", "application/octet-stream"),
        ("pic.png", "image/png"),
        ("blob.unknownext", "application/octet-stream"),
        ("hello.txt", "text/x-custom"),
    ]
    parts = attachments(msg)
    assert parts[0].get_content() == "Grüße\n"
    assert parts[1].get_content() == b"\xff\x00\xfe"
    assert parts[2].get_content() == b"\x89PNG\r\n"


def test_attach_file_missing_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        new().attach_file(tmp_path / "missing.txt")


@pytest.mark.parametrize("kind", ["ours", "stdlib", "bytes", "str"])
def test_message_rfc822_attachment(kind: str) -> None:
    inner = EmailMessage("Inner subject ü", "Inner body\n", "i@example.com", ["j@example.com"])
    content: object = {
        "ours": inner,
        "stdlib": inner.message(),
        "bytes": inner.as_bytes(),
        "str": inner.as_bytes().decode(),
    }[kind]
    msg = new()
    msg.attach("fwd.eml", content, "message/rfc822")  # type: ignore[arg-type]
    (part,) = attachments(msg)
    assert part.get_content_type() == "message/rfc822"
    forwarded = part.get_content()
    assert forwarded["Subject"] == "Inner subject ü"
    assert forwarded.get_content() == "Inner body\n"


def test_attachments_only_without_body() -> None:
    msg = EmailMessage("s", "", "a@example.com", ["t@example.com"])
    msg.attach("a.bin", b"x", "application/octet-stream")
    parsed = parse(msg)
    assert parsed.get_content_type() == "multipart/mixed"
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["application/octet-stream"]


def test_html_alternative() -> None:
    msg = EmailMultiAlternatives("s", "Hello Zoë", "a@example.com", ["t@example.com"])
    msg.attach_alternative("<p>Hello Zoë</p>", "text/html")
    assert msg.alternatives == [EmailAlternative("<p>Hello Zoë</p>", "text/html")]
    parsed = parse(msg)
    assert parsed.get_content_type() == "multipart/alternative"
    html = parsed.get_body(("html",))
    text = parsed.get_body(("plain",))
    assert html is not None and html.get_content() == "<p>Hello Zoë</p>\n"
    assert text is not None and text.get_content() == "Hello Zoë\n"


def test_alternatives_with_attachment_and_non_text_alternative() -> None:
    msg = EmailMultiAlternatives(
        "s",
        "text",
        "a@example.com",
        ["t@example.com"],
        alternatives=[("<b>html</b>", "text/html"), (b"{}", "application/json")],
    )
    msg.attach("a.pdf", b"%PDF", "application/pdf")
    parsed = parse(msg)
    assert parsed.get_content_type() == "multipart/mixed"
    alternative, attachment = parsed.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    kinds = [p.get_content_type() for p in alternative.iter_parts()]  # type: ignore[attr-defined]
    assert kinds == ["text/plain", "text/html", "application/json"]
    assert attachment.get_content_type() == "application/pdf"


def test_alternative_without_body() -> None:
    msg = EmailMultiAlternatives("s", "", "a@example.com", ["t@example.com"])
    msg.attach_alternative("<p>only html</p>", "text/html")
    parsed = parse(msg)
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/html"]


def test_attach_alternative_requires_both() -> None:
    msg = EmailMultiAlternatives()
    with pytest.raises(ValueError, match="content and mimetype"):
        msg.attach_alternative(None, "text/html")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="content and mimetype"):
        msg.attach_alternative("x", None)  # type: ignore[arg-type]


def test_body_contains() -> None:
    msg = EmailMultiAlternatives("s", "I am content", "a@example.com", ["t@example.com"])
    assert msg.body_contains("content")
    msg.attach_alternative("<p>I am content too</p>", "text/html")
    msg.attach_alternative(b"binary", "application/octet-stream")
    assert msg.body_contains("content")
    assert msg.body_contains("I am")
    assert not msg.body_contains("too")
    assert not msg.body_contains("<p>")
    msg.attach_alternative(b"bytes without it", "text/plain")
    assert not msg.body_contains("content")


def test_subtype_attributes() -> None:
    msg = EmailMultiAlternatives("s", "<p>x</p>", "a@example.com", ["t@example.com"])
    msg.content_subtype = "html"
    msg.mixed_subtype = "related"
    msg.attach("i.png", b"\x89PNG", "image/png")
    parsed = parse(msg)
    assert parsed.get_content_type() == "multipart/related"
    assert next(parsed.iter_parts()).get_content_type() == "text/html"
    assert msg.alternative_subtype == "alternative"
