"""Address parsing: lengths checked before parsing, time linear in the input, nothing
after an address or inside it (line breaks, controls) silently dropped."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from mailproviders.message import EmailMessage
from mailproviders.message import addresses as addresses_module
from mailproviders.message.addresses import (
    MAX_ADDRESS_LENGTH,
    parse_address_list,
    parse_mailbox,
)


def _seconds(work: Callable[[], object], repeat: int, rounds: int = 5) -> float:
    """The best of ``rounds`` rounds of the mean time of ``work`` over ``repeat`` calls."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(repeat):
            work()
        times.append((time.perf_counter() - start) / repeat)
    return min(times)


def _refused(address: str) -> Callable[[], object]:
    def work() -> object:
        try:
            return EmailMessage("s", "b", "a@example.com", [address]).envelope()
        except ValueError as exc:
            return exc

    return work


def test_parsing_a_long_address_takes_linear_time() -> None:
    # '"' * n + "@example.com" took 0.7 s at n = 10,000 and 10.5 s at 40,000 (quadratic).
    n = 2_000
    small = _seconds(_refused('"' * n + "@example.com"), repeat=20)
    large = _seconds(_refused('"' * (4 * n) + "@example.com"), repeat=20)
    assert large / small < 8, (small, large)


def test_parsing_a_long_address_list_takes_linear_time() -> None:
    def header(count: int) -> Callable[[], object]:
        value = ", ".join(f"User {i} <u{i}@example.com>" for i in range(count))
        return lambda: parse_address_list(value, "To")

    # 1,500 addresses took 0.4 s and 6,000 took 5 s (quadratic) before the one-pass split.
    small = _seconds(header(1_500), repeat=1, rounds=3)
    large = _seconds(header(6_000), repeat=1, rounds=3)
    assert large / small < 8, (small, large)


class _NoParser:
    """Stands in for the standard library's parser: any use of it fails the test."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the address was parsed ({name})")


@pytest.mark.parametrize(
    ("address", "limit"),
    [
        ('"' * 40_000 + "@example.com", "998"),
        ("Name " * 300 + "<a@example.com>", "998"),
        ('"' * 300 + "@example.com", "254"),
        ("Name <" + "a" * 250 + "@example.com>", "254"),
    ],
)
def test_an_over_long_address_is_refused_without_parsing(
    address: str, limit: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(addresses_module, "_parser", _NoParser())
    message = EmailMessage("s", "b", "a@example.com", ["b@example.com"], cc=[address])
    for serialize in (message.envelope, message.as_bytes):
        with pytest.raises(ValueError, match=f"in header 'Cc': longer than {limit} characters"):
            serialize()
    with pytest.raises(ValueError, match="in header 'Reply-To'") as info:
        parse_address_list(f"ok@example.com, {address}", "Reply-To")
    assert len(str(info.value)) < MAX_ADDRESS_LENGTH + 200


@pytest.mark.parametrize(
    "address",
    [
        "r@example.com <x@example.org>",
        "r@example.com; x@example.org",
        "r@example.com x@example.org",
        "Name <r@example.com> x@example.org",
        "r@example.com>",
    ],
)
@pytest.mark.parametrize("where", ["to", "from_email", "headers"])
def test_text_after_an_address_is_refused(address: str, where: str) -> None:
    arguments: dict[str, Any] = {"from_email": "a@example.com", "to": ["b@example.com"]}
    if where == "headers":
        arguments["headers"] = {"Reply-To": address}
        header = "Reply-To"
    else:
        arguments[where] = [address] if where == "to" else address
        header = "To" if where == "to" else "From"
    message = EmailMessage("s", "b", **arguments)
    with pytest.raises(ValueError, match=f"in header '{header}'") as info:
        message.as_bytes()
    assert repr(address) in str(info.value)
    if where != "headers":
        with pytest.raises(ValueError, match=f"in header '{header}'"):
            message.envelope()


@pytest.mark.parametrize(
    "separator", ["\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
)
@pytest.mark.parametrize(
    "template", ["bob@exa{}mple.com", "bob@example.com{}", "Bob{} <bob@example.com>", "b{}b@x.org"]
)
def test_line_separators_in_an_address_are_refused(separator: str, template: str) -> None:
    assert len(f"a{separator}b".splitlines()) == 2  # every one splits a line
    address = template.format(separator)
    message = EmailMessage("s", "b", "a@example.com", [address])
    for serialize in (message.envelope, message.as_bytes):
        with pytest.raises(ValueError, match="in header 'To': it contains a line break") as info:
            serialize()
        assert repr(address) in str(info.value)
    with pytest.raises(ValueError, match="in header 'Cc'"):
        parse_address_list(f"ok@example.com, {address}", "Cc")


@pytest.mark.parametrize("control", ["\x00", "\x08", "\x1b", "\x7f"])
def test_control_characters_in_an_address_are_refused(control: str) -> None:
    with pytest.raises(ValueError, match="in header 'From': it contains control characters"):
        parse_mailbox(f"Bob{control} <bob@example.com>", "From")


def test_non_string_address_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="Header 'To' needs address strings, not bytes"):
        parse_mailbox(b"bob@example.com", "To")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ('"r@example.com" <x@example.org>', ("r@example.com", "x", "example.org")),
        ("Lastname, Firstname <x@example.org>", ("Lastname, Firstname", "x", "example.org")),
        ("Bob\t <bob@example.org>", ("Bob", "bob", "example.org")),
    ],
)
def test_what_stays_accepted(address: str, expected: tuple[str, str, str]) -> None:
    assert tuple(parse_mailbox(address, "To")) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"A, B" <a@x.org>, (c,d) c@x.org', ["a@x.org", "c@x.org"]),
        ("a@x.org,, <b@[1.2.3.4]>,", ["a@x.org", "b@[1.2.3.4]"]),
        ("", []),
    ],
)
def test_address_list_splits_only_at_top_level_commas(value: str, expected: list[str]) -> None:
    assert [m.addr_spec for m in parse_address_list(value, "To")] == expected


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("Group: a@x.org;", "address groups are not supported"),
        ('"unterminated <a@x.org>', "not a valid address list"),
        ("a@x.org (open comment", "not a valid address list"),
    ],
)
def test_address_list_errors(value: str, why: str) -> None:
    with pytest.raises(ValueError, match=f"in header 'To': {why}"):
        parse_address_list(value, "To")
