"""SMTP backend: delivers messages to an SMTP server (plain, STARTTLS or implicit TLS).

:mod:`.backend` is the backend (sync); :mod:`.asyncpair` its async methods, native in
:mod:`.aio` when aiosmtplib is installed; :mod:`.transaction` one sync mail transaction;
:mod:`.client` the sync connection (a deadline per reply, UTF-8 AUTH);
:mod:`.session` what the sync and async paths share (message preparation, errors, what
counts as possibly delivered, the report of refused recipients); :mod:`.recipients` the
recipients of a message across the transactions that 452 replies force;
:mod:`.pipeline` PIPELINING (RFC 2920), sync, and :mod:`.aiotransaction`/:mod:`.aiowire`
its async side; :mod:`.parallel` and :mod:`.aioparallel` ``max_connections`` > 1.
"""

from mailproviders.backends.smtp.backend import DEFAULT_TIMEOUT, EmailBackend, Password
from mailproviders.backends.smtp.session import SMTPProtocolError

__all__ = ["DEFAULT_TIMEOUT", "EmailBackend", "Password", "SMTPProtocolError"]
