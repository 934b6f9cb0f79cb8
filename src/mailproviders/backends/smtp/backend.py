"""SMTP backend: delivers messages to an SMTP server (plain, STARTTLS or implicit TLS)."""

from __future__ import annotations

import smtplib
import ssl
import threading
from collections.abc import Iterable, Mapping
from os import PathLike
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from mailproviders.backends.base import NOT_GIVEN, BaseEmailBackend, NotGiven
from mailproviders.backends.smtp import pool as pooled
from mailproviders.backends.smtp import session
from mailproviders.backends.smtp.asyncpair import AsyncMethods
from mailproviders.backends.smtp.client import Client, SSLClient
from mailproviders.backends.smtp.session import Password, Prepared
from mailproviders.backends.smtp.transaction import send_transaction
from mailproviders.config.options import smtp_problems
from mailproviders.config.pool_options import SMTPPoolOptions, pool_settings
from mailproviders.config.values import MASKED_REPR
from mailproviders.exceptions import InvalidEmailProvider

if TYPE_CHECKING:
    from mailproviders.message import EmailMessage

__all__ = ["DEFAULT_TIMEOUT", "EmailBackend", "Password"]

#: Used when ``timeout=None`` is given: a process blocked forever is never wanted.
DEFAULT_TIMEOUT = 30.0


class EmailBackend(AsyncMethods, BaseEmailBackend):
    """Send messages through an SMTP server.

    ``port`` defaults to 465 with ``use_ssl`` (implicit TLS), 587 with ``use_tls``
    (STARTTLS, which the server *must* offer) and 25 otherwise. Server certificates are
    verified against ``ssl_cafile`` or the system store; ``ssl_certfile``/``ssl_keyfile``
    add a client certificate. ``timeout=None`` means 30 seconds; it bounds each reply as a
    whole (a server trickling continuation lines cannot stretch it). Login happens only
    when both ``username`` and ``password`` are set; the password is sent as UTF-8 and
    not kept on the connection object.

    ``allow_plaintext_auth`` is the explicit opt-in that configuration needs to log in
    without TLS to a host that is not loopback; that rule is checked where configuration
    is loaded (``configure()``, ``mailproviders check``). A backend built directly in code
    is not checked and does not warn: the caller chose its options explicitly.

    One connection serves all messages of a :meth:`send_messages` call (``max_connections``
    > 1: up to that many, one thread each; the order of acceptance may then differ from
    the input order); connections opened with :meth:`open` (or ``with backend:``), and
    the extra ones a call opens while it is open, serve every call until :meth:`close`.
    One instance may be shared by threads: open, send and close are serialized by a lock.
    ``pipelining`` sends each envelope (MAIL, RCPT..., DATA) in one write when the server
    advertises PIPELINING (RFC 2920). ``pool`` keeps connections open between calls,
    shared by every instance of the alias (:mod:`.pool`, docs/pooling.md).

    The deprecated ``fail_silently=True`` keeps the historical behaviour (see
    docs/backends.md): an ``smtplib.SMTPException`` or ``OSError`` stops the call, which
    returns the number of messages accepted so far instead of raising.

    Raises :class:`~mailproviders.exceptions.InvalidEmailProvider` (option ``use_ssl``)
    when ``use_tls`` and ``use_ssl`` are both true, (option ``ssl_keyfile``) when a key
    file is given without a certificate file, or (option ``host``) when ``host`` holds a
    ``://`` (a DSN or URL given as the host; shown with its password masked).

    The async methods (:meth:`asend_messages`, :meth:`aopen`, :meth:`aclose`) use
    aiosmtplib when it is installed (``mailproviders[async]``), with the same options,
    TLS rules, results and exceptions (``smtplib`` ones) as the sync methods; without it
    they run the sync methods in a worker thread. The async connection
    (:attr:`async_connection`) is separate from the sync one; there is one per event
    loop, each guarded by its own ``asyncio.Lock``, so threads each running their own
    loop (``asyncio.run``) may share the instance.
    """

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
        allow_plaintext_auth: bool = False,
        pipelining: bool = True,
        max_connections: int = 1,
        pool: SMTPPoolOptions | Mapping[str, Any] | bool | None = None,
        fail_silently: bool | NotGiven = NOT_GIVEN,
    ) -> None:
        super().__init__(alias=alias, fail_silently=fail_silently)
        problems = smtp_problems(use_tls, use_ssl, ssl_certfile, ssl_keyfile, host=host)
        for option, problem in problems[:1]:
            raise InvalidEmailProvider(problem, alias=alias, option=option)
        if type(max_connections) is not int or max_connections < 1:
            problem = f"must be an integer >= 1, not {max_connections!r}"
            raise InvalidEmailProvider(problem, alias=alias, option="max_connections")
        try:
            #: The ``pool`` settings (``None``: no pool): see :mod:`.pool`.
            self.pool = pool_settings(pool, max_connections=max_connections)
        except ValueError as exc:
            raise InvalidEmailProvider(str(exc), alias=alias, option="pool") from None
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
        #: Checked where the configuration is loaded, not here (see docs/backends.md).
        self.allow_plaintext_auth = allow_plaintext_auth
        self.pipelining = pipelining
        self.max_connections = max_connections
        #: The extra connections of ``max_connections`` > 1 kept open with :meth:`open`.
        self.extra_connections: list[smtplib.SMTP] = []
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

    def open(self) -> bool:
        """Connect, negotiate TLS and log in, unless a connection is already open; return
        whether this call opened it.

        Raises ``OSError`` (refused, timeout, certificate verification failure),
        ``smtplib.SMTPNotSupportedError`` when ``use_tls`` is set and the server does not
        offer STARTTLS, ``smtplib.SMTPAuthenticationError`` when login fails.
        """
        with self._lock:
            return self._open()

    def _open(self) -> bool:
        """Open the connection if needed; return whether this call opened it."""
        if self.connection is not None:
            return False
        try:
            self.connection = pooled.pool_of(self).borrow(self) if self.pool else self._connect()
        except BaseException as exc:
            session.connect_failed(self, exc)
            raise
        return True

    def _connect(self) -> smtplib.SMTP:
        if self.use_ssl:
            connection: smtplib.SMTP = SSLClient(
                self.host,
                self.port,
                local_hostname=session.local_hostname(),
                timeout=self.timeout,
                context=self.ssl_context,
            )
        else:
            connection = Client(
                self.host, self.port, local_hostname=session.local_hostname(), timeout=self.timeout
            )
        try:
            if self.use_tls:
                self._starttls(connection)
            if self.username and self.password:
                connection.login(self.username, self.password.get_secret_value())
        except BaseException:
            pooled.quit_quietly(connection)
            raise
        return connection

    def _starttls(self, connection: smtplib.SMTP) -> None:
        connection.ehlo_or_helo_if_needed()
        if not connection.has_extn("starttls"):
            raise session.starttls_missing(self)
        connection.starttls(context=self.ssl_context)
        connection.ehlo()

    def close(self) -> None:
        """Say QUIT and close the connection; errors (server already gone) are ignored."""
        with self._lock:
            connection, self.connection = self.connection, None
            extra, self.extra_connections = self.extra_connections, []
            for each in [connection, *extra]:
                if each is not None:
                    (pooled.give_back if self.pool else pooled.quit_quietly)(each)

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
        if self.max_connections > 1 or self.pool:
            from mailproviders.backends.smtp import parallel

            with self._lock:
                return (pooled.send if self.pool else parallel.send)(self, messages)
        sent: list[EmailMessage] = []
        with self._lock:
            opened_here = False
            try:
                for message in messages:
                    if not message.recipients():
                        continue
                    prepared = session.prepare(message)
                    if self.connection is None:
                        opened_here = self._open()
                    assert self.connection is not None
                    self._deliver(self.connection, message, prepared)
                    sent.append(message)
            except BaseException as exc:
                session.send_failed(self, exc, sent)
                self._drop_if_broken(exc)
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

    def _deliver(
        self, connection: smtplib.SMTP, message: EmailMessage, prepared: Prepared
    ) -> None:
        options: list[str] = []
        if prepared.needs_smtputf8:
            connection.ehlo_or_helo_if_needed()
            if not connection.has_extn("smtputf8"):
                raise session.smtputf8_missing(self, prepared)
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
                pipelining=self.pipelining,
            )
        except smtplib.SMTPRecipientsRefused as exc:
            message.refused_recipients = session.as_written(exc.recipients, prepared.written)
            raise
        if refused:
            session.record_refused(self, message, refused, prepared)

    def __repr__(self) -> str:
        tls = "implicit TLS" if self.use_ssl else "STARTTLS" if self.use_tls else "none"
        password = f", password={MASKED_REPR}" if self.password else ""
        return (
            f"<{type(self).__module__}.{type(self).__qualname__} alias={self.alias!r}, "
            f"host={self.host!r}, port={self.port}, username={self.username!r}{password}, "
            f"tls={tls!r}>"
        )


# The public import path (the class is defined in this submodule): reprs, the registry
# and pickling name it mailproviders.backends.smtp.EmailBackend.
EmailBackend.__module__ = "mailproviders.backends.smtp"


def _reveal(secret: str | SecretStr) -> str:
    return secret.get_secret_value() if isinstance(secret, SecretStr) else secret
