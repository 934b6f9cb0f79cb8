"""One SMTP mail transaction (MAIL, RCPT, DATA) that knows how far it got.

``smtplib.SMTP.sendmail`` cannot tell "refused before the message was sent" from "the
connection was lost after the message's data was sent, before the reply". The second is
ambiguous (the server may have accepted the message), so such an exception is marked
with :func:`~mailproviders.exceptions.record_possibly_sent` and nobody resends it blindly.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from mailproviders.exceptions import record_possibly_sent

if TYPE_CHECKING:
    from mailproviders.message import EmailMessage

__all__ = ["send_transaction"]

_LINE_START_DOT: Final = re.compile(rb"(?m)^\.")
_SERVICE_CLOSING: Final = 421


def send_transaction(
    connection: smtplib.SMTP,
    message: EmailMessage,
    *,
    sender: str,
    recipients: Sequence[str],
    data: bytes,
    options: Sequence[str],
) -> dict[str, tuple[int, bytes]]:
    """Send ``data`` from ``sender`` to ``recipients``; return the refused recipients.

    Behaves like ``sendmail``: ``SMTPSenderRefused`` when MAIL FROM is refused,
    ``SMTPRecipientsRefused`` when every recipient is (or on a 421), ``SMTPDataError``
    when DATA or the message is refused; after a refusal the session is reset (RSET), or
    closed on a 421. An exception raised once the message's data has gone out is marked
    as possibly having delivered ``message``.
    """
    connection.ehlo_or_helo_if_needed()
    mail_options: list[str] = []
    if connection.does_esmtp:
        if connection.has_extn("size"):
            mail_options.append(f"size={len(data)}")
        mail_options.extend(options)
    code, reply = connection.mail(sender, mail_options)
    if code != 250:
        _abandon(connection, code)
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    refused: dict[str, tuple[int, bytes]] = {}
    for address in recipients:
        code, reply = connection.rcpt(address)
        if code not in (250, 251):
            refused[address] = (code, reply)
        if code == _SERVICE_CLOSING:
            connection.close()
            raise smtplib.SMTPRecipientsRefused(refused)
    if len(refused) == len(recipients):
        _abandon(connection)
        raise smtplib.SMTPRecipientsRefused(refused)
    _send_data(connection, message, data)
    return refused


def _send_data(connection: smtplib.SMTP, message: EmailMessage, data: bytes) -> None:
    code, reply = connection.docmd("data")
    if code != 354:
        _abandon(connection, code)
        raise smtplib.SMTPDataError(code, reply)
    payload = _LINE_START_DOT.sub(b"..", data)
    if not payload.endswith(b"\r\n"):
        payload += b"\r\n"
    try:
        connection.send(payload + b".\r\n")
        code, reply = connection.getreply()
    except BaseException as exc:
        record_possibly_sent(exc, [message])
        raise
    if code != 250:
        _abandon(connection, code)
        raise smtplib.SMTPDataError(code, reply)


def _abandon(connection: smtplib.SMTP, code: int | None = None) -> None:
    """End a refused transaction so that the session stays usable (RSET), or close on 421."""
    if code == _SERVICE_CLOSING:
        connection.close()
        return
    with contextlib.suppress(smtplib.SMTPServerDisconnected):
        connection.rset()
