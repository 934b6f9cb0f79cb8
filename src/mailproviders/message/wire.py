"""Header values that keep this package's wire form yet follow the output policy.

:meth:`EmailMessage.message() <mailproviders.message.base.EmailMessage.message>` stores
headers already encoded and folded (RFC 2047 encoded words, our own folding). Stored as
plain strings, they would be written that way under any policy. A value that is not plain
ASCII text (it holds an encoded word or a non-ASCII character) is stored instead as a
standard-library header object (what ``msg[name] = value`` stores) that remembers the wire
form: a policy like the default one still writes the wire form unchanged, while a policy
with ``utf8=True`` (``email.policy.SMTPUTF8``) writes the decoded text as UTF-8 and
``compat32`` encodes it its own way, as for any header the standard library parsed.
"""

from __future__ import annotations

import email.headerregistry
import email.policy
import sys
from email.policy import EmailPolicy, Policy
from typing import Any

__all__ = ["SERIALIZE_POLICY", "WirePolicy", "stored"]


class WirePolicy(EmailPolicy):
    """The policy this package serializes with: headers keep their wire form even with
    ``utf8=True`` (set when an address needs SMTPUTF8)."""

    keep_wire = True


#: Serializing never lets the standard library refold the pre-folded headers.
SERIALIZE_POLICY = WirePolicy(refold_source="none")

_REGISTRY: email.headerregistry.HeaderRegistry = email.policy.default.header_factory  # type: ignore[assignment]
_CLASSES: dict[type[Any], type[Any]] = {}


class _KeepsWire:
    """Mixed into a standard-library header class: :meth:`fold` writes ``_wire``."""

    name: str
    _wire: str

    def fold(self, *, policy: Policy) -> str:
        """The header as ``policy`` writes it: the wire form, refolded only where a plain
        string would be (``refold_source``), or the decoded text when ``policy.utf8``."""
        if getattr(policy, "utf8", False) and not getattr(policy, "keep_wire", False):
            return super().fold(policy=policy)  # type: ignore[misc, no-any-return]
        assert isinstance(policy, EmailPolicy)
        lines = self._wire.splitlines()
        limit = policy.max_line_length or sys.maxsize
        too_long = len(lines[0]) + len(self.name) + 2 > limit or any(
            len(line) > limit for line in lines[1:]
        )
        if policy.refold_source == "all" or (policy.refold_source == "long" and too_long):
            return super().fold(policy=policy)  # type: ignore[misc, no-any-return]
        return f"{self.name}: {policy.linesep.join(lines)}{policy.linesep}"


def _header_class(name: str) -> type[Any]:
    specific = _REGISTRY.registry.get(name.lower(), _REGISTRY.default_class)
    cls = _CLASSES.get(specific)
    if cls is None:
        bases = (_KeepsWire, specific, email.headerregistry.BaseHeader)
        cls = _CLASSES[specific] = type(f"_{specific.__name__}", bases, {})
    return cls


def stored(name: str, wire: str) -> str:
    """What to store (``set_raw``) for header ``name`` with the folded ``wire`` value:
    ``wire`` itself when it is plain ASCII text, else a header object keeping it."""
    if wire.isascii() and "=?" not in wire:
        return wire
    header = _header_class(name)(name, "".join(wire.splitlines()))
    header._wire = wire
    return header  # type: ignore[no-any-return]
