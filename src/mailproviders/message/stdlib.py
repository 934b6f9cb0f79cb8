"""The standard-library message: for a fast-path tree (:mod:`mailproviders.message.serialize`)
and built part by part (:func:`build`).

:class:`SerializedMessage` keeps the tree and returns the rendered bytes from
``as_bytes()`` while it is unmodified.
"""

from __future__ import annotations

import email.message
from email.policy import Policy
from typing import Any

from mailproviders.message.headers import check_content_type
from mailproviders.message.payloads import Base64
from mailproviders.message.serialize import Node, fits, nodes, render
from mailproviders.message.wire import stored

__all__ = ["SerializedMessage", "build", "to_stdlib"]

_CONTENT_HEADERS = ("content-", "mime-version")


def build(
    message: Any, headers: list[tuple[str, str]], policy: Policy
) -> email.message.EmailMessage:
    """``message`` (an ``EmailMessage`` of this package) as a standard-library message built
    with its ``_add_bodies``/``_add_attachments``, with its own ``headers`` (name, folded
    value). Raises ``ValueError`` for a ``Content-Type`` header that does not fit."""
    msg = email.message.EmailMessage(policy=policy)
    # Content headers go after the body is built (which creates them); the
    # others first, so the message reads Subject, From, To... then MIME.
    content = [(n, v) for n, v in headers if n.lower().startswith(_CONTENT_HEADERS)]
    for name, value in headers:
        if (name, value) not in content:
            msg.set_raw(name, stored(name, value))
    message._add_bodies(msg)
    message._add_attachments(msg)
    for name, value in content:
        if name.lower() == "content-type":
            check_content_type(value, multipart=msg.is_multipart())
        del msg[name]
        msg.set_raw(name, stored(name, value))
    if "MIME-Version" not in msg:  # no body part: set_content() never ran on msg
        msg["MIME-Version"] = "1.0"
    return msg


def _fill(part: email.message.Message, node: Node, policy: Policy) -> None:
    for name, value in node.headers:
        part.set_raw(name, stored(name, value))
    if isinstance(node.payload, str):
        part.set_payload(node.payload)
        return
    if isinstance(node.payload, Base64):  # the standard library holds the encoded text
        part.set_payload(node.payload.text())
        return
    for child in node.payload:
        sub = email.message.EmailMessage(policy=policy)
        _fill(sub, child, policy)
        part.attach(sub)


def to_stdlib(node: Node, policy: Policy) -> SerializedMessage:
    """The standard-library message with the structure of ``node``."""
    msg = SerializedMessage(policy=policy)
    _fill(msg, node, policy)
    msg.remember(node)
    return msg


def _snapshot(msg: email.message.Message) -> list[tuple[Any, ...]]:
    state = vars(msg)
    payload = state.get("_payload")
    parts = payload if isinstance(payload, list) else []
    own = (msg, tuple(state.get("_headers", ())), payload, list(parts), msg.preamble,
           msg.epilogue, state.get("_charset"), msg.policy)  # fmt: skip
    return [own, *(item for part in parts for item in _snapshot(part))]


class SerializedMessage(email.message.EmailMessage):
    """A standard :class:`email.message.EmailMessage` built by the fast path.

    Until the message (or any part) is modified, ``as_bytes()``/``bytes()`` with no
    arguments return the bytes the fast path rendered -- the same bytes the standard
    generator writes for it -- and ``as_string()`` their text when they are ASCII.
    Any change, ``unixfrom=True`` or another policy uses the standard generator.
    """

    _fast: tuple[Node, list[tuple[Any, ...]]] | None = None
    _fast_bytes: bytes | None = None

    def remember(self, node: Node) -> None:
        """Record ``node`` as this message's structure (when no header would be refolded)."""
        policy = self.policy
        refold = getattr(policy, "refold_source", "long")
        if refold == "all" or (
            refold == "long" and not all(fits(n, v) for p in nodes(node) for n, v in p.headers)
        ):
            return
        self._fast = (node, _snapshot(self))
        self._fast_bytes = None

    def _unchanged_bytes(self) -> bytes | None:
        fast = self._fast
        if fast is None or _snapshot(self) != fast[1]:
            return None
        if self._fast_bytes is None:
            self._fast_bytes = render(fast[0], self.policy.linesep)
        return self._fast_bytes

    def as_bytes(self, unixfrom: bool = False, policy: Policy | None = None) -> bytes:
        """As :meth:`email.message.EmailMessage.as_bytes`, from the kept bytes when unchanged."""
        if not unixfrom and (policy is None or policy is self.policy):
            data = self._unchanged_bytes()
            if data is not None:
                return data
        return super().as_bytes(unixfrom, policy)

    def as_string(
        self, unixfrom: bool = False, maxheaderlen: int | None = None, policy: Policy | None = None
    ) -> str:
        """As :meth:`email.message.EmailMessage.as_string`, from the kept bytes when unchanged
        and ASCII."""
        if not unixfrom and maxheaderlen is None and (policy is None or policy is self.policy):
            data = self._unchanged_bytes()
            if data is not None and data.isascii():
                return data.decode("ascii")
        return super().as_string(unixfrom, maxheaderlen, policy)
