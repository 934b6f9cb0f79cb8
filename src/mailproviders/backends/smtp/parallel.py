"""``max_connections`` > 1, sync: one ``send_messages`` call over several connections.

The calling thread reads the messages (a generator stays in the thread that called, and
is read no further ahead than the workers take) and hands them through a bounded queue
to one worker thread per connection. Each worker opens its connection when it gets its
first message. The first failure stops the call: the other workers finish the message
they are sending, take no further one, and the exception carries every message accepted
on any connection (``sent_messages``, in the order of acceptance) and the possibly
delivered ones.

Connection slot 0 is the backend's ``connection``; the others are its
``extra_connections``. When the backend was opened before the call (``open()``, ``with
backend:``) they stay open for the next call until ``close()``; otherwise the call closes
every connection it opened.
"""

from __future__ import annotations

import contextvars
import queue
import smtplib
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from mailproviders.backends.smtp import session
from mailproviders.exceptions import possibly_sent_messages_of, record_possibly_sent

if TYPE_CHECKING:
    from mailproviders.backends.smtp.backend import EmailBackend
    from mailproviders.message import EmailMessage

__all__ = ["Run", "send", "usable"]

_END: Final = None


def usable(connection: object, exc: BaseException) -> bool:
    """Whether a connection stays usable after ``exc``: a refusal reply leaves the session
    usable; a lost connection, a timeout or a protocol error does not."""
    refusal = isinstance(exc, smtplib.SMTPResponseException | smtplib.SMTPRecipientsRefused)
    return getattr(connection, "sock", None) is not None and (
        refusal or not isinstance(exc, OSError)
    )


class Run:
    """What the workers of one call share: accepted messages, failures, the stop flag.
    Used by the sync and async paths alike."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []
        self.failures: list[BaseException] = []
        self.stop = False
        self._lock = threading.Lock()

    def accepted(self, message: EmailMessage) -> None:
        with self._lock:
            self.sent.append(message)

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            self.failures.append(exc)
            self.stop = True

    def error(self, endpoint: session.Endpoint) -> BaseException | None:
        """The exception the call raises (the first failure, carrying the messages
        accepted on every connection and those possibly delivered on any), or ``None``."""
        if not self.failures:
            return None
        first = self.failures[0]
        possibly = [m for exc in self.failures for m in possibly_sent_messages_of(exc)]
        if possibly:
            record_possibly_sent(first, possibly)
        if len(self.failures) > 1:
            session.add_note(
                first, f"{len(self.failures) - 1} other connection(s) failed in the same call"
            )
        session.send_failed(endpoint, first, self.sent)
        return first


def send(backend: EmailBackend, messages: Iterable[EmailMessage]) -> int:
    """The body of ``backend.send_messages`` with ``max_connections`` > 1 (the caller
    holds the backend's lock)."""
    keep = backend.connection is not None
    slots = backend.max_connections
    connections: list[smtplib.SMTP | None] = [backend.connection, *backend.extra_connections]
    connections += [None] * (slots - len(connections))
    run = Run()
    work: queue.Queue[EmailMessage | None] = queue.Queue(maxsize=slots)
    threads = [
        threading.Thread(
            target=contextvars.copy_context().run,
            args=(_worker, backend, run, work, connections, slot),
            name=f"mailproviders-smtp-{slot}",
            daemon=True,
        )
        for slot in range(slots)
    ]
    for thread in threads:
        thread.start()
    try:
        for message in messages:
            if run.stop:
                break
            if message.recipients():
                work.put(message)
    except BaseException as exc:
        run.failed(exc)  # the input itself failed (or the caller was interrupted)
    finally:
        for _ in threads:
            work.put(_END)
        for thread in threads:
            thread.join()
        _settle(backend, connections, keep=keep)
    error = run.error(backend)
    if error is not None:
        raise error
    return len(run.sent)


def _worker(
    backend: EmailBackend,
    run: Run,
    work: queue.Queue[EmailMessage | None],
    connections: list[smtplib.SMTP | None],
    slot: int,
) -> None:
    while (message := work.get()) is not _END:
        if run.stop:
            continue  # drain: the producer must never block on a full queue
        try:
            prepared = session.prepare(message)
            connection = connections[slot]
            if connection is None:
                connection = connections[slot] = _connect(backend)
            backend._deliver(connection, message, prepared)
        except BaseException as exc:
            run.failed(exc)
            connection = connections[slot]
            if connection is not None and not usable(connection, exc):
                connections[slot] = None
                _quiet_close(connection)
            continue
        run.accepted(message)


def _connect(backend: EmailBackend) -> smtplib.SMTP:
    try:
        return backend._connect()
    except BaseException as exc:
        session.connect_failed(backend, exc)
        raise


def _settle(backend: EmailBackend, connections: list[smtplib.SMTP | None], *, keep: bool) -> None:
    """Keep the connections on the backend (it was opened before the call), or close them."""
    if keep:
        backend.connection = connections[0]
        backend.extra_connections = [c for c in connections[1:] if c is not None]
        if backend.connection is None and backend.extra_connections:
            backend.connection = backend.extra_connections.pop(0)
        return
    for connection in connections:
        if connection is not None:
            _quiet_close(connection)


def _quiet_close(connection: smtplib.SMTP) -> None:
    try:
        connection.quit()
    except OSError:
        pass
    finally:
        connection.close()
