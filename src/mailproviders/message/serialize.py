"""Fast path: the MIME tree and wire bytes of common messages, built directly.

The standard library builds a message by parsing every header value into a token
tree (``set_content``, ``add_attachment``...) and serializes it by walking the tree
again. For the common shapes -- a text body, text alternatives, attachments given
as text or bytes, UTF-8 -- :func:`plan` lays out the very structure those calls
would make (same headers in the same order, same transfer encodings, bodies encoded
by the standard library's own text encoder), with raw header strings. From it,
:func:`render` writes exactly the bytes the standard library's generator writes for
that structure (:mod:`mailproviders.message.stdlib` makes the equivalent
standard-library object from it). Base64 payloads stay raw bytes in the tree
(:class:`~mailproviders.message.payloads.Base64`) and are encoded straight into the
output. Anything else makes :func:`plan` return ``None`` and the caller uses the
standard library.
"""

from __future__ import annotations

import email.contentmanager
import email.message
import random
import re
import sys
from collections.abc import Callable, Sequence
from email.policy import EmailPolicy, Policy
from typing import Any, NamedTuple

from mailproviders.message.payloads import Base64, Text, join

__all__ = ["Node", "fits", "nodes", "plan", "render", "supports"]

Headers = list[tuple[str, str]]
_MAX_LINE = 78
_TOKEN = re.compile(r"^[A-Za-z0-9!#$&^_.+-]+$")
_FILENAME = re.compile(r"^[ !#-\[\]-~]+$")  # printable ASCII without " and \
_ENCODE_TEXT: Callable[[str, str, Any, Policy], tuple[str, str]] | None = getattr(
    email.contentmanager, "_encode_text", None
)


class Node(NamedTuple):
    """One MIME part: raw (pre-folded, ASCII) headers and an encoded text payload, a
    base64 payload (kept as the raw bytes) or parts."""

    headers: Headers
    payload: str | Base64 | list[Node]


def supports(policy: Policy) -> bool:
    """True when ``policy`` serializes the way :func:`render` does."""
    return (
        isinstance(policy, EmailPolicy)
        and policy.max_line_length == _MAX_LINE
        and policy.cte_type == "8bit"
        and policy.linesep in ("\n", "\r\n")
        and (not policy.utf8 or getattr(policy, "keep_wire", False))
        and policy.content_manager is email.contentmanager.raw_data_manager
        and _ENCODE_TEXT is not None
    )


def fits(name: str, value: str) -> bool:
    lines = value.split("\n")
    if len(lines[0]) + len(name) + 2 > _MAX_LINE:
        return False
    return all(len(line) <= _MAX_LINE and line[:1] in (" ", "\t") for line in lines[1:])


def _text(content: str, subtype: str, policy: Policy, trailer: Headers) -> Node | None:
    if not _TOKEN.match(subtype) or _ENCODE_TEXT is None:
        return None
    cte, payload = _ENCODE_TEXT(content, "utf-8", None, policy)
    headers = [
        ("Content-Type", f'text/{subtype}; charset="utf-8"'),
        ("Content-Transfer-Encoding", cte),
        *trailer,
    ]
    return Node(headers, payload)


def _binary(data: bytes, maintype: str, subtype: str, trailer: Headers) -> Node | None:
    if not (_TOKEN.match(maintype) and _TOKEN.match(subtype)) or maintype in (
        "multipart",
        "message",
    ):
        return None
    headers = [
        ("Content-Type", f"{maintype}/{subtype}"),
        ("Content-Transfer-Encoding", "base64"),
        *trailer,
    ]
    return Node(headers, Base64(data))


def _disposition(filename: str | None) -> Headers | None:
    """Headers after the content headers of an attachment, as add_attachment() orders them."""
    if filename is None:
        return [("MIME-Version", "1.0"), ("Content-Disposition", "attachment")]
    if not _FILENAME.match(filename):
        return None  # the standard library would use RFC 2231; leave it to it
    value = f'attachment; filename="{filename}"'
    if not fits("Content-Disposition", value):
        value = f'attachment;\n filename="{filename}"'
        if not fits("Content-Disposition", value):
            return None
    return [("Content-Disposition", value), ("MIME-Version", "1.0")]


def _attachment(attachment: object, policy: Policy) -> Node | None:
    if not isinstance(attachment, tuple) or len(attachment) != 3:
        return None  # a MIMEPart given by the caller
    filename, content, mimetype = attachment
    trailer = _disposition(filename)
    if trailer is None or "/" not in mimetype:
        return None
    maintype, subtype = mimetype.split("/", 1)
    if maintype == "text" and isinstance(content, bytes):
        try:
            content = content.decode("utf-8")
        except UnicodeDecodeError:
            maintype, subtype = "application", "octet-stream"
    if maintype == "text" and isinstance(content, str):
        return _text(content, subtype, policy, trailer)
    if isinstance(content, str):
        content = content.encode("utf-8")
    if not isinstance(content, bytes | bytearray) or maintype == "message":
        return None
    return _binary(bytes(content), maintype, subtype, trailer)


def _alternative(content: object, mimetype: str, policy: Policy) -> Node | None:
    maintype, _, subtype = mimetype.partition("/")
    if maintype == "text":
        if isinstance(content, bytes):
            try:
                content = content.decode("utf-8")
            except UnicodeDecodeError:
                return None  # the standard-library path raises the error
        if not isinstance(content, str):
            return None
        return _text(content, subtype, policy, [("MIME-Version", "1.0")])
    data = content.encode("utf-8") if isinstance(content, str) else content
    if not isinstance(data, bytes):
        return None
    return _binary(data, maintype, subtype, [("MIME-Version", "1.0")])


def _boundary(leaves: Sequence[Node]) -> str:
    """A boundary like the standard library's, not found in any text leaf's payload (base64
    text cannot contain one: it has at most two ``=``, at its very end)."""
    while True:
        boundary = f"==============={random.randrange(sys.maxsize):019d}=="
        if not any(boundary in str(node.payload) for node in leaves):
            return boundary


def _multipart(subtype: str, parts: list[Node]) -> Node:
    boundary = _boundary([n for p in parts for n in nodes(p) if isinstance(n.payload, str)])
    value = f'multipart/{subtype}; boundary="{boundary}"'
    if not fits("Content-Type", value):
        value = f'multipart/{subtype};\n boundary="{boundary}"'
    return Node([("Content-Type", value)], parts)


def nodes(node: Node) -> list[Node]:
    """``node`` and all its descendants."""
    if not isinstance(node.payload, list):
        return [node]
    return [node, *(n for part in node.payload for n in nodes(part))]


def _content(message: Any, policy: Policy) -> Node | None:
    """The message's content tree, as message() builds it; None: not covered."""
    subtypes = [message.mixed_subtype, getattr(message, "alternative_subtype", "alternative")]
    if not all(_TOKEN.match(subtype) for subtype in subtypes):
        return None
    alternatives = getattr(message, "alternatives", [])
    attachments = message.attachments
    body = None
    if message.body or not (alternatives or attachments):
        body = _text(message.body or "", message.content_subtype, policy, [])
        if body is None:
            return None
    tree = body
    if alternatives:
        parts = [body] if body else []
        for content, mimetype in alternatives:
            part = _alternative(content, mimetype, policy)
            if part is None:
                return None
            parts.append(part)
        tree = _multipart(message.alternative_subtype, parts)
    if attachments:
        parts = [tree] if tree else []
        for attachment in attachments:
            part = _attachment(attachment, policy)
            if part is None:
                return None
            parts.append(part)
        tree = _multipart(message.mixed_subtype, parts)
    return tree


def plan(message: Any, headers: Headers, policy: Policy) -> Node | None:
    """The whole MIME tree of ``message`` with its own ``headers`` (name, folded
    value) on top, or ``None`` when the fast path does not cover it."""
    if (message.encoding or "utf-8").lower() not in ("utf-8", "utf8") or not supports(policy):
        return None
    for name, value in headers:
        if name.lower().startswith(("content-", "mime-version")) or not value.isascii():
            return None
    tree = _content(message, policy)
    if tree is None:
        return None
    if not isinstance(tree.payload, list):  # set_content() adds MIME-Version after its headers
        return Node([*headers, *tree.headers, ("MIME-Version", "1.0")], tree.payload)
    return Node([*headers, ("MIME-Version", "1.0"), *tree.headers], tree.payload)


def _render_into(out: list[str | Text | Base64], node: Node, nl: str) -> None:
    for name, value in node.headers:
        out.append(f"{name}: {nl.join(value.splitlines())}{nl}")
    out.append(nl)
    payload = node.payload
    if not isinstance(payload, list):
        out.append(Text(payload) if isinstance(payload, str) else payload)
        return
    boundary = _boundary_of(node)
    for index, part in enumerate(payload):
        out.append(f"--{boundary}{nl}" if index == 0 else f"{nl}--{boundary}{nl}")
        _render_into(out, part, nl)
    if not payload:
        out.append(f"--{boundary}{nl}")
    out.append(f"{nl}--{boundary}--{nl}")


def _boundary_of(node: Node) -> str:
    value = dict(node.headers)["Content-Type"]
    return value.rsplit('boundary="', 1)[1][:-1]


def render(node: Node, linesep: str) -> bytes:
    """The wire bytes of ``node``, as the standard library's generator writes them.

    Payloads are written into one buffer of the final size (see
    :func:`mailproviders.message.payloads.join`): the peak is about the size of the
    result, plus a block of base64 lines."""
    out: list[str | Text | Base64] = []
    _render_into(out, node, linesep)
    return join(out, linesep)
