"""In-memory backend for tests: keeps copies of sent messages in :data:`outbox`."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

from mailproviders.backends.base import NOT_GIVEN, BaseEmailBackend, NotGiven
from mailproviders.exceptions import record_sent

if TYPE_CHECKING:
    from mailproviders.message import EmailMessage

__all__ = ["EmailBackend", "outbox"]

#: Every message sent through a locmem backend, in order. Created once and only ever
#: mutated in place (``outbox.clear()``), so every reference to it stays current.
outbox: list[EmailMessage] = []

_outbox_lock = threading.Lock()


class EmailBackend(BaseEmailBackend):
    """Append a copy of every message with recipients to :data:`outbox`; send nothing.

    Each copy is independent of the caller's message (later changes to one do not show in
    the other), has ``connection=None`` and ``sent_using`` set to this backend's alias.
    Messages are serialized first, so a message a real backend would reject raises here
    too (e.g. ``ValueError`` for a header containing a newline).
    """

    def __init__(
        self, *, alias: str | None = None, fail_silently: bool | NotGiven = NOT_GIVEN
    ) -> None:
        super().__init__(alias=alias, fail_silently=fail_silently)

    def send_messages(self, messages: Iterable[EmailMessage]) -> int:
        """Record ``messages`` and return how many had recipients (the others are skipped).

        Raises what serializing a message raises, carrying ``sent_count``/``sent_messages``.
        """
        sent: list[EmailMessage] = []
        try:
            for message in messages:
                if not message.recipients():
                    continue
                message.as_bytes()
                clone = _copy(message)
                clone.sent_using = self.alias
                with _outbox_lock:
                    outbox.append(clone)
                sent.append(message)
        except Exception as exc:
            record_sent(exc, sent)
            raise
        return len(sent)


def _copy(message: EmailMessage) -> EmailMessage:
    # The memo entry makes deepcopy use None for the connection instead of copying a
    # backend (with its sockets and locks), without touching the caller's message.
    memo: dict[int, object] = {id(message._connection): None}
    return copy.deepcopy(message, memo)
