"""Real SMTP servers on 127.0.0.1 for the tests (aiosmtpd), one per test, on a free port.

Fixtures (all servers are :class:`SMTPTestServer`, stopped after the test):

- ``smtp_server``: plain SMTP, no TLS, no AUTH.
- ``smtp_starttls_server``: offers STARTTLS (certificate from ``tls_ca``).
- ``smtp_ssl_server``: implicit TLS from the first byte (what ``use_ssl`` expects).
- ``smtp_auth_server``: STARTTLS plus AUTH LOGIN/PLAIN for ``server.username`` /
  ``server.password`` (AUTH is offered only after STARTTLS; it is not required, and
  every attempt is counted in ``server.auth_attempts``).
- ``tls_ca``: a session-wide trustme CA, :class:`TLSCertificates` (``ca_file`` is its PEM).
- ``fault_smtp_server``: a factory, ``fault_smtp_server(**faults)``, for servers that
  misbehave on purpose (see :func:`fault_smtp_server` for the knobs); it also builds any
  of the servers above with ``tls=``/``auth=``.
- ``scripted_smtp_server``: a factory, ``scripted_smtp_server(script)``, for a plain
  socket server whose every connection runs ``script(conn)`` (a
  :class:`ScriptedConnection`): for replies no SMTP library would send (trickled
  continuation lines, garbage, oversized lines, a hang-up before 354).
- ``postfix_server``: a real Postfix (Debian package) on 127.0.0.1 with a small
  ``smtpd_recipient_limit``, discarding every message (:class:`PostfixServer`).
- ``pipelining_server``: a factory for an own asyncio server (:class:`PipeliningServer`)
  that advertises PIPELINING (or not) and records which commands arrived in each read.
- ``smtp_sink``: Postfix's ``smtp-sink`` counting what it receives (:class:`SMTPSink`).

Typical use::

    def test_send(smtp_server):
        backend = EmailBackend(**smtp_server.options())
        backend.send_messages([message])
        assert smtp_server.messages[0].parsed()["Subject"] == "Hi"
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.message
import email.policy
import os
import pwd
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

if TYPE_CHECKING:
    from mailproviders.backends.smtp import EmailBackend
    from mailproviders.message import EmailMessage

TLSMode = Literal["none", "starttls", "ssl"]
#: ``send(backend, messages)``: the sync or async path of an SMTP backend (the ``send``
#: fixture of tests/backends/smtp/conftest.py).
Send = Callable[["EmailBackend", Iterable["EmailMessage"]], int]


def sync_send(backend: EmailBackend, messages: Iterable[EmailMessage]) -> int:
    """The sync path of ``send``."""
    return backend.send_messages(messages)


def async_send(backend: EmailBackend, messages: Iterable[EmailMessage]) -> int:
    """The async path of ``send``, in a new event loop."""
    return asyncio.run(backend.asend_messages(messages))


USERNAME = "mailer"
PASSWORD = "s3cret-passw0rd"


@dataclass(frozen=True)
class TLSCertificates:
    """A test CA (``ca``), its certificate as a PEM file (``ca_file``) and a server
    certificate for ``127.0.0.1``/``localhost``."""

    ca: trustme.CA
    ca_file: Path
    server_cert: trustme.LeafCert

    def server_context(self, *, require_client_cert: bool = False) -> ssl.SSLContext:
        """A server-side context presenting the server certificate; optionally it also
        demands a client certificate signed by this CA."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.server_cert.configure_cert(context)
        if require_client_cert:
            self.ca.configure_trust(context)
            context.verify_mode = ssl.CERT_REQUIRED
        return context


def make_certificates(directory: Path) -> TLSCertificates:
    """Create a new CA (writing its PEM into ``directory``) and a server certificate."""
    ca = trustme.CA()
    ca_file = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return TLSCertificates(ca, ca_file, ca.issue_cert("127.0.0.1", "localhost"))


@dataclass(frozen=True)
class ReceivedMessage:
    """One message as the server received it: the SMTP envelope and the raw data."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    mail_options: list[str]

    @property
    def smtputf8(self) -> bool:
        """Whether the client sent ``MAIL FROM`` with the SMTPUTF8 parameter."""
        return "SMTPUTF8" in self.mail_options

    def parsed(self) -> email.message.EmailMessage:
        """The data parsed by the standard library (modern ``email.policy.default``), with
        the wire's CRLF line endings turned into ``\\n`` as a mailbox file would store them."""
        data = self.data.replace(b"\r\n", b"\n")
        message = email.message_from_bytes(data, policy=email.policy.default)
        assert isinstance(message, email.message.EmailMessage)
        return message


@dataclass
class Faults:
    """What a fault-injecting server does wrong. Counts are 1-based and server-wide."""

    refuse_rcpt: frozenset[str] = frozenset()  # answer 550 to RCPT TO these addresses
    mail_reply: str | None = None  # e.g. "451 4.3.0 try later" or "421 4.3.2 shutting down"
    mail_reply_at: int | None = None  # which MAIL FROM gets mail_reply (None: every one)
    drop_after_data_at: int | None = None  # hang up after this message's data, no reply
    stall_at: Literal["MAIL", "DATA"] | None = None  # never answer this command
    stall_at_number: int | None = None  # stall only the Nth such command (None: every one)
    drop_at_quit: bool = False  # hang up on QUIT without the 221 reply
    rcpt_limit: int | None = None  # 452 to RCPT once a transaction has this many


@dataclass
class SMTPTestServer:
    """A running aiosmtpd server and what it has seen.

    ``messages`` holds every accepted message in order; ``connection_count``,
    ``mail_count`` (MAIL FROM commands, accepted or not) and ``auth_attempts`` are
    updated under a lock by the server thread.
    """

    tls: TLSMode
    certificates: TLSCertificates | None
    username: str | None = None
    password: str | None = None
    host: str = "127.0.0.1"
    port: int = 0
    messages: list[ReceivedMessage] = field(default_factory=list)
    connection_count: int = 0
    mail_count: int = 0
    data_count: int = 0
    auth_attempts: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _stop: Callable[[], None] | None = field(default=None, repr=False)

    def stop(self) -> None:
        """Stop the server now (hanging up on connected clients); safe to call twice."""
        stop, self._stop = self._stop, None
        if stop is not None:
            stop()

    def count(self, name: str) -> int:
        """Increment the counter ``name`` under the lock and return its new value."""
        with self._lock:
            value: int = getattr(self, name) + 1
            setattr(self, name, value)
            return value

    def reset_counters(self) -> None:
        """Forget connections and messages seen so far."""
        with self._lock:
            self.connection_count = self.mail_count = self.data_count = 0
            self.auth_attempts = 0
            self.messages.clear()

    def options(self, **extra: Any) -> dict[str, Any]:
        """OPTIONS for ``mailproviders.backends.smtp.EmailBackend`` to reach this server
        (TLS verified against the test CA, credentials for an AUTH server), plus
        ``extra``; a 10 s timeout keeps a broken test from hanging long."""
        options: dict[str, Any] = {"host": self.host, "port": self.port, "timeout": 10.0}
        if self.tls != "none":
            assert self.certificates is not None
            options["ssl_cafile"] = str(self.certificates.ca_file)
            options["use_tls" if self.tls == "starttls" else "use_ssl"] = True
        if self.username is not None:
            options.update(username=self.username, password=self.password)
        options.update(extra)
        return options


class _Handler:
    """aiosmtpd handler: records messages and injects the configured faults."""

    def __init__(self, server: SMTPTestServer, faults: Faults) -> None:
        self.server = server
        self.faults = faults

    async def handle_MAIL(
        self, server: SMTP, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        number = self.server.count("mail_count")
        if self._stalls("MAIL", number):
            await _forever()
        reply = self.faults.mail_reply
        if reply is not None and self.faults.mail_reply_at in (None, number):
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.faults.refuse_rcpt:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        limit = self.faults.rcpt_limit
        if limit is not None and len(envelope.rcpt_tos) >= limit:
            return "452 4.5.3 Error: too many recipients"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        number = self.server.count("data_count")
        if self._stalls("DATA", number):
            await _forever()
        if self.faults.drop_after_data_at == number:
            assert server.transport is not None
            server.transport.close()
            await _forever()  # cancelled when the connection is lost
        received = ReceivedMessage(
            envelope.mail_from,
            list(envelope.rcpt_tos),
            bytes(envelope.original_content),
            list(envelope.mail_options),
        )
        with self.server._lock:
            self.server.messages.append(received)
        return "250 Message accepted for delivery"

    async def handle_QUIT(self, server: SMTP, session: Any, envelope: Any) -> str:
        if self.faults.drop_at_quit:
            assert server.transport is not None
            server.transport.close()
            await _forever()  # cancelled when the connection is lost
        return "221 Bye"

    def _stalls(self, command: str, number: int) -> bool:
        at = self.faults.stall_at_number
        return self.faults.stall_at == command and at in (None, number)


async def _forever() -> None:
    await asyncio.Event().wait()


class _Controller(Controller):  # type: ignore[misc]
    """Listens on a free port chosen by the OS and counts connections."""

    def __init__(self, server: SMTPTestServer, handler: _Handler, **kwargs: Any) -> None:
        super().__init__(handler, hostname=server.host, port=0, **kwargs)
        self.test_server = server

    def factory(self) -> SMTP:
        self.test_server.count("connection_count")
        return super().factory()

    def _trigger_server(self) -> None:
        # The listening socket exists now: learn the port before the start-up probe.
        self.port = self.server.sockets[0].getsockname()[1]
        self.test_server.port = self.port
        super()._trigger_server()


def _authenticator(server: SMTPTestServer) -> Callable[..., AuthResult]:
    def authenticate(
        smtp: SMTP, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        server.count("auth_attempts")
        ok = isinstance(data, LoginPassword) and (
            data.login.decode(),
            data.password.decode(),
        ) == (server.username, server.password)
        return AuthResult(success=ok, handled=False)

    return authenticate


def start_server(
    certificates: TLSCertificates | None,
    *,
    tls: TLSMode = "none",
    auth: bool = False,
    smtputf8: bool = True,
    require_client_cert: bool = False,
    faults: Faults | None = None,
) -> SMTPTestServer:
    """Start a server thread; the caller must ``server.stop()`` it."""
    server = SMTPTestServer(tls, certificates)
    kwargs: dict[str, Any] = {"enable_SMTPUTF8": smtputf8, "ready_timeout": 10.0}
    if tls != "none":
        assert certificates is not None
        context = certificates.server_context(require_client_cert=require_client_cert)
        kwargs["ssl_context" if tls == "ssl" else "tls_context"] = context
    if auth:
        server.username, server.password = USERNAME, PASSWORD
        kwargs.update(authenticator=_authenticator(server), auth_require_tls=tls != "none")
    controller = _Controller(server, _Handler(server, faults or Faults()), **kwargs)
    controller.start()
    server._stop = controller.stop
    server.reset_counters()  # the start-up probe is not a client connection
    return server


@pytest.fixture(scope="session")
def tls_ca(tmp_path_factory: pytest.TempPathFactory) -> TLSCertificates:
    """The test CA; ``tls_ca.ca_file`` is the path to give as ``ssl_cafile``."""
    return make_certificates(tmp_path_factory.mktemp("tls"))


ServerFactory = Callable[..., SMTPTestServer]


@pytest.fixture
def fault_smtp_server(tls_ca: TLSCertificates) -> Iterator[ServerFactory]:
    """Factory: ``fault_smtp_server(**knobs)`` starts a server, stopped after the test.

    Knobs: ``refuse_rcpt=["a@x"]`` (550 to those RCPTs), ``mail_reply="451 ..."`` with
    ``mail_reply_at=N`` (that reply to the Nth MAIL FROM; every one when omitted),
    ``drop_after_data_at=N`` (close the connection after receiving the Nth message's
    data, before replying; it is not recorded), ``stall_at="MAIL"|"DATA"`` (never reply;
    with ``stall_at_number=N`` only to the Nth such command), ``drop_at_quit=True`` (hang
    up on QUIT instead of answering 221),
    ``tls="none"|"starttls"|"ssl"`` (default none: STARTTLS is not offered), ``auth=True``,
    ``smtputf8=False`` (do not offer SMTPUTF8), ``require_client_cert=True`` (TLS only),
    ``certificates=`` (another :class:`TLSCertificates`, e.g. from an untrusted CA).
    """
    servers: list[SMTPTestServer] = []

    def make(
        *,
        refuse_rcpt: Iterable[str] = (),
        mail_reply: str | None = None,
        mail_reply_at: int | None = None,
        drop_after_data_at: int | None = None,
        stall_at: Literal["MAIL", "DATA"] | None = None,
        stall_at_number: int | None = None,
        drop_at_quit: bool = False,
        rcpt_limit: int | None = None,
        certificates: TLSCertificates | None = None,
        **kwargs: Any,
    ) -> SMTPTestServer:
        faults = Faults(
            frozenset(refuse_rcpt),
            mail_reply,
            mail_reply_at,
            drop_after_data_at,
            stall_at,
            stall_at_number,
            drop_at_quit,
            rcpt_limit,
        )
        server = start_server(certificates or tls_ca, faults=faults, **kwargs)
        servers.append(server)
        return server

    try:
        yield make
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def smtp_server(fault_smtp_server: ServerFactory) -> SMTPTestServer:
    """A plain SMTP server (no TLS, no AUTH, STARTTLS not offered)."""
    return fault_smtp_server()


@pytest.fixture
def smtp_starttls_server(fault_smtp_server: ServerFactory) -> SMTPTestServer:
    """A server offering STARTTLS with a certificate from ``tls_ca``."""
    return fault_smtp_server(tls="starttls")


@pytest.fixture
def smtp_ssl_server(fault_smtp_server: ServerFactory) -> SMTPTestServer:
    """A server speaking TLS from the first byte (implicit TLS, ``use_ssl``)."""
    return fault_smtp_server(tls="ssl")


@pytest.fixture
def smtp_auth_server(fault_smtp_server: ServerFactory) -> SMTPTestServer:
    """STARTTLS plus AUTH LOGIN/PLAIN for ``server.username``/``server.password``."""
    return fault_smtp_server(tls="starttls", auth=True)


# --- scripted servers: raw sockets, for replies no SMTP library would send ---------------


class ScriptedConnection:
    """One client connection of a scripted server, with helpers for the script."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.file = sock.makefile("rb")

    def reply(self, line: str | bytes) -> None:
        """Send ``line`` and CRLF."""
        data = line.encode() if isinstance(line, str) else line
        self.sock.sendall(data + b"\r\n")

    def command(self) -> bytes:
        """The next command line, without its CRLF (``b""`` when the client hung up)."""
        return self.file.readline(65536).rstrip(b"\r\n")

    def until(self, verb: str, *, greeting: str = "220 scripted ready") -> bytes:
        """Greet (unless ``greeting`` is empty), then answer every command with 250 (EHLO
        offers SIZE and 8BITMIME) until the client sends ``verb``; return that command
        line (``b""`` if the client hung up first)."""
        if greeting:
            self.reply(greeting)
        while line := self.command():
            if line.upper().startswith(verb.encode()):
                return line
            if line.upper().startswith(b"EHLO"):
                self.reply("250-scripted\r\n250-SIZE 1000000000\r\n250 8BITMIME")
            elif line.upper().startswith(b"QUIT"):
                self.reply("221 bye")
                return b""
            else:
                self.reply("250 ok")
        return b""

    def read_data(self) -> int:
        """Read message data up to the lone dot, discarding it; return its size."""
        size = 0
        while (line := self.file.readline(65536)) not in (b".\r\n", b""):
            size += len(line)
        return size


Script = Callable[[ScriptedConnection], None]


@dataclass
class ScriptedServer:
    """A scripted server listening on ``host:port``."""

    host: str
    port: int
    connections: int = 0

    def options(self, **extra: Any) -> dict[str, Any]:
        """OPTIONS reaching this server (plain SMTP), plus ``extra``."""
        return {"host": self.host, "port": self.port, "timeout": 10.0, **extra}


def _serve_scripted(
    listener: socket.socket, server: ScriptedServer, script: Script, clients: list[socket.socket]
) -> None:
    def run(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):  # the client hung up: the script ends
            script(ScriptedConnection(sock))
        with contextlib.suppress(OSError):
            sock.close()

    while True:
        try:
            sock, _ = listener.accept()
        except OSError:  # the listener was closed: the test is over
            return
        server.connections += 1
        clients.append(sock)
        threading.Thread(target=run, args=(sock,), daemon=True).start()


@pytest.fixture
def scripted_smtp_server() -> Iterator[Callable[[Script], ScriptedServer]]:
    """Factory: ``scripted_smtp_server(script)`` listens on 127.0.0.1 and runs
    ``script(conn)`` in a thread per connection; closed after the test."""
    listeners: list[socket.socket] = []
    clients: list[socket.socket] = []

    def make(script: Script) -> ScriptedServer:
        listener = socket.create_server(("127.0.0.1", 0))
        listeners.append(listener)
        server = ScriptedServer("127.0.0.1", listener.getsockname()[1])
        args = (listener, server, script, clients)
        threading.Thread(target=_serve_scripted, args=args, daemon=True).start()
        return server

    try:
        yield make
    finally:
        for sock in [*listeners, *clients]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


# --- a real Postfix ---------------------------------------------------------------------
#
# ``postfix_server`` writes a minimal main.cf/master.cf into a fresh directory (loopback
# only, a free port, every message discarded, ``smtpd_recipient_limit`` small, queue,
# data and log in that directory), starts it with ``postfix -c DIR start`` and stops it
# after the test; scripts/test installs the Debian package when it is missing. The
# directory comes from ``tempfile``, not ``tmp_path``: Postfix's daemons run as the
# ``postfix`` user, who cannot enter pytest's private (0700) temporary root.

POSTFIX_RECIPIENT_LIMIT = 5

_MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mailproviders-test.localdomain
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
default_transport = discard
relay_transport = discard
local_transport = discard
smtpd_recipient_limit = {limit}
smtputf8_enable = yes
maillog_file = {root}/maillog
maillog_file_prefixes = {root}
"""

# service type private unpriv chroot wakeup maxproc command
_MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
smtp unix - - n - - smtp
relay unix - - n - - smtp
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
"""

_DELIVERED = re.compile(r"postfix/discard\[\d+\]: (\w+): to=<([^>]+)>.*status=sent")


@dataclass
class PostfixServer:
    """A running Postfix: ``host``/``port`` of its smtpd, ``root`` its directory."""

    root: Path
    port: int
    host: str = "127.0.0.1"
    recipient_limit: int = POSTFIX_RECIPIENT_LIMIT

    def options(self, **extra: Any) -> dict[str, Any]:
        """OPTIONS reaching this server (plain SMTP), plus ``extra``."""
        return {"host": self.host, "port": self.port, "timeout": 10.0, **extra}

    def log(self) -> str:
        path = self.root / "maillog"
        return path.read_text(errors="replace") if path.exists() else ""

    def deliveries(self, expected: int, *, wait: float = 30.0) -> dict[str, set[str]]:
        """Queue id -> recipients Postfix delivered (discarded), once ``expected``
        recipients are logged (delivery is asynchronous) or ``wait`` seconds passed."""
        end = time.monotonic() + wait
        while True:
            found: dict[str, set[str]] = {}
            for queue_id, recipient in _DELIVERED.findall(self.log()):
                found.setdefault(queue_id, set()).add(recipient)
            if sum(map(len, found.values())) >= expected or time.monotonic() > end:
                return found
            time.sleep(0.05)


def _postfix_command() -> str:
    return shutil.which("postfix") or "/usr/sbin/postfix"  # root's PATH may lack sbin


def _postfix(config: Path, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_postfix_command(), "-c", str(config), command],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def postfix_server() -> Iterator[PostfixServer]:
    """A Postfix started for this test (see the module docstring), stopped after it."""
    assert Path(_postfix_command()).exists(), "postfix is not installed (scripts/test does it)"
    assert os.geteuid() == 0, "postfix start needs root"
    root = Path(tempfile.mkdtemp(prefix="mailproviders-postfix-"))
    root.chmod(0o755)
    for name in ("conf", "queue", "data"):
        (root / name).mkdir()
    owner = pwd.getpwnam("postfix")
    os.chown(root / "data", owner.pw_uid, owner.pw_gid)
    server = PostfixServer(root, _free_port())
    (root / "conf" / "main.cf").write_text(
        _MAIN_CF.format(root=root, limit=POSTFIX_RECIPIENT_LIMIT)
    )
    (root / "conf" / "master.cf").write_text(_MASTER_CF.format(port=server.port))
    started = _postfix(root / "conf", "start")
    try:
        assert started.returncode == 0, f"postfix start failed:\n{server.log()}"
        with socket.create_connection((server.host, server.port), timeout=10):
            pass  # the master listens once start returns
        yield server
    finally:
        _postfix(root / "conf", "stop")
        shutil.rmtree(root, ignore_errors=True)


# --- PIPELINING (RFC 2920): an own asyncio server that records what arrived per read ---

_MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(\S+)", re.IGNORECASE | re.MULTILINE)


@dataclass
class PipeliningServer:
    """An asyncio SMTP server on 127.0.0.1 that advertises PIPELINING (unless
    ``pipelining=False``) and records, per connection, the command verbs that arrived in
    each read (``reads[connection][read]``): several in one read prove pipelining.

    Faults: ``refuse`` - RCPT addresses answered 550; ``drop_after_data`` - the n-th
    message (counted over all connections, from 1) is received whole, then the connection
    is closed without a reply (the message is kept in ``unanswered``). Accepted messages'
    data are in ``accepted`` (with ``keep=False`` only counted, in ``accepted_count``).
    """

    pipelining: bool = True
    refuse: frozenset[str] = frozenset()
    drop_after_data: int | None = None
    keep: bool = True
    host: str = "127.0.0.1"
    port: int = 0
    reads: list[list[list[str]]] = field(default_factory=list)
    accepted: list[bytes] = field(default_factory=list)
    accepted_count: int = 0
    unanswered: list[bytes] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def options(self, **extra: Any) -> dict[str, Any]:
        """OPTIONS reaching this server (plain SMTP), plus ``extra``."""
        return {"host": self.host, "port": self.port, "timeout": 10.0, **extra}

    def message_ids(self, messages: Iterable[bytes] | None = None) -> list[str]:
        """The Message-IDs of ``messages`` (default: the accepted ones), in order."""
        found = [_MESSAGE_ID.search(data) for data in (messages or self.accepted)]
        return [match.group(1).decode() for match in found if match]

    def envelope_reads(self) -> list[list[str]]:
        """The reads that carried a MAIL command, over all connections."""
        return [verbs for reads in self.reads for verbs in reads if "MAIL" in verbs]


class _PipeliningSession(asyncio.Protocol):
    def __init__(self, server: PipeliningServer) -> None:
        self.server = server
        self.buffer = bytearray()
        self.data: bytearray | None = None
        self.recipients = 0
        self.mail = False
        self.reads: list[list[str]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        with self.server.lock:
            self.server.reads.append(self.reads)
        transport.write(b"220 pipelining test server\r\n")

    def data_received(self, data: bytes) -> None:
        verbs: list[str] = []
        self.reads.append(verbs)
        self.buffer += data
        while not self.transport.is_closing():
            if self.data is not None:
                if not self._take_data():
                    return
                continue
            end = self.buffer.find(b"\r\n")
            if end < 0:
                return
            line = bytes(self.buffer[:end])
            del self.buffer[: end + 2]
            verb = line.split(b" ", 1)[0].split(b":", 1)[0].upper().decode("ascii", "replace")
            verbs.append(verb)
            self.transport.write(self._answer(verb, line))

    def _answer(self, verb: str, line: bytes) -> bytes:
        if verb == "EHLO":
            extensions = ["PIPELINING"] if self.server.pipelining else []
            lines = ["pipes", *extensions, "8BITMIME", "SMTPUTF8", "SIZE 100000000"]
            return "".join(
                f"250{' ' if i == len(lines) - 1 else '-'}{text}\r\n"
                for i, text in enumerate(lines)
            ).encode()
        if verb == "MAIL":
            self.mail, self.recipients = True, 0
            return b"250 sender ok\r\n"
        if verb == "RCPT":
            address = line.split(b"<", 1)[-1].split(b">", 1)[0].decode("utf-8", "replace")
            if not self.mail:
                return b"503 need MAIL first\r\n"
            if address in self.server.refuse:
                return b"550 no such user here\r\n"
            self.recipients += 1
            return b"250 recipient ok\r\n"
        if verb == "DATA":
            if not self.recipients:
                return b"554 no valid recipients\r\n"
            self.data = bytearray(b"\r\n")  # so that an empty message ends at index 0
            return b"354 go ahead\r\n"
        if verb in ("RSET", "HELO", "NOOP"):
            self.mail, self.recipients = False, 0
            return b"250 ok\r\n"
        if verb == "QUIT":
            self.transport.write(b"221 bye\r\n")
            self.transport.close()
            return b""
        return b"502 not implemented\r\n"

    def _take_data(self) -> bool:
        assert self.data is not None
        start = max(0, len(self.data) - 4)
        self.data += self.buffer
        self.buffer.clear()
        end = self.data.find(b"\r\n.\r\n", start)
        if end < 0:
            return False
        message = bytes(self.data[2 : end + 2])
        self.buffer += self.data[end + 5 :]
        self.data, self.mail, self.recipients = None, False, 0
        server = self.server
        with server.lock:
            number = server.accepted_count + len(server.unanswered) + 1
            if number == server.drop_after_data:
                server.unanswered.append(message)
                self.transport.abort()
                return False
            server.accepted_count += 1
            if server.keep:
                server.accepted.append(message)
        self.transport.write(b"250 queued\r\n")
        return True


@pytest.fixture
def pipelining_server() -> Iterator[Callable[..., PipeliningServer]]:
    """Factory: ``pipelining_server(pipelining=True, refuse=..., drop_after_data=...,
    keep=True)`` starts a :class:`PipeliningServer` in its own thread and event loop;
    all are stopped after the test."""
    stops: list[Callable[[], None]] = []

    def make(**settings: Any) -> PipeliningServer:
        server = PipeliningServer(**settings)
        loop = asyncio.new_event_loop()
        started = threading.Event()

        async def serve() -> asyncio.base_events.Server:
            listener = await loop.create_server(lambda: _PipeliningSession(server), server.host, 0)
            server.port = listener.sockets[0].getsockname()[1]
            return listener

        def run() -> None:
            asyncio.set_event_loop(loop)
            holder.append(loop.run_until_complete(serve()))
            started.set()
            loop.run_forever()

        holder: list[asyncio.base_events.Server] = []
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        assert started.wait(10)

        def stop() -> None:
            loop.call_soon_threadsafe(holder[0].close)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)

        stops.append(stop)
        return server

    yield make
    for stop in stops:
        stop()


# --- Postfix's smtp-sink: an independent sink that advertises PIPELINING and counts ---


@dataclass
class SMTPSink:
    """A running ``smtp-sink -c`` (Postfix) on ``host:port``; :meth:`count` reads its
    message counter."""

    port: int
    output: Path
    host: str = "127.0.0.1"

    def options(self, **extra: Any) -> dict[str, Any]:
        """OPTIONS reaching this sink (plain SMTP), plus ``extra``."""
        return {"host": self.host, "port": self.port, "timeout": 10.0, **extra}

    def count(self, expected: int = 0, *, wait: float = 30.0) -> int:
        """Messages the sink received (``mesg=`` of its last counter line), once it reaches
        ``expected`` or ``wait`` seconds passed."""
        end = time.monotonic() + wait
        while True:
            found = re.findall(rb"mesg=(\d+)", self.output.read_bytes())
            count = int(found[-1]) if found else 0
            if count >= expected or time.monotonic() > end:
                return count
            time.sleep(0.05)


@pytest.fixture
def smtp_sink(tmp_path: Path) -> Iterator[SMTPSink]:
    """Postfix's ``smtp-sink`` (Debian package ``postfix``, which scripts/test installs)
    on 127.0.0.1, counting the messages it receives; stopped after the test."""
    command = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    assert Path(command).exists(), "smtp-sink is not installed (scripts/test installs postfix)"
    sink = SMTPSink(_free_port(), tmp_path / "smtp-sink.out")
    privileges = ["-u", "postfix"] if os.geteuid() == 0 else []
    with sink.output.open("wb") as output:
        process = subprocess.Popen(
            [command, *privileges, "-c", f"{sink.host}:{sink.port}", "64"],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        end = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection((sink.host, sink.port), timeout=10) as probe:
                    probe.recv(100)
                    probe.sendall(b"QUIT\r\n")
                break
            except OSError:
                assert process.poll() is None, sink.output.read_text(errors="replace")
                assert time.monotonic() < end, "smtp-sink did not start"
                time.sleep(0.05)
        yield sink
    finally:
        process.terminate()
        process.wait(10)
