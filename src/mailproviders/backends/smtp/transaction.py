"""One message over a sync SMTP connection: MAIL, RCPT, DATA, knowing how far it got.

``smtplib.SMTP.sendmail`` cannot tell "refused before the message was sent" from "the
connection was lost after the message's data was sent, before the reply". The second is
ambiguous (the server may have accepted the message), so such an exception is marked
with :func:`~mailproviders.exceptions.record_possibly_sent` (the rule is
:func:`.session.after_data`, shared with the async path) and nobody resends it blindly.

A server answering 452 (too many recipients) gets the rest in further transactions
(:class:`.recipients.Recipients`). The data is sent from the rendered bytes in slices
(:func:`.session.stuffed`): no dot-stuffed copy of the whole message is made.
"""

from __future__ import annotations

import contextlib
import smtplib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from mailproviders.backends.smtp import pipeline, session
from mailproviders.backends.smtp.recipients import Recipients

if TYPE_CHECKING:
    from mailproviders.message import EmailMessage

__all__ = ["send_transaction"]

_SERVICE_CLOSING: Final = 421


def send_transaction(
    connection: smtplib.SMTP,
    message: EmailMessage,
    *,
    sender: str,
    recipients: Sequence[str],
    data: bytes,
    options: Sequence[str],
    pipelining: bool = True,
) -> dict[str, tuple[int, bytes]]:
    """Send ``data`` from ``sender`` to ``recipients``; return the refused recipients.

    Behaves like ``sendmail``: ``SMTPSenderRefused`` when MAIL FROM is refused,
    ``SMTPRecipientsRefused`` when every recipient is (or on a 421), ``SMTPDataError``
    when DATA or the message is refused; after a refusal the session is reset (RSET), or
    closed on a 421. An exception raised once the message's data has gone out is marked
    as possibly having delivered ``message``, unless it is a refusal reply. With
    ``pipelining`` and a server advertising PIPELINING, each envelope goes out in one
    write (:mod:`.pipeline`).
    """
    connection.ehlo_or_helo_if_needed()
    one = _pipelined if pipelining and connection.has_extn("pipelining") else _one_transaction
    mail_options: list[str] = []
    if connection.does_esmtp:
        if connection.has_extn("size"):
            mail_options.append(f"size={len(data)}")
        mail_options.extend(options)
    state = Recipients(list(recipients))
    while state.pending:
        try:
            one(
                connection,
                message,
                state=state,
                sender=sender,
                mail_options=mail_options,
                data=data,
            )
        except BaseException as exc:
            state.failed(exc, message)
            raise
    return state.result()


def _one_transaction(
    connection: smtplib.SMTP,
    message: EmailMessage,
    *,
    state: Recipients,
    sender: str,
    mail_options: list[str],
    data: bytes,
) -> None:
    code, reply = connection.mail(sender, mail_options)
    if code != 250:
        _abandon(connection, code)
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    for index, address in enumerate(state.pending):
        code, reply = connection.rcpt(address)
        if code == _SERVICE_CLOSING:
            state.add(index, code, reply)
            connection.close()
            raise smtplib.SMTPRecipientsRefused(state.refused)
        if not state.add(index, code, reply):
            break
    if not state.accepted:
        _abandon(connection)
        state.end(delivered=False)
        return
    _send_data(connection, message, data)
    state.end(delivered=True)


def _pipelined(
    connection: smtplib.SMTP,
    message: EmailMessage,
    *,
    state: Recipients,
    sender: str,
    mail_options: list[str],
    data: bytes,
) -> None:
    utf8 = any(option.upper() == "SMTPUTF8" for option in mail_options)
    lines = pipeline.commands(sender, state.pending, mail_options, utf8=utf8)
    if utf8:
        connection.command_encoding = "utf-8"  # as smtplib.mail() does; RSET resets it
    envelope = pipeline.Envelope(state, sender)
    answers = pipeline.replies(connection, lines)
    try:
        envelope.sender_reply(*next(answers))
        for _ in range(len(lines) - 2):
            if envelope.closing:
                break
            envelope.recipient_reply(*next(answers))
        if envelope.closing:
            connection.close()
            raise envelope.closing_error()
        code, reply = next(answers)
    except smtplib.SMTPServerDisconnected:
        if envelope.refused_sender is None:
            raise
        raise envelope.refused_sender from None  # it hung up after refusing MAIL
    if envelope.send_data(code):
        _send_body(connection, message, data)
        state.end(delivered=True)
        return
    if code == pipeline.START_INPUT:  # DATA should have been refused: end it empty
        connection.send(b".\r\n")
        connection.getreply()
    error = envelope.refusal(code, reply)
    _abandon(connection, code)  # RSET, or close after a 421
    if error is not None:
        raise error
    state.end(delivered=False)


def _send_data(connection: smtplib.SMTP, message: EmailMessage, data: bytes) -> None:
    code, reply = connection.docmd("data")
    if code != 354:
        _abandon(connection, code)
        raise smtplib.SMTPDataError(code, reply)
    _send_body(connection, message, data)


def _send_body(connection: smtplib.SMTP, message: EmailMessage, data: bytes) -> None:
    """The message's data after a 354 reply, and the reply to its end."""
    try:
        for piece in session.stuffed(data):
            connection.send(piece)
        error = session.end_of_data_error(*connection.getreply(), message)
        if error is not None:
            if session.refusal(error):
                _abandon(connection, error.smtp_code)
            else:  # not an answer to trust: the session's state is unknown
                connection.close()
            raise error
    except BaseException as exc:
        session.after_data(exc, message)
        raise


def _abandon(connection: smtplib.SMTP, code: int | None = None) -> None:
    """End a refused transaction so that the session stays usable (RSET), or close on 421."""
    if code == _SERVICE_CLOSING:
        connection.close()
        return
    with contextlib.suppress(smtplib.SMTPServerDisconnected):
        connection.rset()
