"""Payloads of the fast path's MIME tree and their wire bytes, written in one buffer.

A base64 part keeps its raw bytes (:class:`Base64`): the 76-column text is made only
while the message is written, a block of lines at a time, straight into the output.
:func:`join` sizes the output exactly first, so the rendered message is allocated once
and returned without a copy: serializing a large attachment costs about the size of
the message it produces, not several times that.
"""

from __future__ import annotations

import binascii
import io
import re
from collections.abc import Callable, Sequence
from typing import NamedTuple

__all__ = ["Base64", "Text", "join"]

_NLCRE = re.compile(r"\r\n|\r|\n")
_LINE_BYTES = 57  # raw bytes per 76-column base64 line (max_line_length 78 // 4 * 3)
_BLOCK = _LINE_BYTES * 1024  # raw bytes encoded at a time
_TEXT_CHUNK = 1 << 20  # characters of a text payload written at a time


class Base64(NamedTuple):
    """A base64 payload, held as the raw bytes: lines of 76 columns, each ending with a
    line separator, exactly as the standard library's ``set_content()`` encodes them."""

    data: bytes

    def size(self, nl: str) -> int:
        """The length of the encoded payload with lines ending in ``nl``."""
        lines = -(-len(self.data) // _LINE_BYTES)
        return 4 * -(-len(self.data) // 3) + lines * len(nl)

    def write(self, write: Callable[[bytes], object], nl: str) -> None:
        """Write the encoded lines, ending in ``nl``, a block at a time."""
        sep = nl.encode("ascii")
        with memoryview(self.data) as view:
            for start in range(0, len(view), _BLOCK):
                text = binascii.b2a_base64(view[start : start + _BLOCK], newline=False)
                write(sep.join([text[i : i + 76] for i in range(0, len(text), 76)]))
                write(sep)

    def text(self) -> str:
        """The payload as the standard library holds it (lines ending in ``\\n``)."""
        out = io.BytesIO()
        self.write(out.write, "\n")
        return out.getvalue().decode("ascii")


class Text(NamedTuple):
    """A text payload as the tree holds it; written with its line endings made ``nl``."""

    payload: str

    def _lines(self, nl: str) -> bool:
        return nl != "\n" or "\r" in self.payload

    def size(self, nl: str) -> int:
        """The length of the payload written with ``nl`` line endings."""
        payload = self.payload
        if not self._lines(nl):
            return len(payload)
        crlf = payload.count("\r\n")
        breaks = payload.count("\r") + payload.count("\n") - crlf
        return len(payload) - breaks - crlf + breaks * len(nl)

    def write(self, write: Callable[[bytes], object], nl: str) -> None:
        """Write the payload (one character per byte, as the generator writes it), a
        chunk at a time; a chunk never ends between the CR and LF of a CRLF."""
        payload, lines, start = self.payload, self._lines(nl), 0
        while start < len(payload):
            end = start + _TEXT_CHUNK
            end += payload[end - 1 : end + 1] == "\r\n"
            chunk = _NLCRE.sub(nl, payload[start:end]) if lines else payload[start:end]
            write(chunk.encode("ascii", "surrogateescape"))
            start = end


def join(pieces: Sequence[str | Text | Base64], nl: str) -> bytes:
    """The bytes of ``pieces`` (``str`` pieces are written as they are).

    The output buffer is sized before anything is written: a :class:`io.BytesIO`
    extended to the final length returns its own buffer from ``getvalue()``, so the
    message exists once in memory (CPython; elsewhere ``getvalue()`` may copy it once).
    """
    total = sum(len(p) if isinstance(p, str) else p.size(nl) for p in pieces)
    out = io.BytesIO()
    if total:
        out.seek(total - 1)
        out.write(b"\0")
        out.seek(0)
    for piece in pieces:
        if isinstance(piece, str):
            out.write(piece.encode("ascii", "surrogateescape"))
        else:
            piece.write(out.write, nl)
    if out.tell() != total:  # a size above is wrong: never return a padded message
        raise RuntimeError(f"rendered {out.tell()} bytes, expected {total}")
    return out.getvalue()
