"""The host name used in Message-IDs, looked up lazily and once; Date values."""

from __future__ import annotations

import contextlib
import email.utils
import re
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from mailproviders.message.addresses import idna_domain

__all__ = ["DNS_NAME", "CachedDnsName", "format_date", "make_msgid"]


def format_date(use_localtime: bool) -> str:
    """The current time as an RFC 5322 date, in the process time zone or in UTC."""
    now = datetime.now().astimezone() if use_localtime else datetime.now(UTC)
    return email.utils.format_datetime(now)


def _ascii_hostname(name: str) -> str:
    name = name.strip().rstrip(".")
    try:
        name = idna_domain(name)
    except ValueError:
        return "localhost"
    return name if re.fullmatch(r"[A-Za-z0-9._-]+", name) else "localhost"


def _local_hostname() -> str:
    try:
        return socket.gethostname() or "localhost"
    except OSError:
        return "localhost"


class CachedDnsName:
    """The host's fully-qualified name, looked up once on first use and cached.

    The lookup (``resolve``, by default :func:`socket.getfqdn`) runs in a daemon
    thread; if it has not answered within ``timeout`` seconds or fails, the local
    host name (or ``localhost``) is used instead, so a send never waits long.
    Non-ASCII names are IDNA-encoded. Never raises.
    """

    #: Deleting the instance's cached name (``del DNS_NAME._fqdn``, as Django's tests do)
    #: falls back to this and makes the next use look the name up again.
    _fqdn: str | None = None

    def __init__(self, resolve: Callable[[], str] | None = None, timeout: float = 1.0):
        # None: socket.getfqdn as it is at lookup time (so that tests can patch it).
        self._resolve = resolve
        self._timeout = timeout
        self._lock = threading.Lock()
        self._fqdn: str | None = None

    def __str__(self) -> str:
        return self.get_fqdn()

    def __repr__(self) -> str:
        return f"<CachedDnsName {self._fqdn or '(not looked up yet)'}>"

    def get_fqdn(self) -> str:
        """The cached name, looking it up on the first call."""
        fqdn = self._fqdn
        if fqdn is None:
            with self._lock:
                if self._fqdn is None:
                    self._fqdn = self._lookup()
                fqdn = self._fqdn
        return fqdn

    def _lookup(self) -> str:
        found: list[str] = []

        def run() -> None:
            with contextlib.suppress(Exception):  # any failure means "use the fallback"
                found.append((self._resolve or socket.getfqdn)())

        worker = threading.Thread(target=run, name="mailproviders-fqdn", daemon=True)
        worker.start()
        worker.join(self._timeout)
        return _ascii_hostname(found[0] if found else _local_hostname())


DNS_NAME = CachedDnsName()


def make_msgid(idstring: str | None = None, domain: str | None = None) -> str:
    """A new unique ``<...@domain>`` Message-ID; ``domain`` defaults to ``DNS_NAME``."""
    return email.utils.make_msgid(idstring, domain=str(DNS_NAME) if domain is None else domain)
