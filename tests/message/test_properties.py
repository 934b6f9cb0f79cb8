"""Property tests of serialization, and the cached host name used in Message-IDs."""

from __future__ import annotations

import email
import email.message
import email.policy
import re
import socket
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailproviders.message import DNS_NAME, EmailMessage, make_msgid
from mailproviders.message.hostname import CachedDnsName

_EXPECTED_HEADERS = {
    "subject",
    "from",
    "to",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
}


_C0 = re.compile("[\x00-\x08\x0a-\x1f\x7f]")


def _loose(text: str) -> str:
    return "".join(c for c in text if not c.isspace() and c not in '"\\')


def _normalized_body(body: str) -> str:
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    return text if text.endswith("\n") else text + "\n"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    subject=st.text(),
    body=st.text(),
    # Parentheses in an address string open an RFC 5322 comment, which every parser drops
    # from the display name: test_comments_in_an_address_are_not_part_of_the_name.
    name=st.text().filter(lambda text: "(" not in text and ")" not in text),
    header=st.text(),
)
def test_arbitrary_text_serializes_or_raises_value_error(
    subject: str, body: str, name: str, header: str
) -> None:
    msg = EmailMessage(
        subject, body, f"{name} <from@example.com>", ["to@example.com"], headers={"X-P": header}
    )
    try:
        raw = msg.as_bytes()
    except (ValueError, TypeError) as exc:
        # Only line breaks and C0 controls but TAB (and DEL) are refused in free text; a
        # display name written inside an address string may also make the address
        # unparseable.
        broken = [h for h, t in (("Subject", subject), ("X-P", header)) if _C0.search(t)]
        assert any(h in str(exc) for h in [*broken, "From"])
        return
    assert all(len(line) <= 998 for line in raw.split(b"\n"))
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert {key.lower() for key in parsed} == _EXPECTED_HEADERS | {"x-p"}
    # A leading space is indistinguishable from the one after "Subject:".
    assert parsed["Subject"] == subject.lstrip(" \t")
    assert parsed["X-P"] == header.lstrip(" \t")
    assert parsed.get_content() == _normalized_body(body)
    (sender,) = parsed["From"].addresses
    assert sender.addr_spec == "from@example.com"
    # Whitespace in display names is normalized by the parser, and quotes and
    # backslashes written in the address string are syntax, not content.
    assert _loose(sender.display_name) == _loose(name)


@pytest.mark.parametrize(
    ("written", "name"),
    [
        ("() <to@example.com>", ""),
        ("Ada (the first) Lovelace <to@example.com>", "Ada Lovelace"),
        ('"(kept)" <to@example.com>', "(kept)"),
    ],
)
def test_comments_in_an_address_are_not_part_of_the_name(written: str, name: str) -> None:
    raw = EmailMessage("s", "b", "from@example.com", [written]).as_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    (recipient,) = parsed["To"].addresses
    assert (recipient.display_name, recipient.addr_spec) == (name, "to@example.com")


@settings(max_examples=100, deadline=None)
@given(local=st.text(min_size=1, max_size=30), domain=st.text(min_size=1, max_size=30))
def test_arbitrary_addresses_are_valid_or_value_error(local: str, domain: str) -> None:
    address = f"{local}@{domain}"
    msg = EmailMessage("s", "b", "from@example.com", [address])
    try:
        raw = msg.as_bytes()
        envelope = msg.envelope()
    except ValueError as exc:
        assert address in str(exc) or repr(address)[1:-1] in str(exc)
        return
    assert envelope.recipients[0][0] == address
    parsed = email.message_from_bytes(raw, policy=email.policy.SMTPUTF8)
    assert {key.lower() for key in parsed} == _EXPECTED_HEADERS


def test_dns_name_is_cached_and_ascii() -> None:
    first = str(DNS_NAME)
    assert first == DNS_NAME.get_fqdn() == str(DNS_NAME)
    assert first.isascii() and first
    assert make_msgid().endswith(f"@{first}>")
    assert make_msgid("tag", domain="example.org").endswith("tag@example.org>")


def test_lookup_is_lazy_and_done_once() -> None:
    calls: list[int] = []

    def resolve() -> str:
        calls.append(1)
        return "mail.example.com"

    name = CachedDnsName(resolve=resolve)
    assert calls == []
    assert "not looked up" in repr(name)
    assert str(name) == "mail.example.com"
    assert name.get_fqdn() == "mail.example.com"
    assert calls == [1]


def test_lookup_once_under_concurrent_first_use() -> None:
    calls: list[int] = []
    name = CachedDnsName(resolve=lambda: calls.append(1) or "h.example")  # type: ignore[func-returns-value]
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(str(name))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["h.example"] * 8
    assert calls == [1]


def test_slow_lookup_falls_back_to_host_name() -> None:
    release = threading.Event()

    def slow() -> str:
        release.wait(5)
        return "late.example.com"

    name = CachedDnsName(resolve=slow, timeout=0.05)
    try:
        assert name.get_fqdn() == socket.gethostname().encode("idna").decode("ascii")
    finally:
        release.set()


def test_failing_lookup_falls_back() -> None:
    def broken() -> str:
        raise OSError("no resolver")

    name = CachedDnsName(resolve=broken)
    assert str(name) == socket.gethostname().encode("idna").decode("ascii")


def test_non_ascii_host_is_punycoded() -> None:
    assert str(CachedDnsName(resolve=lambda: "bücher.example")) == "xn--bcher-kva.example"
    assert str(CachedDnsName(resolve=lambda: "bad host<>")) == "localhost"
