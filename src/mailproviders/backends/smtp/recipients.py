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
        self._answered = 0  # replies seen in the current transaction (in order)
        self._waiting: list[int] = []  # indexes answered 452 in the current transaction
        self._reply: tuple[int, bytes] = (TOO_MANY_RECIPIENTS, b"")

    def add(self, index: int, code: int, reply: bytes) -> bool:
        """Record the reply to RCPT of ``pending[index]``; whether to go on with the next.

        A pipelined transaction has all its replies already and records them all: those
        accepted or refused after a 452 are settled, only the 452 ones wait.
        """
        self._answered = index + 1
        if code in (250, 251):
            self._accepted += 1
        elif code == TOO_MANY_RECIPIENTS:
            self._waiting.append(index)
            self._reply = (code, reply)
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
        rest = [self.pending[i] for i in self._waiting] + self.pending[self._answered :]
        self._accepted, self._answered, self._waiting = 0, 0, []
        self.delivered = self.delivered or delivered
        self.pending = []
        if not rest:
            return
        if delivered:
            self.pending = rest
        else:  # no progress: the server takes none of the rest either
            self.refused.update(dict.fromkeys(rest, self._reply))

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
