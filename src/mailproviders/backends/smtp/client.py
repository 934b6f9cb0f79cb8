"""The sync SMTP connection: ``smtplib.SMTP`` with a deadline per reply and UTF-8 AUTH.

``smtplib`` applies its timeout to each read of the socket, so a server that sends a
continuation line (``220-wait``) now and then keeps a client waiting for ever. Here a
reply must be complete within ``timeout`` seconds of the moment its command went out (or
of connecting, for the greeting); a reply that cannot be parsed, or a line longer than
RFC 5321 allows, ends the session with :func:`.session.protocol_error`.

:meth:`Client.login` encodes the credentials as UTF-8 (RFC 4616 for PLAIN; LOGIN and
CRAM-MD5 do the same, as aiosmtplib does) and keeps no copy of the password on the
connection object.
"""

from __future__ import annotations

import base64
import hmac
import smtplib
import socket
import time
from typing import Any, Final

from mailproviders.backends.smtp import session

__all__ = ["Client", "SSLClient"]

#: A longer reply line is a protocol error (RFC 5321 allows 512 octets; smtplib 8192).
MAX_LINE: Final = 8192
_AUTH_OK: Final = (235, 503)  # 503: already authenticated
_MAX_CHALLENGES: Final = 5


class _Deadlines(smtplib.SMTP):
    """The behaviour shared by :class:`Client` and :class:`SSLClient`."""

    _received: bytearray
    _received_on: object = None
    _reply_deadline: float | None = None

    def send(self, s: Any) -> None:
        super().send(s)
        self._reply_deadline = time.monotonic() + float(self.timeout)

    def getreply(self) -> tuple[int, bytes]:
        deadline = self._reply_deadline
        if deadline is None:  # the greeting: counted from the connection
            deadline = time.monotonic() + float(self.timeout)
        self._reply_deadline = None
        lines: list[bytes] = []
        while True:
            line = self._read_line(deadline)
            lines.append(line[4:].strip(b" \t\r\n"))
            if not session.reply_line_ok(line):
                self.close()
                raise session.protocol_error("cannot be parsed", line)
            if line[3:4] != b"-":
                return int(line[:3]), b"\n".join(lines)

    def _read_line(self, deadline: float) -> bytes:
        sock = self.sock
        if sock is None:
            raise smtplib.SMTPServerDisconnected("please run connect() first")
        if self._received_on is not sock:  # a new socket (connect, STARTTLS): no leftovers
            self._received, self._received_on = bytearray(), sock
        buffer = self._received
        while (end := buffer.find(b"\n", 0, MAX_LINE + 1)) < 0:
            if len(buffer) > MAX_LINE:
                self.close()
                raise session.protocol_error("has a line that is too long", buffer)
            chunk = self._receive(sock, deadline)
            if not chunk:
                self.close()
                raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
            buffer += chunk
        line = bytes(buffer[: end + 1])
        del buffer[: end + 1]
        return line

    def _receive(self, sock: socket.socket, deadline: float) -> bytes:
        """What the socket has, waiting no longer than ``deadline``."""
        try:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("timed out")
            sock.settimeout(remaining)
            try:
                return sock.recv(65536)
            finally:
                sock.settimeout(self.timeout)
        except OSError as exc:  # as smtplib reports it (a timeout is chained to it)
            self.close()
            raise smtplib.SMTPServerDisconnected(f"Connection unexpectedly closed: {exc}") from exc

    def login(
        self, user: str, password: str, *, initial_response_ok: bool = True
    ) -> tuple[int, bytes]:
        """Authenticate with CRAM-MD5, PLAIN or LOGIN (the first the server offers that
        succeeds); raises ``SMTPAuthenticationError``/``SMTPNotSupportedError``/
        ``SMTPException`` like ``smtplib``, never with the password in it."""
        self.ehlo_or_helo_if_needed()
        if not self.has_extn("auth"):
            raise smtplib.SMTPNotSupportedError("SMTP AUTH extension not supported by server.")
        offered = self.esmtp_features["auth"].upper().split()
        mechanisms = [m for m in ("CRAM-MD5", "PLAIN", "LOGIN") if m in offered]
        if not mechanisms:
            raise smtplib.SMTPException("No suitable authentication method found.")
        secret = (user.encode(), password.encode())
        failure: smtplib.SMTPAuthenticationError | None = None
        for mechanism in mechanisms:
            try:
                return self._authenticate(mechanism, *secret)
            except smtplib.SMTPAuthenticationError as exc:
                failure = exc
        assert failure is not None
        raise failure

    def _authenticate(self, mechanism: str, user: bytes, password: bytes) -> tuple[int, bytes]:
        if mechanism == "PLAIN":
            code, reply = self.docmd("AUTH", "PLAIN " + _b64(b"\0" + user + b"\0" + password))
        else:
            code, reply = self.docmd("AUTH", mechanism)
        answers = 0
        while code == 334 and answers < _MAX_CHALLENGES:
            answers += 1
            challenge = base64.b64decode(reply)
            if mechanism == "CRAM-MD5":
                digest = hmac.new(password, challenge, "md5").hexdigest().encode()
                answer = user + b" " + digest
            elif mechanism == "LOGIN":
                answer = user if answers == 1 else password
            else:
                answer = b""
            code, reply = self.docmd(_b64(answer))
        if code in _AUTH_OK:
            return code, reply
        raise smtplib.SMTPAuthenticationError(code, reply)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class Client(_Deadlines):
    """``smtplib.SMTP`` with the deadline and AUTH of this module."""


class SSLClient(_Deadlines, smtplib.SMTP_SSL):
    """``smtplib.SMTP_SSL`` (implicit TLS) with the deadline and AUTH of this module."""
