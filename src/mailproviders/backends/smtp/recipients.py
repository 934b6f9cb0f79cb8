"""The recipients of one message across the transactions a server's 452 replies force.

RFC 5321 (4.5.3.1.10): a server that takes no more recipients in one transaction answers
452 to RCPT; the client sends the message to those it took and the rest in a new
transaction. The sync and async paths both drive :class:`Recipients`.
"""

from __future__ import annotations

import smtplib
from typing import TYPE_CHECKING, Final

from mailproviders.backends.smtp.session import add_note
from mailproviders.exceptions import record_possibly_sent

if TYPE_CHECKING:
    from mailproviders.message import EmailMessage

__all__ = ["TOO_MANY_RECIPIENTS", "Recipients"]

#: The reply to RCPT that asks for the rest of the recipients in another transaction.
TOO_MANY_RECIPIENTS: Final = 452


class Recipients:
    """The recipients of one message across transactions: a server answering 452 (too many
    recipients, RFC 5321 4.5.3.1.10) gets the rest in the next transaction.

    A transaction calls :meth:`add` for every RCPT reply until it returns False (a 452: the
    rest waits); :meth:`end` after the transaction (``delivered``: its data was accepted).
    """

    def __init__(self, recipients: list[str]) -> None:
        self.pending = list(recipients)
        self.refused: dict[str, tuple[int, bytes]] = {}
        self.delivered = False
        self._accepted = 0
        self._deferred: tuple[int, tuple[int, bytes]] | None = None

    def add(self, index: int, code: int, reply: bytes) -> bool:
        """Record the reply to RCPT of ``pending[index]``; whether to go on with the next."""
        if code in (250, 251):
            self._accepted += 1
        elif code == TOO_MANY_RECIPIENTS:
            self._deferred = (index, (code, reply))
            return False
        else:
            self.refused[self.pending[index]] = (code, reply)
        return True

    @property
    def accepted(self) -> int:
        """Recipients accepted so far in the current transaction."""
        return self._accepted

    def end(self, *, delivered: bool) -> None:
        """Close the current transaction; :attr:`pending` becomes what the next one sends."""
        deferred, self._deferred, self._accepted = self._deferred, None, 0
        self.delivered = self.delivered or delivered
        if deferred is None:
            self.pending = []
            return
        index, reply = deferred
        rest, self.pending = self.pending[index:], []
        if delivered:
            self.pending = rest
        else:  # no progress: the server takes none of the rest either
            self.refused.update(dict.fromkeys(rest, reply))

    def result(self) -> dict[str, tuple[int, bytes]]:
        """The refused recipients; raises ``SMTPRecipientsRefused`` when none got it."""
        if not self.delivered:
            raise smtplib.SMTPRecipientsRefused(self.refused)
        return self.refused

    def failed(self, exc: BaseException, message: EmailMessage) -> None:
        """``exc`` ended a later transaction: earlier ones delivered ``message`` already."""
        if self.delivered:
            record_possibly_sent(exc, [message])
            add_note(exc, "the message was already delivered to some of its recipients")
