"""aiosmtplib's exceptions turned into the ones the sync SMTP path raises (``smtplib``
exceptions, ``OSError``, ``TimeoutError``), so that callers handle one set of errors.

Imported only when aiosmtplib is installed.
"""

from __future__ import annotations

import smtplib
from typing import NoReturn

import aiosmtplib

from mailproviders.backends.smtp import session

__all__ = ["reraise", "translated"]


def _replies(
    refused: dict[str, aiosmtplib.SMTPResponse] | list[aiosmtplib.SMTPRecipientRefused],
) -> dict[str, tuple[int, bytes]]:
    if isinstance(refused, dict):
        return {address: (r.code, r.message.encode()) for address, r in refused.items()}
    return {r.recipient: (r.code, r.message.encode()) for r in refused}


def reraise(error: BaseException, original: BaseException) -> NoReturn:
    if error is original:
        raise original
    raise error from original


def translated(exc: BaseException) -> BaseException:
    """The exception the sync path raises for aiosmtplib's ``exc`` (``exc`` when not
    aiosmtplib's), chained to it already, as it will be when raised."""
    error = _mapped(exc) if isinstance(exc, aiosmtplib.SMTPException) else exc
    if error is not exc and error.__context__ is None:
        error.__context__ = exc
    return error


def _mapped(exc: aiosmtplib.SMTPException) -> BaseException:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return smtplib.SMTPRecipientsRefused(_replies(exc.recipients))
    if isinstance(exc, aiosmtplib.SMTPReadTimeoutError):
        # What smtplib raises for a reply that never came (chained to the timeout).
        return smtplib.SMTPServerDisconnected("Connection unexpectedly closed: timed out")
    if isinstance(exc, aiosmtplib.SMTPTimeoutError):
        return TimeoutError(exc.message)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        if exc.code == aiosmtplib.SMTPStatus.invalid_response:  # garbage or too long
            return session.protocol_error("cannot be parsed", exc.message)
        return _response_error(exc)
    if isinstance(exc, aiosmtplib.SMTPConnectError):
        cause = exc.__cause__
        return cause if isinstance(cause, OSError) else ConnectionError(exc.message)
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected):
        return smtplib.SMTPServerDisconnected(exc.message)
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return smtplib.SMTPNotSupportedError(exc.message)
    return smtplib.SMTPException(exc.message)


def _response_error(exc: aiosmtplib.SMTPResponseException) -> smtplib.SMTPResponseException:
    reply = exc.message.encode()
    if isinstance(exc, aiosmtplib.SMTPSenderRefused):
        return smtplib.SMTPSenderRefused(exc.code, reply, exc.sender)
    kinds: list[tuple[type[aiosmtplib.SMTPResponseException], type[smtplib.SMTPResponseException]]]
    kinds = [
        (aiosmtplib.SMTPAuthenticationError, smtplib.SMTPAuthenticationError),
        (aiosmtplib.SMTPDataError, smtplib.SMTPDataError),
        (aiosmtplib.SMTPHeloError, smtplib.SMTPHeloError),
        (aiosmtplib.SMTPConnectResponseError, smtplib.SMTPConnectError),
    ]
    for theirs, ours in kinds:
        if isinstance(exc, theirs):
            return ours(exc.code, reply)
    return smtplib.SMTPResponseException(exc.code, reply)
