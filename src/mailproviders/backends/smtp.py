"""SMTP backend: delivers messages to an SMTP server (plain, STARTTLS or implicit TLS)."""

from __future__ import annotations

import functools
import logging
import smtplib
import socket
import ssl
import threading
from collections.abc import Iterable
from os import PathLike
from typing import TYPE_CHECKING, NamedTuple

from pydantic import SecretStr

from mailproviders.backends._smtp_transaction import send_transaction
from mailproviders.backends.base import NOT_GIVEN, BaseEmailBackend, NotGiven
from mailproviders.exceptions import InvalidEmailProvider, record_sent

if TYPE_CHECKING:
    import asyncio

    import aiosmtplib

    from mailproviders.message import EmailMessage

__all__ = ["EmailBackend"]

logger = logging.getLogger("mailproviders")

#: Used when ``timeout=None`` is given: a process blocked forever is never wanted.
DEFAULT_TIMEOUT = 30.0


@functools.cache
def _local_hostname() -> str:
    # smtplib would otherwise look up the FQDN (a DNS query) on every connection.
    return socket.getfqdn()


class _Prepared(NamedTuple):
    """What one message needs on the wire, computed before any connection is made."""

    sender: str
    recipients: list[str]  # SMTP form (IDNA domains), without duplicates
    written: dict[str, list[str]]  # SMTP form -> the addresses as the caller wrote them
    data: bytes
    needs_smtputf8: bool


class Password(SecretStr):
    """The SMTP password: masked like any ``SecretStr`` in ``str()``/``repr()``, yet equal
    to the plain string it holds, as legacy code comparing ``backend.password`` expects."""

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SecretStr):
            other = other.get_secret_value()
        return isinstance(other, str) and self.get_secret_value() == other

    def __hash__(self) -> int:
        return hash(self.get_secret_value())


class EmailBackend(BaseEmailBackend):
    """Send messages through an SMTP server.

    ``port`` defaults to 465 with ``use_ssl`` (implicit TLS), 587 with ``use_tls``
    (STARTTLS, which the server *must* offer) and 25 otherwise. Server certificates are
    verified against ``ssl_cafile`` or the system store; ``ssl_certfile``/``ssl_keyfile``
    add a client certificate. ``timeout=None`` means 30 seconds. Login happens only when
    both ``username`` and ``password`` are set.

    One connection serves all messages of a :meth:`send_messages` call; a connection opened
    with :meth:`open` (or ``with backend:``) serves every call until :meth:`close`. One
    instance may be shared by threads: open, send and close are serialized by a lock.

    The deprecated ``fail_silently=True`` keeps the historical behaviour: an
    ``smtplib.SMTPException`` or ``OSError`` stops the call, which returns the number of
    messages accepted so far instead of raising.

    Raises :class:`~mailproviders.exceptions.InvalidEmailProvider` (option ``use_ssl``)
    when ``use_tls`` and ``use_ssl`` are both true, or (option ``ssl_keyfile``) when a key
    file is given without a certificate file.

    The async methods (:meth:`asend_messages`, :meth:`aopen`, :meth:`aclose`) use
    aiosmtplib when it is installed (``mailproviders[async]``), with the same options,
    TLS rules, results and exceptions (``smtplib`` ones) as the sync methods; without it
    they run the sync methods in a worker thread. The async connection
    (:attr:`async_connection`) is separate from the sync one and guarded by an
    ``asyncio.Lock``.
    """

    #: The open native async connection, or ``None`` (see :meth:`aopen`).
    async_connection: aiosmtplib.SMTP | None = None
    _async_lock_for: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None

    def __init__(
        self,
        *,
        alias: str | None = None,
        host: str = "localhost",
        port: int | None = None,
        username: str | None = None,
        password: str | SecretStr | None = None,
        use_tls: bool = False,
        use_ssl: bool = False,
        timeout: float | None = DEFAULT_TIMEOUT,
        ssl_certfile: str | PathLike[str] | None = None,
        ssl_keyfile: str | PathLike[str] | None = None,
        ssl_cafile: str | PathLike[str] | None = None,
        fail_silently: bool | NotGiven = NOT_GIVEN,
    ) -> None:
        super().__init__(alias=alias, fail_silently=fail_silently)
        if use_tls and use_ssl:
            raise InvalidEmailProvider(
                "use_tls (STARTTLS) and use_ssl (implicit TLS) are mutually exclusive; "
                "set only one of them",
                alias=alias,
                option="use_ssl",
            )
        if ssl_keyfile is not None and ssl_certfile is None:
            raise InvalidEmailProvider(
                "ssl_keyfile requires ssl_certfile", alias=alias, option="ssl_keyfile"
            )
        self.host = host
        self.port = port if port is not None else 465 if use_ssl else 587 if use_tls else 25
        self.username = username
        #: A ``SecretStr``, so that it never shows up when the backend is printed.
        self.password = None if password is None else Password(_reveal(password))
        self.use_tls = use_tls
        self.use_ssl = use_ssl
        self.timeout = DEFAULT_TIMEOUT if timeout is None else timeout
        self.ssl_certfile = ssl_certfile
        self.ssl_keyfile = ssl_keyfile
        self.ssl_cafile = ssl_cafile
        #: The open connection, or ``None``.
        self.connection: smtplib.SMTP | None = None
        self._ssl_context: ssl.SSLContext | None = None
        self._lock = threading.RLock()

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """The verifying TLS context (built once, on first use).

        Raises ``OSError``/``ssl.SSLError`` when a certificate file cannot be loaded.
        """
        if self._ssl_context is None:
            context = ssl.create_default_context(cafile=self.ssl_cafile)
            if self.ssl_certfile is not None:
                context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile)
            self._ssl_context = context
        return self._ssl_context

    def open(self) -> None:
        """Connect, negotiate TLS and log in, unless a connection is already open.

        Raises ``OSError`` (refused, timeout, certificate verification failure),
        ``smtplib.SMTPNotSupportedError`` when ``use_tls`` is set and the server does not
        offer STARTTLS, ``smtplib.SMTPAuthenticationError`` when login fails.
        """
        with self._lock:
            self._open()

    def _open(self) -> bool:
        """Open the connection if needed; return whether this call opened it."""
        if self.connection is not None:
            return False
        try:
            self.connection = self._connect()
        except BaseException as exc:
            self._connect_failed(exc)
            raise
        return True

    def _where(self) -> str:
        return f"{self.host}:{self.port} (provider {self.alias!r})"

    def _connect(self) -> smtplib.SMTP:
        if self.use_ssl:
            connection: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host,
                self.port,
                local_hostname=_local_hostname(),
                timeout=self.timeout,
                context=self.ssl_context,
            )
        else:
            connection = smtplib.SMTP(
                self.host, self.port, local_hostname=_local_hostname(), timeout=self.timeout
            )
        try:
            if self.use_tls:
                self._starttls(connection)
            if self.username and self.password:
                connection.login(self.username, self.password.get_secret_value())
        except BaseException:
            _close_quietly(connection)
            raise
        return connection

    def _starttls(self, connection: smtplib.SMTP) -> None:
        connection.ehlo_or_helo_if_needed()
        if not connection.has_extn("starttls"):
            raise self._starttls_missing()
        connection.starttls(context=self.ssl_context)
        connection.ehlo()

    def close(self) -> None:
        """Say QUIT and close the connection; errors (server already gone) are ignored."""
        with self._lock:
            connection, self.connection = self.connection, None
            if connection is not None:
                _close_quietly(connection)

    def send_messages(self, messages: Iterable[EmailMessage]) -> int:
        """Send ``messages`` and return how many the server accepted.

        Messages without recipients are skipped (not counted). A message accepted for
        some recipients counts as sent; the refused ones are recorded on it as
        ``refused_recipients`` (every attempted message gets that attribute, ``{}`` when
        none was refused) and logged at WARNING. Raises ``ValueError`` for an invalid
        address (before anything is sent for that message),
        ``smtplib.SMTPRecipientsRefused`` when every recipient is refused, and any
        ``smtplib.SMTPException``/``OSError`` from the server; the exception carries
        ``sent_count``/``sent_messages``.
        """
        sent: list[EmailMessage] = []
        with self._lock:
            opened_here = False
            try:
                for message in messages:
                    if not message.recipients():
                        continue
                    prepared = _prepare(message)
                    if self.connection is None:
                        opened_here = self._open()
                    self._deliver(message, prepared)
                    sent.append(message)
            except BaseException as exc:
                silenced = self._send_failed(exc, sent)
                self._drop_if_broken(exc)
                if silenced:
                    return len(sent)
                raise
            finally:
                if opened_here:
                    self.close()
        return len(sent)

    def _drop_if_broken(self, exc: BaseException) -> None:
        # A refusal reply leaves the session usable; a lost connection, a timeout or a
        # protocol error does not, so an explicitly opened connection is dropped and the
        # next call connects afresh.
        connection = self.connection
        if connection is None:
            return
        refusal = isinstance(exc, smtplib.SMTPResponseException | smtplib.SMTPRecipientsRefused)
        if getattr(connection, "sock", None) is None or (isinstance(exc, OSError) and not refusal):
            self.close()

    def _deliver(self, message: EmailMessage, prepared: _Prepared) -> None:
        connection = self.connection
        assert connection is not None
        options: list[str] = []
        if prepared.needs_smtputf8:
            connection.ehlo_or_helo_if_needed()
            if not connection.has_extn("smtputf8"):
                raise self._smtputf8_missing(prepared)
            options.append("SMTPUTF8")
        message.refused_recipients = {}
        try:
            refused = send_transaction(
                connection,
                message,
                sender=prepared.sender,
                recipients=prepared.recipients,
                data=prepared.data,
                options=options,
            )
        except smtplib.SMTPRecipientsRefused as exc:
            message.refused_recipients = _as_written(exc.recipients, prepared.written)
            raise
        if refused:
            self._record_refused(message, refused, prepared)

    # Shared by the sync and async paths.

    def _starttls_missing(self) -> smtplib.SMTPNotSupportedError:
        return smtplib.SMTPNotSupportedError(
            f"the SMTP server {self.host}:{self.port} does not offer STARTTLS, which "
            "use_tls requires; nothing was sent in plain text (use use_ssl for "
            "implicit TLS, or talk to a server that offers STARTTLS)"
        )

    def _smtputf8_missing(self, prepared: _Prepared) -> ValueError:
        address = next(a for a in [prepared.sender, *prepared.recipients] if not a.isascii())
        return ValueError(
            f"address {address!r} has a non-ASCII local part and the SMTP server "
            f"{self.host}:{self.port} does not support SMTPUTF8"
        )

    def _record_refused(
        self, message: EmailMessage, refused: dict[str, tuple[int, bytes]], prepared: _Prepared
    ) -> None:
        """Record the recipients refused by a server that accepted the message; log them."""
        message.refused_recipients = _as_written(refused, prepared.written)
        logger.warning(
            "%s: the SMTP server %s:%s accepted the message but refused %d recipient(s): %s",
            self.alias or "smtp",
            self.host,
            self.port,
            len(message.refused_recipients),
            "; ".join(
                f"{address} ({code} {reply})"
                for address, (code, reply) in message.refused_recipients.items()
            ),
        )

    def _connect_failed(self, exc: BaseException) -> None:
        _add_note(exc, f"raised while connecting to the SMTP server {self._where()}")

    def _send_failed(self, exc: BaseException, sent: list[EmailMessage]) -> bool:
        """Attach ``sent`` (and a timeout note) to ``exc``; return whether the legacy
        ``fail_silently`` swallows it."""
        record_sent(exc, sent)
        if _timed_out(exc):
            _add_note(
                exc,
                f"no reply from the SMTP server {self._where()} within timeout={self.timeout:g} s",
            )
        return self._legacy_fail_silently and isinstance(exc, OSError)

    # The async pair: native with aiosmtplib, else the base class's worker thread.

    async def aopen(self) -> None:
        """Async :meth:`open` (same exceptions); a no-op when already open."""
        if not _native_async():
            await super().aopen()
            return
        from mailproviders.backends import _smtp_async

        async with self._async_lock():
            await _smtp_async.open_connection(self)

    async def aclose(self) -> None:
        """Async :meth:`close`: QUIT and close the async connection, and a sync one opened
        by :meth:`open` too; errors are ignored."""
        if not _native_async():
            await super().aclose()
            return
        from mailproviders.backends import _smtp_async

        async with self._async_lock():
            await _smtp_async.close(self)
        if self.connection is not None:
            import asyncio  # not at module level: sync-only processes never import it

            await asyncio.to_thread(self.close)

    async def asend_messages(self, messages: Iterable[EmailMessage]) -> int:
        """Async :meth:`send_messages`: same result, ``refused_recipients`` and exceptions.

        Cancelling the task mid-send hangs up the connection at once (no half-open
        connection is left); the backend connects afresh on its next use.
        """
        if not _native_async():
            return await super().asend_messages(messages)
        from mailproviders.backends import _smtp_async

        async with self._async_lock():
            return await _smtp_async.send(self, messages)

    def _async_lock(self) -> asyncio.Lock:
        # An asyncio.Lock belongs to one event loop: a backend used again under a new
        # loop (another asyncio.run) gets a new lock, and its old connection is dropped.
        import asyncio

        loop = asyncio.get_running_loop()
        if self._async_lock_for is None or self._async_lock_for[0] is not loop:
            self._async_lock_for = (loop, asyncio.Lock())
            self.async_connection = None
        return self._async_lock_for[1]

    def __repr__(self) -> str:
        tls = "implicit TLS" if self.use_ssl else "STARTTLS" if self.use_tls else "none"
        password = ", password='**********'" if self.password else ""
        return (
            f"<{type(self).__module__}.{type(self).__qualname__} alias={self.alias!r}, "
            f"host={self.host!r}, port={self.port}, username={self.username!r}{password}, "
            f"tls={tls!r}>"
        )


def _native_async() -> bool:
    """Whether aiosmtplib is installed (checked on each call: tests block it on purpose)."""
    try:
        import aiosmtplib  # noqa: F401
    except ImportError:
        return False
    return True


def _reveal(secret: str | SecretStr) -> str:
    return secret.get_secret_value() if isinstance(secret, SecretStr) else secret


def _prepare(message: EmailMessage) -> _Prepared:
    """Validate addresses and serialize ``message``; raises ``ValueError`` when invalid."""
    envelope = message.envelope()
    written: dict[str, list[str]] = {}
    for as_written, smtp_address in envelope.recipients:
        written.setdefault(smtp_address, []).append(as_written)
    recipients = list(written)
    return _Prepared(
        sender=envelope.sender,
        recipients=recipients,
        written=written,
        data=message.as_bytes(linesep="\r\n"),
        needs_smtputf8=not all(a.isascii() for a in [envelope.sender, *recipients]),
    )


def _as_written(
    refused: dict[str, tuple[int, bytes]], written: dict[str, list[str]]
) -> dict[str, tuple[int, str]]:
    result: dict[str, tuple[int, str]] = {}
    for smtp_address, (code, reply) in refused.items():
        for address in written.get(smtp_address, [smtp_address]):
            result[address] = (code, reply.decode("utf-8", "replace"))
    return result


def _timed_out(exc: BaseException) -> bool:
    # smtplib turns a read timeout into SMTPServerDisconnected("... timed out"), chained.
    return isinstance(exc, TimeoutError) or (
        isinstance(exc, smtplib.SMTPServerDisconnected)
        and isinstance(exc.__context__, TimeoutError)
    )


def _add_note(exc: BaseException, note: str) -> None:
    # Not prefixed "mailproviders:": record_sent() replaces the notes that start so.
    if note not in getattr(exc, "__notes__", ()):
        exc.add_note(note)


def _close_quietly(connection: smtplib.SMTP) -> None:
    try:
        connection.quit()
    except OSError:  # includes SMTPException: the server may already have hung up
        pass
    finally:
        connection.close()
