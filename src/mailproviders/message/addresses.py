"""Parsing and formatting of email addresses: mailboxes, addr-specs, IDNA domains.

Every address a message uses goes through :func:`parse_mailbox` exactly once per
use; the result carries what the header writer and the SMTP envelope need.
"""

from __future__ import annotations

import re
import string
from email import _header_value_parser as _parser
from email import errors
from typing import NamedTuple

__all__ = ["Envelope", "Mailbox", "idna_domain", "parse_address_list", "parse_mailbox"]

# RFC 5321 limits a path to 256 octets, so an addr-spec to 254.
MAX_ADDR_SPEC_LENGTH = 254
#: One address as written (display name included) fits on one header line (RFC 5322:
#: 998). Checked before parsing: the standard library's parser, used for the uncommon
#: forms, takes time quadratic in the length of what it is given.
MAX_ADDRESS_LENGTH = 998
#: What str.splitlines() splits at; and the other C0 controls (TAB excepted) and DEL.
LINE_BREAKS = re.compile("[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
CONTROLS = re.compile("[\x00-\x08\x0e-\x1b\x1f\x7f]")

_ATEXT = frozenset(string.ascii_letters + string.digits + "!#$%&'*+-/=?^_`{|}~")
_ANGLE_FORM = re.compile(r"^(?P<name>.*?)\s*<(?P<addr>[^<>]*)>\s*$", re.DOTALL)
_ASCII_DOMAIN = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$"
)
# Common forms parsed without the standard library's token tree; they give exactly
# what it gives (checked by tests): a dot-atom local part at a plain ASCII domain,
# bare or after a display name of plain words, possibly quoted.
_ATOM = r"[A-Za-z0-9!#$%&'*+/^_`{|}~-]+"
_SIMPLE_ADDR = rf"{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
_QWORD = r"[A-Za-z0-9!#$%&'*+/^_`{|}~(),.:;<>@\[\]-]+"
_SIMPLE = re.compile(
    rf"(?:(?P<atoms>{_ATOM}(?: {_ATOM})*) |\"(?P<quoted>{_QWORD}(?: {_QWORD})*)\" )?"
    rf"(?P<angle><)?(?P<addr>{_SIMPLE_ADDR})(?(angle)>)"
)
_ParseErrors = (
    errors.HeaderParseError,
    IndexError,
    ValueError,
    AttributeError,
    TypeError,
    RecursionError,  # deeply nested comments, e.g. "a(a(a(...@b"
)


class Mailbox(NamedTuple):
    """One parsed address: display name, local part (may be non-ASCII), ASCII domain."""

    display_name: str
    local_part: str
    domain: str

    @property
    def addr_spec(self) -> str:
        """``local@domain`` with the local part quoted when RFC 5322 requires it; the local
        part alone for a local-part-only address (no domain, for local delivery)."""
        if not self.domain:
            return format_local_part(self.local_part)
        return f"{format_local_part(self.local_part)}@{self.domain}"


def _is_dot_atom(text: str) -> bool:
    """True when ``text`` is a dot-atom (non-ASCII letters count as atext, RFC 6531)."""
    return all(
        word and all(c in _ATEXT or (not c.isascii() and c.isprintable()) for c in word)
        for word in text.split(".")
    )


def format_local_part(local_part: str) -> str:
    """The local part as written in an addr-spec: bare if a dot-atom, else quoted."""
    if _is_dot_atom(local_part):
        return local_part
    escaped = local_part.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def idna_domain(domain: str) -> str:
    """``domain`` in ASCII: IDNA-encoded when it has non-ASCII labels.

    Raises:
        ValueError: the domain cannot be IDNA-encoded (bad label, too long...).
    """
    if domain.isascii() or domain.startswith("["):
        return domain
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValueError(f"cannot IDNA-encode domain {domain!r}: {exc}") from None


_LOCAL_ONLY = "addr-spec local part with no domain"


def _invalid(address: str, header: str, why: str) -> ValueError:
    return ValueError(f"Invalid address {address!r} in header {header!r}: {why}")


def _check_token(token: _parser.TokenList, address: str, header: str) -> None:
    # Obsolete syntax (e.g. "John Q. Public") is still unambiguous; keep accepting it.
    tolerated = (errors.NonASCIILocalPartDefect, errors.ObsoleteHeaderDefect)
    try:
        found = token.all_defects
    except _ParseErrors:  # e.g. "a@[": the stdlib parser leaves a defect among the tokens
        raise _invalid(address, header, "not a valid email address") from None
    # A local part without any domain ("postmaster"): not RFC 5322, but accepted for
    # local delivery (as Django does); "a@" with an empty domain is still refused.
    defects = [d for d in found if not isinstance(d, tolerated) and str(d) != _LOCAL_ONLY]
    if defects:
        raise _invalid(address, header, str(defects[0]))


def _build(name: str, local: str | None, domain: str | None, address: str, header: str) -> Mailbox:
    if not local or (not domain and "@" in address):
        raise _invalid(address, header, "an address needs a local part and a domain")
    if not domain:  # local-part only (see _check_token)
        return Mailbox(name, local, "")
    if not all(c.isprintable() for c in local):
        raise _invalid(address, header, "the local part contains control characters")
    try:
        ascii_domain = idna_domain(domain)
    except ValueError as exc:
        raise _invalid(address, header, str(exc)) from None
    if not ascii_domain.startswith("[") and not _ASCII_DOMAIN.match(ascii_domain):
        raise _invalid(address, header, "the domain is not valid")
    mailbox = Mailbox(name, local, ascii_domain)
    if len(mailbox.addr_spec) > MAX_ADDR_SPEC_LENGTH:
        raise _invalid(address, header, f"longer than {MAX_ADDR_SPEC_LENGTH} characters")
    return mailbox


def _from_token(token: _parser.Mailbox, address: str, header: str) -> Mailbox:
    _check_token(token, address, header)
    name = token.display_name or ""
    return _build(name, token.local_part, token.domain, address, header)


def _parse_angle_form(address: str, header: str) -> Mailbox | None:
    """``Some name <addr>`` where the name is not valid RFC 5322 (e.g. an unquoted comma)."""
    match = _ANGLE_FORM.match(address)
    if match is None:
        return None
    name = match["name"].strip()
    if len(name) >= 2 and name[0] == name[-1] == '"':
        name = re.sub(r"\\(.)", r"\1", name[1:-1])
    elif "@" in name:
        return None  # "a@x <b@y>": an address, then text after it; not a display name
    try:
        token, rest = _parser.get_addr_spec(match["addr"].strip())
    except _ParseErrors:
        return None
    if rest:
        return None
    _check_token(token, address, header)
    return _build(name, token.local_part, token.domain, address, header)


def _shown(address: str) -> str:
    """The address for an error message: whole, unless longer than any valid one."""
    return address if len(address) <= MAX_ADDRESS_LENGTH else f"{address[:100]}..."


def _precheck(address: object, header: str) -> None:
    """What can be refused without parsing, in time linear in the length."""
    if not isinstance(address, str):
        kind = type(address).__name__
        raise TypeError(f"Header {header!r} needs address strings, not {kind}: {address!r}")
    if len(address) > MAX_ADDRESS_LENGTH:
        why = f"longer than {MAX_ADDRESS_LENGTH} characters"
        raise _invalid(_shown(address), header, why)
    if LINE_BREAKS.search(address):
        raise _invalid(address, header, "it contains a line break")
    if CONTROLS.search(address):
        raise _invalid(address, header, "it contains control characters")
    # The addr-spec is the whole address, or what the last "<" opens.
    spec = address[address.rfind("<") + 1 :].rstrip().removesuffix(">")
    if len(spec.strip()) > MAX_ADDR_SPEC_LENGTH:
        raise _invalid(_shown(address), header, f"longer than {MAX_ADDR_SPEC_LENGTH} characters")


def parse_mailbox(address: str, header: str) -> Mailbox:
    """Parse one address as the caller wrote it (``a@b``, ``Name <a@b>``...).

    Lengths, line breaks (any that ``str.splitlines()`` honours) and control characters
    are checked before parsing; anything after the address is an error, not dropped.

    Raises:
        ValueError: the address is not one valid mailbox; the message contains the
            address (cut short when over-long) and names ``header``.
        TypeError: ``address`` is not a string.
    """
    _precheck(address, header)
    simple = _SIMPLE.fullmatch(address)
    if simple is not None and (simple["angle"] or (not simple["atoms"] and not simple["quoted"])):
        local, domain = simple["addr"].rsplit("@", 1)
        name = simple["atoms"] or simple["quoted"] or ""
        return _build(name, local, domain, address, header)
    return _parse_mailbox_fully(address, header)


def _parse_mailbox_fully(address: str, header: str) -> Mailbox:
    token: _parser.Mailbox | None
    try:
        token, rest = _parser.get_mailbox(address)
    except _ParseErrors:
        token, rest = None, address
    strict_error = _invalid(address, header, "not a valid email address")
    if token is not None and rest.strip():
        why = f"unexpected {rest.strip()!r} after the address"
        strict_error = _invalid(address, header, why)
    if token is not None and not rest.strip():
        try:
            return _from_token(token, address, header)
        except ValueError as exc:  # e.g. a control character in the display name
            strict_error = exc
    mailbox = _parse_angle_form(address, header)
    if mailbox is None:
        raise strict_error
    return mailbox


def _split_list(value: str, header: str) -> list[str]:
    """The top-level comma-separated parts of ``value``, in one pass: commas inside
    quoted strings, comments, domain literals and angle brackets do not split."""
    parts: list[str] = []
    start = depth = 0
    quoted = literal = angle = escaped = False
    for index, char in enumerate(value):
        if escaped:
            escaped = False
        elif char == "\\" and (quoted or depth or literal):
            escaped = True
        elif quoted:
            quoted = char != '"'
        elif depth:
            depth += 1 if char == "(" else -1 if char == ")" else 0
        elif literal:
            literal = char != "]"
        elif char in '"([<>':
            quoted, depth, literal = char == '"', int(char == "("), char == "["
            angle = char == "<" or (angle and char != ">")
        elif char == ":" and not angle:
            raise _invalid(_shown(value), header, "address groups are not supported")
        elif char == "," and not angle:
            parts.append(value[start:index])
            start = index + 1
    if quoted or depth or literal or angle:
        raise _invalid(_shown(value), header, "not a valid address list")
    parts.append(value[start:])
    return [part.strip() for part in parts if part.strip()]


def parse_address_list(value: str, header: str) -> list[Mailbox]:
    """Parse a comma-separated list of mailboxes (an extra address header's value), in
    time linear in its length: it is split in one pass, then each mailbox parsed (and
    length-checked) on its own.

    Raises:
        ValueError: some part is not a valid mailbox (groups are not supported).
    """
    if LINE_BREAKS.search(value):
        raise _invalid(_shown(value), header, "it contains a line break")
    return [parse_mailbox(address, header) for address in _split_list(value, header)]


class Envelope(NamedTuple):
    """The SMTP envelope of a message.

    ``sender`` is the addr-spec of the resolved ``from_email``; ``recipients`` pairs
    each recipient as the caller wrote it with its addr-spec (domain IDNA-encoded).
    """

    sender: str
    recipients: list[tuple[str, str]]
