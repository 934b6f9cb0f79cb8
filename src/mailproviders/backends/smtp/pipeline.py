"""PIPELINING (RFC 2920): the envelope of a transaction in one write, its replies in order.

MAIL FROM, every RCPT TO and DATA go out together (at most :data:`GROUP` commands per
write, so that a long recipient list cannot fill both sockets' buffers while neither side
reads); the replies are then read in the order of the commands and matched to them. The
reply to DATA decides: 354 with at least one recipient accepted sends the message; 354
otherwise (a server that should have refused DATA) gets an empty end of data, then RSET.

:func:`commands` and :class:`Envelope` are shared by the sync path (:func:`replies`) and
the async one (:mod:`.aiopipe`); what counts as possibly delivered stays
:func:`.session.after_data`, as without pipelining.
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterator, Sequence
from typing import Final

from mailproviders.backends.smtp.recipients import Recipients

__all__ = ["GROUP", "Envelope", "commands", "replies"]

#: The most commands sent in one write before their replies are read.
GROUP: Final = 100
SERVICE_CLOSING: Final = 421
START_INPUT: Final = 354


def commands(
    sender: str, recipients: Sequence[str], options: Sequence[str], *, utf8: bool
) -> list[bytes]:
    """The command lines of one pipelined envelope: MAIL, one RCPT per recipient, DATA.

    Raises ``ValueError`` for a line break inside an address or option (checked before
    anything is written, as ``smtplib`` does).
    """
    encoding = "utf-8" if utf8 else "ascii"
    extra = "".join(f" {option}" for option in options)
    lines = [f"MAIL FROM:{smtplib.quoteaddr(sender)}{extra}"]
    lines += [f"RCPT TO:{smtplib.quoteaddr(address)}" for address in recipients]
    for line in lines:
        if "\r" in line or "\n" in line:
            raise ValueError(f"SMTP command {line!r} contains a line break")
    lines.append("DATA")
    return [f"{line}\r\n".encode(encoding) for line in lines]


def replies(connection: smtplib.SMTP, lines: list[bytes]) -> Iterator[tuple[int, bytes]]:
    """Send ``lines`` in groups of :data:`GROUP` (one write each); yield the replies in
    order, reading a group's replies before the next group goes out."""
    for start in range(0, len(lines), GROUP):
        group = lines[start : start + GROUP]
        connection.send(b"".join(group))
        for _ in group:
            yield connection.getreply()


class Envelope:
    """The replies to one pipelined envelope, fed in order; says what the client does next.

    :meth:`sender_reply` takes the reply to MAIL, :meth:`recipient_reply` each reply to
    RCPT (recorded in ``state`` unless MAIL was refused); after each, the caller checks
    :attr:`closing` (a 421: the server is closing the session). The reply to DATA goes to
    :meth:`send_data`, then, when nothing is sent, to :meth:`refusal`.
    """

    def __init__(self, state: Recipients, sender: str) -> None:
        self.state = state
        self.sender = sender
        self.closing = False
        self.refused_sender: smtplib.SMTPSenderRefused | None = None
        self._index = 0

    def sender_reply(self, code: int, reply: bytes) -> None:
        self.closing = code == SERVICE_CLOSING
        if code != 250:
            self.refused_sender = smtplib.SMTPSenderRefused(code, reply, self.sender)

    def recipient_reply(self, code: int, reply: bytes) -> None:
        index, self._index = self._index, self._index + 1
        if self.refused_sender is None:
            self.state.add(index, code, reply)
        self.closing = code == SERVICE_CLOSING

    def closing_error(self) -> smtplib.SMTPException:
        """The error to raise when the server closes the session (421)."""
        if self.refused_sender is not None:
            return self.refused_sender
        return smtplib.SMTPRecipientsRefused(self.state.refused)

    def send_data(self, code: int) -> bool:
        """Whether the message goes, given the reply to DATA (354 and someone accepted)."""
        return code == START_INPUT and self.refused_sender is None and self.state.accepted > 0

    def refusal(self, code: int, reply: bytes) -> smtplib.SMTPException | None:
        """After a DATA reply that sends nothing: the error to raise (``None``: no recipient
        was accepted, the transaction ends undelivered)."""
        if self.refused_sender is not None:
            return self.refused_sender
        if self.state.accepted == 0:
            return None
        return smtplib.SMTPDataError(code, reply)
