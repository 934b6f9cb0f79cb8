"""Header values as they go on the wire: validation, RFC 2047 encoding and folding.

The standard library's header folder (Python 3.11) can duplicate or drop text in
long non-ASCII subjects and can emit lines over 998 characters, so header values
are encoded and folded here and handed to the standard library pre-folded.
Folded values use ``\\n`` between lines; the serializing policy turns that into
its own line separator.
"""

from __future__ import annotations

import base64
import email.utils
import re
import string
from collections.abc import Iterable
from datetime import datetime
from typing import Literal, NamedTuple

from mailproviders.message.addresses import Mailbox, parse_address_list, parse_mailbox

__all__ = [
    "ADDRESS_HEADERS",
    "address_header",
    "check_content_type",
    "check_header_name",
    "check_no_line_breaks",
    "extra_header",
    "fold_addresses",
    "fold_unstructured",
]

MAX_LINE = 78
_MAX_EW = 75  # RFC 2047: an encoded-word is at most 75 characters.
_EW_OVERHEAD = len("=?utf-8?q??=")
# Longer words are encoded (and so split) to keep every line under RFC 5322's 998.
_LONG_WORD = 800
_NAME_RE = re.compile(r"^[!-9;-~]+$")
_Q_SAFE = frozenset(string.ascii_letters + string.digits + "!*+-/")
_PHRASE_ATOM = frozenset(string.ascii_letters + string.digits + "!#$%&'*+-/=?^_`{|}~")
_WORDS = re.compile(r"([ \t]*)([^ \t]+)")
_C0_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
ADDRESS_HEADERS = frozenset(
    {"from", "to", "cc", "reply-to", "sender", "resent-from", "resent-sender", "resent-to"}
    | {"resent-cc", "resent-bcc"}
)


def check_no_line_breaks(header: str, value: str) -> None:
    """Raise ``ValueError`` naming ``header`` if ``value`` contains CR or LF, or another
    C0 control character but TAB (or DEL): readers disagree on what an encoded control
    character means, so none goes into a header. (U+0085, U+2028 and U+2029 are not
    controls: in free text they are encoded, and read back as written.)"""
    if "\r" in value or "\n" in value:
        raise ValueError(f"Header {header!r} must not contain line breaks: {value!r}")
    if _C0_CONTROLS.search(value):
        raise ValueError(f"Header {header!r} must not contain control characters: {value!r}")


def check_header_name(name: str) -> None:
    """Raise ``ValueError`` unless ``name`` is a valid RFC 5322 field name (``TypeError``
    unless it is a string)."""
    if not isinstance(name, str):
        raise TypeError(f"Header names must be strings, not {type(name).__name__}: {name!r}")
    check_no_line_breaks(name, name)
    if not _NAME_RE.match(name) or len(name) > 76:
        raise ValueError(f"Invalid header name {name!r}")


class _Unit(NamedTuple):
    """A piece of a header value: literal whitespace before it, its text, its kind."""

    space: str
    text: str
    kind: Literal["plain", "encoded"]


def _needs_encoding(word: str) -> bool:
    return (
        not word.isascii()
        or "=?" in word
        or any(ord(c) < 32 or ord(c) == 127 for c in word)
        or len(word) > _LONG_WORD
    )


def _encode_word(text: str, use_b: bool) -> str:
    data = text.encode("utf-8")
    if use_b:
        return f"=?utf-8?b?{base64.b64encode(data).decode('ascii')}?="
    out = "".join("_" if b == 32 else chr(b) if chr(b) in _Q_SAFE else f"={b:02X}" for b in data)
    return f"=?utf-8?q?{out}?="


def _q_len(data: bytes) -> int:
    return sum(1 if b == 32 or chr(b) in _Q_SAFE else 3 for b in data)


def encoded_words(text: str, first_room: int) -> list[str]:
    """``text`` as RFC 2047 encoded-words (whole characters each), the first fitting
    ``first_room`` columns when possible, the others at most 75 columns."""
    data = text.encode("utf-8")
    use_b = 4 * ((len(data) + 2) // 3) < _q_len(data)
    words: list[str] = []
    chunk: list[str] = []
    size = 0
    room = max(first_room, _EW_OVERHEAD + 12)
    for char in text:
        raw = char.encode("utf-8")
        grown = size + len(raw) if use_b else size + _q_len(raw)
        encoded = 4 * ((grown + 2) // 3) if use_b else grown
        if chunk and encoded + _EW_OVERHEAD > room:
            words.append(_encode_word("".join(chunk), use_b))
            chunk, room = [], _MAX_EW
            grown = len(raw) if use_b else _q_len(raw)
        chunk.append(char)
        size = grown
    if chunk or not words:
        words.append(_encode_word("".join(chunk), use_b))
    return words


def _fold(name: str, units: Iterable[_Unit]) -> str:
    """Lay ``units`` out in lines of at most 78 columns where possible (folding only
    at whitespace, or between encoded-words) and never above 998."""
    lines: list[str] = []
    line = ""
    column = len(name) + 2
    for unit in units:
        pieces = [unit.text]
        if unit.kind == "encoded":
            room = MAX_LINE - column - len(unit.space)
            whole = encoded_words(unit.text, _MAX_EW)
            can_fold = bool(unit.space and line)
            if len(whole) == 1 and (len(whole[0]) <= room or can_fold):
                pieces = whole  # a short run is never split (readers join split words badly)
            else:
                if room < _EW_OVERHEAD + 8 and can_fold:
                    room = MAX_LINE - len(unit.space)
                pieces = encoded_words(unit.text, min(room, _MAX_EW))
        space = unit.space
        for piece in pieces:
            if line and space and column + len(space) + len(piece) > MAX_LINE:
                lines.append(line)
                line, column = "", 0
            line += space + piece
            column += len(space) + len(piece)
            space = " "  # between encoded-words: folding whitespace, not content
    lines.append(line)
    return "\n".join(lines)


def _unstructured_units(value: str) -> list[_Unit]:
    pairs = _WORDS.findall(value)
    trailing = value[sum(len(s) + len(w) for s, w in pairs) :]
    if any(len(space) > 70 for space, _ in pairs) or len(trailing) > 70:
        return [_Unit("", value, "encoded")]  # long runs of whitespace: keep them exactly
    if not pairs:
        return [_Unit("", value, "plain")]
    units: list[_Unit] = []
    for space, word in pairs:
        encode = _needs_encoding(word)
        if encode and units and units[-1].kind == "encoded":
            last = units.pop()
            units.append(_Unit(last.space, last.text + space + word, "encoded"))
        else:
            units.append(_Unit(space, word, "encoded" if encode else "plain"))
    if trailing:
        last = units.pop()
        units.append(_Unit(last.space, last.text + trailing, last.kind))
    return units


def fold_unstructured(name: str, value: str) -> str:
    """The folded wire form of an unstructured header (Subject, X-...).

    Raises:
        ValueError: ``value`` contains CR or LF (the message names ``name``).
    """
    check_no_line_breaks(name, value)
    return _fold(name, _unstructured_units(value))


def _phrase_units(display_name: str) -> list[_Unit]:
    if not display_name:
        return []
    if display_name.isascii() and display_name.isprintable() and "=?" not in display_name:
        words = display_name.split(" ")
        if all(w and set(w) <= _PHRASE_ATOM and len(w) <= 60 for w in words):
            return [_Unit(" " if i else "", w, "plain") for i, w in enumerate(words)]
        quoted = '"' + display_name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if len(quoted) <= 60:
            return [_Unit("", quoted, "plain")]
    return [_Unit("", display_name, "encoded")]


def fold_addresses(name: str, mailboxes: list[Mailbox]) -> str:
    """The folded wire form of an address header listing ``mailboxes``."""
    units: list[_Unit] = []
    for index, mailbox in enumerate(mailboxes):
        phrase = _phrase_units(mailbox.display_name)
        if index and phrase:
            phrase[0] = phrase[0]._replace(space=" ")
        units.extend(phrase)
        addr = f"<{mailbox.addr_spec}>" if phrase else mailbox.addr_spec
        comma = "," if index < len(mailboxes) - 1 else ""
        units.append(_Unit(" " if (index or phrase) else "", addr + comma, "plain"))
    return _fold(name, units)


def address_header(name: str, addresses: Iterable[object]) -> str:
    """The wire form of header ``name`` listing ``addresses`` (one mailbox each,
    empty entries skipped); ``""`` when there are none.

    Raises:
        ValueError: an address is invalid or contains a line break.
        TypeError: an address is not a string.
    """
    mailboxes = []
    for address in addresses:
        if not isinstance(address, str):
            kind = type(address).__name__
            raise TypeError(f"Header {name!r} must list strings, not {kind}: {address!r}")
        if address:
            mailboxes.append(parse_mailbox(address, name))
    return fold_addresses(name, mailboxes)


def extra_header(name: str, value: object) -> str:
    """The wire form of one caller-given header: address headers are parsed as
    address lists (a list/tuple value: one mailbox per item), datetimes formatted
    per RFC 5322, anything else ``str()``-ed and treated as unstructured text.

    Raises:
        ValueError: invalid name, a line break or control character, or an invalid
            address.
        TypeError: the name is not a string, or the value is bytes.
    """
    check_header_name(name)
    if isinstance(value, bytes | bytearray | memoryview):
        raise TypeError(f"Header {name!r} must not be bytes (decode it first): {value!r}")
    if name.lower() in ADDRESS_HEADERS and isinstance(value, list | tuple):
        return address_header(name, value)
    text = email.utils.format_datetime(value) if isinstance(value, datetime) else str(value)
    if name.lower() in ADDRESS_HEADERS:
        return fold_addresses(name, parse_address_list(text, name))
    return fold_unstructured(name, text)


def check_content_type(value: str, *, multipart: bool) -> None:
    """A Content-Type given in ``headers`` must keep the structure built from the parts."""
    if value.strip().lower().startswith("multipart/") != multipart:
        kind = "multipart/*" if multipart else "a non-multipart type"
        raise ValueError(
            f"header 'Content-Type' {value.strip()!r} does not fit this message, whose "
            f"body and attachments need {kind}; remove it from headers"
        )
