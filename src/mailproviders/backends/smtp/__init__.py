"""SMTP backend: delivers messages to an SMTP server (plain, STARTTLS or implicit TLS).

:mod:`.backend` is the backend (sync); :mod:`.asyncpair` its async methods, native in
:mod:`.aio` when aiosmtplib is installed; :mod:`.transaction` one sync mail transaction;
:mod:`.session` what the sync and async paths share (message preparation, errors, the
report of refused recipients).
"""

from mailproviders.backends.smtp.backend import DEFAULT_TIMEOUT, EmailBackend, Password

__all__ = ["DEFAULT_TIMEOUT", "EmailBackend", "Password"]
