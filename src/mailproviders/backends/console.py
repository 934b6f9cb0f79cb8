"""Console backend: writes each message to a text stream (standard output by default)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal, TextIO

from mailproviders.backends.base import NOT_GIVEN, BaseEmailBackend, NotGiven
from mailproviders.config.options import stream_option
from mailproviders.exceptions import InvalidEmailProvider, record_sent

if TYPE_CHECKING:
    from mailproviders.message import EmailMessage

__all__ = ["SEPARATOR", "EmailBackend", "render"]

#: Written after every message by the console and file backends.
SEPARATOR = "-" * 79

# Shared by every instance: two backends writing to the same sys.stdout must not
# interleave either.
_write_lock = threading.Lock()


def render(message: EmailMessage) -> str:
    """Return ``message`` as text, a blank line and the separator line, ready to write
    at once (the layout of Django's console and file backends: code that splits the
    output on ``"\n" + SEPARATOR`` gets each message back whole, final newline included).

    Raises whatever serializing the message raises (e.g. ``ValueError``).
    """
    text = message.as_bytes().decode("utf-8", errors="replace")
    if not text.endswith("\n"):
        text += "\n"
    return f"{text}\n{SEPARATOR}\n"


class EmailBackend(BaseEmailBackend):
    """Write every message, then a line of 79 ``-``, to ``stream``, flushing after each.

    ``stream`` is a text stream, or ``"stdout"``/``"stderr"``; ``None`` means
    ``sys.stdout``. Names are looked up when sending, so redirecting ``sys.stdout`` later
    is honoured. Threads sharing an instance never interleave their messages.

    Raises :class:`~mailproviders.exceptions.InvalidEmailProvider` (option ``stream``) for
    any other string.
    """

    def __init__(
        self,
        *,
        alias: str | None = None,
        stream: TextIO | Literal["stdout", "stderr"] | None = None,
        fail_silently: bool | NotGiven = NOT_GIVEN,
    ) -> None:
        super().__init__(alias=alias, fail_silently=fail_silently)
        if stream is not None:
            try:
                stream_option(stream)
            except ValueError as exc:
                raise InvalidEmailProvider(str(exc), alias=alias, option="stream") from None
        self._stream = stream

    @property
    def stream(self) -> TextIO:
        """The stream messages are written to now."""
        if self._stream is None or self._stream == "stdout":
            return sys.stdout
        if self._stream == "stderr":
            return sys.stderr
        assert not isinstance(self._stream, str)
        return self._stream

    def send_messages(self, messages: Iterable[EmailMessage]) -> int:
        """Write ``messages`` and return how many were written (all of them).

        Raises what serializing a message or writing to the stream raises, carrying
        ``sent_count``/``sent_messages``; a message that fails to serialize is not written.
        """
        sent: list[EmailMessage] = []
        try:
            for message in messages:
                text = render(message)
                with _write_lock:
                    stream = self.stream
                    stream.write(text)
                    stream.flush()
                sent.append(message)
        except Exception as exc:
            record_sent(exc, sent)
            raise
        return len(sent)

    def __repr__(self) -> str:
        stream: object = self._stream
        if stream is not None and not isinstance(stream, str):
            stream = getattr(stream, "name", type(stream).__name__)
        return (
            f"<{type(self).__module__}.{type(self).__qualname__} alias={self.alias!r}, "
            f"stream={stream!r}>"
        )
