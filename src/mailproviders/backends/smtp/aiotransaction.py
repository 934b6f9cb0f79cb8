"""One message over a native async SMTP connection: MAIL, RCPT, DATA, lock-step or
pipelined (RFC 2920, :mod:`.pipeline`), as :mod:`.transaction` does on the sync path.

Imported only when aiosmtplib is installed.
"""

from __future__ import annotations

import smtplib
from typing import TYPE_CHECKING, Final

import aiosmtplib

from mailproviders.backends.smtp import pipeline
from mailproviders.backends.smtp.aioerrors import reraise, translated
from mailproviders.backends.smtp.aiowire import (
    abort,
    keeping_replies,
    read_reply,
    reset,
    send_body,
    write,
)
from mailproviders.backends.smtp.recipients import Recipients

if TYPE_CHECKING:
    from mailproviders.backends.smtp.session import Prepared
    from mailproviders.message import EmailMessage

__all__ = ["transaction"]

_SERVICE_CLOSING: Final = 421
_START_INPUT: Final = 354


async def transaction(
    connection: aiosmtplib.SMTP, message: EmailMessage, prepared: Prepared, pipelining: bool
) -> dict[str, tuple[int, bytes]]:
    """MAIL, RCPT, DATA, like the sync path (452 replies included); returns the refused
    recipients. What counts as possibly delivered is :func:`.session.after_data`."""
    encoding = "utf-8" if prepared.needs_smtputf8 else "ascii"
    options = ["SMTPUTF8"] if prepared.needs_smtputf8 else []
    if connection.supports_extension("size"):
        options.insert(0, f"size={len(prepared.data)}")
    pipelined = pipelining and connection.supports_extension("pipelining")
    one = _pipelined if pipelined else _one_transaction
    state = Recipients(prepared.recipients)
    while state.pending:
        try:
            await one(
                connection,
                message,
                prepared=prepared,
                state=state,
                options=options,
                encoding=encoding,
            )
        except BaseException as exc:
            error = translated(exc)
            state.failed(error, message)
            reraise(error, exc)
    return state.result()


async def _one_transaction(
    connection: aiosmtplib.SMTP,
    message: EmailMessage,
    *,
    prepared: Prepared,
    state: Recipients,
    options: list[str],
    encoding: str,
) -> None:
    try:
        await connection.mail(prepared.sender, options=options, encoding=encoding)
        for index, address in enumerate(state.pending):
            try:
                await connection.rcpt(address, encoding=encoding)
            except aiosmtplib.SMTPRecipientRefused as exc:
                go_on = state.add(index, exc.code, exc.message.encode())
                if exc.code == _SERVICE_CLOSING or not connection.is_connected:
                    raise smtplib.SMTPRecipientsRefused(state.refused) from exc
                if not go_on:
                    break
            else:
                state.add(index, 250, b"")
    except (aiosmtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused) as exc:
        await reset(connection, exc)
        reraise(translated(exc), exc)
    if not state.accepted:
        await reset(connection)
        state.end(delivered=False)
        return
    await _send_data(connection, message, prepared.data)
    state.end(delivered=True)


async def _send_data(connection: aiosmtplib.SMTP, message: EmailMessage, data: bytes) -> None:
    """DATA, then the message (:func:`.aiowire.send_body`)."""
    response = await connection.execute_command(b"DATA")
    if response.code != _START_INPUT:
        error = smtplib.SMTPDataError(response.code, response.message.encode())
        await reset(connection, error)
        raise error
    await send_body(connection, message, data)


class _Answers:
    """Writes the pipelined command lines a group at a time; reads their replies in order."""

    def __init__(self, connection: aiosmtplib.SMTP, lines: list[bytes]) -> None:
        self.connection, self.lines = connection, lines
        self.read = self.written = 0

    async def next(self) -> tuple[int, bytes]:
        if self.read == self.written:
            group = self.lines[self.written : self.written + pipeline.GROUP]
            protocol = self.connection.protocol
            if protocol is None:
                raise smtplib.SMTPServerDisconnected("Connection lost")
            protocol._response_pending = True  # replies to these are expected now
            write(protocol, b"".join(group))
            self.written += len(group)
        self.read += 1
        return await read_reply(self.connection)


async def _pipelined(
    connection: aiosmtplib.SMTP,
    message: EmailMessage,
    *,
    prepared: Prepared,
    state: Recipients,
    options: list[str],
    encoding: str,
) -> None:
    lines = pipeline.commands(prepared.sender, state.pending, options, utf8=encoding == "utf-8")
    envelope = pipeline.Envelope(state, prepared.sender)
    answers = _Answers(connection, lines)
    try:
        with keeping_replies(connection):
            envelope.sender_reply(*await answers.next())
            for _ in range(len(lines) - 2):
                if envelope.closing:
                    break
                envelope.recipient_reply(*await answers.next())
            code, reply = (0, b"") if envelope.closing else await answers.next()
        if envelope.closing:
            abort(connection)
            raise envelope.closing_error()
    except aiosmtplib.SMTPServerDisconnected as exc:
        if envelope.refused_sender is None:
            raise
        raise envelope.refused_sender from exc  # it hung up after refusing MAIL
    if envelope.send_data(code):
        await send_body(connection, message, prepared.data)
        state.end(delivered=True)
        return
    if code == _START_INPUT:  # DATA should have been refused: end it empty
        write(connection.protocol, b".\r\n")  # type: ignore[arg-type]
        await read_reply(connection)
    error = envelope.refusal(code, reply)
    if code == _SERVICE_CLOSING:  # the server is closing: no RSET
        abort(connection)
    else:
        await reset(connection)
    if error is not None:
        raise error
    state.end(delivered=False)
