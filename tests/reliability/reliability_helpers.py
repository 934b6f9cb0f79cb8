"""Helpers shared by the reliability tests: message batches and socket accounting."""

from __future__ import annotations

import os
from pathlib import Path

from mailproviders.message import EmailMessage


def batch(count: int = 5, *, tag: str = "m", to: list[str] | None = None) -> list[EmailMessage]:
    """``count`` messages, each with a unique ``Message-ID`` and subject ``<tag>-<n>``."""
    return [
        EmailMessage(
            f"{tag}-{n}",
            f"body of {tag}-{n}\n",
            "sender@example.com",
            to or [f"rcpt{n}@example.com"],
            headers={"Message-ID": f"<{tag}-{n}@reliability.test>"},
        )
        for n in range(1, count + 1)
    ]


def _socket_inodes() -> set[str]:
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def client_sockets(port: int) -> int:
    """How many sockets this process holds open whose *remote* end is ``127.0.0.1:port``.

    Server-side sockets of the in-process test server have ``port`` as their local end and
    are not counted, so this counts exactly the client connections left open.
    """
    mine = _socket_inodes()
    wanted = f"{port:04X}"
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            remote_port = fields[2].rsplit(":", 1)[1]
            if remote_port == wanted and fields[9] in mine:
                count += 1
    return count
