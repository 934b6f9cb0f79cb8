"""What the failover and round-robin backends share: members, outcome, error triage.

A composite backend sends through other providers (``using``), looked up at send
time in the ``providers`` it was built with (the handler passes itself). A message
moves on to another provider only when it was certainly not accepted; one that may
have been delivered is reported as ``possibly_sent_messages`` and never resent.
"""

from __future__ import annotations

import logging
import math
import smtplib
import threading
from abc import abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, ClassVar, Protocol

from mailproviders import _hooks
from mailproviders.backends.base import NOT_GIVEN, BaseEmailBackend, NotGiven
from mailproviders.backends.circuit import Circuits, Plan
from mailproviders.exceptions import (
    InvalidEmailProvider,
    possibly_sent_messages_of,
    record_possibly_sent,
    record_sent,
    sent_messages_of,
)

if TYPE_CHECKING:
    from mailproviders.message import EmailMessage

__all__ = ["CompositeBackend", "Members", "Outcome", "ProviderLookup", "is_transient"]

logger = logging.getLogger("mailproviders")


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` means "this provider cannot take the messages now" rather than
    "this message is wrong": a connection, timeout or TLS failure (any ``OSError``), a
    failed login, or a 4xx reply. A 5xx reply, an invalid address or any other error is
    permanent for the message and is not retried elsewhere. An exception whose class sets
    ``transient = True`` (a full rate-limit bucket) is transient too.
    """
    if getattr(exc, "transient", False) is True:
        return True
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(400 <= code < 500 for code in codes)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return True
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    return isinstance(exc, OSError)


class ProviderLookup(Protocol):
    """What a composite backend needs of the handler (``mailproviders.providers``)."""

    def __getitem__(self, alias: str, /) -> BaseEmailBackend:
        """A backend of provider ``alias``."""
        ...

    def next_position(self, alias: str | None, /) -> int:
        """The next value of a counter shared by every user of ``alias``."""
        ...

    @property
    def circuits(self) -> Circuits:
        """The circuit breakers of member aliases, shared by the whole process."""
        ...


class Members:
    """Backends of the member providers, each built and opened on first use.

    Kept until :meth:`close`, so that one connection per member serves every message.
    Thread-safe.
    """

    def __init__(self, providers: ProviderLookup) -> None:
        self._providers = providers
        self._backends: dict[str, BaseEmailBackend] = {}
        self._lock = threading.Lock()

    def get(self, alias: str) -> BaseEmailBackend:
        """The open backend of ``alias``; raises what building or opening it raises."""
        with self._lock:
            backend = self._backends.get(alias)
            if backend is None:
                backend = self._providers[alias]
                try:
                    backend.open()
                except BaseException:
                    backend.close()
                    raise
                self._backends[alias] = backend
            return backend

    def send(self, alias: str, messages: list[EmailMessage]) -> int:
        """Send ``messages`` through member ``alias`` (under its RATE_LIMIT and REDIRECT,
        see ``_hooks.member_send``); return how many it accepted."""
        return _hooks.member_send(self.get(alias), alias, messages)

    def close(self) -> None:
        """Close every member opened so far; an error is raised after all were closed."""
        with self._lock:
            backends, self._backends = list(self._backends.values()), {}
        with ExitStack() as stack:  # every close runs, even after one raised
            for backend in backends:
                stack.callback(backend.close)


class Outcome:
    """What became of the messages of one ``send_messages`` call, across providers."""

    def __init__(self, alias: str | None) -> None:
        self.alias = alias
        self.count = 0
        self.sent: list[EmailMessage] = []
        self.possibly_sent: list[EmailMessage] = []
        #: The first error after which a message may have been delivered.
        self.ambiguous: BaseException | None = None
        self.tried: list[str] = []

    def accepted(self, batch: Sequence[EmailMessage], count: int) -> None:
        """Provider call returned ``count``: the whole ``batch`` was taken."""
        self.count += count
        self.sent += batch

    def failed(
        self, exc: BaseException, batch: Sequence[EmailMessage], member: str
    ) -> list[EmailMessage]:
        """Provider ``member`` raised ``exc`` for ``batch``: take note of what it accepted
        or may have delivered, and return the messages it certainly did not accept."""
        self.tried.append(member)
        sent = sent_messages_of(exc)
        possibly = possibly_sent_messages_of(exc)
        self.count += int(getattr(exc, "sent_count", len(sent)))
        self.sent += sent
        if possibly:
            self.possibly_sent += possibly
            self.ambiguous = self.ambiguous or exc
        done = {id(message) for message in [*sent, *possibly]}
        exc.add_note(f"raised by provider {member!r}, a member of {self.alias!r}")
        return [message for message in batch if id(message) not in done]

    def exhausted(self, exc: BaseException) -> None:
        """Note on ``exc``, the last error, that every provider failed."""
        tried = ", ".join(repr(alias) for alias in dict.fromkeys(self.tried))
        exc.add_note(f"provider {self.alias!r}: every member failed without accepting ({tried})")

    def moving(self, failed: str, following: str, exc: BaseException, count: int) -> None:
        """Log (WARNING) that ``count`` messages move from ``failed`` to ``following``."""
        logger.warning(
            "provider %r: member %r failed (%s: %s); sending %d message(s) through %r",
            self.alias,
            failed,
            type(exc).__name__,
            exc,
            count,
            following,
        )

    def stamp(self, exc: BaseException) -> None:
        """Record the totals on the exception that leaves the composite backend."""
        record_sent(exc, self.sent, self.count)
        record_possibly_sent(exc, self.possibly_sent)


class CompositeBackend(BaseEmailBackend):
    """Base of the backends that send through other providers, named in ``using``.

    Members are looked up in ``providers`` (the handler that builds the backend passes
    itself; ``uses_providers`` tells it to) at send time. Without :meth:`open`, each call
    opens the members it needs and closes them at its end; after :meth:`open`, they stay
    open until :meth:`close`. A member that failed at connection level is skipped for
    ``retry_period`` seconds (0: never) by every user of the process
    (:mod:`mailproviders.backends.circuit`). Raises
    :class:`~mailproviders.exceptions.InvalidEmailProvider` (option ``using``) when
    ``using`` is not a non-empty list of aliases, or when no ``providers`` is given
    (option ``retry_period`` when it is not a number >= 0).
    """

    #: The handler passes itself as ``providers`` when it builds such a backend.
    uses_providers: ClassVar[bool] = True

    def __init__(
        self,
        *,
        alias: str | None = None,
        using: Sequence[str],
        retry_period: float = 60.0,
        providers: ProviderLookup | None = None,
        fail_silently: bool | NotGiven = NOT_GIVEN,
    ) -> None:
        super().__init__(alias=alias, fail_silently=fail_silently)
        if isinstance(using, str) or not using or not all(isinstance(a, str) for a in using):
            raise InvalidEmailProvider(
                f"expected a non-empty list of provider aliases, got {using!r}",
                alias=alias,
                option="using",
            )
        if providers is None:
            raise InvalidEmailProvider(
                f"{type(self).__qualname__} sends through other providers and needs them: "
                "configure it in EMAIL_PROVIDERS and use mailproviders.providers[alias]",
                alias=alias,
                option="using",
            )
        number = isinstance(retry_period, int | float) and not isinstance(retry_period, bool)
        if not (number and 0 <= retry_period < math.inf):  # NaN is not >= 0 either
            raise InvalidEmailProvider(
                f"expected a number of seconds >= 0, got {retry_period!r}",
                alias=alias,
                option="retry_period",
            )
        self.using = list(using)
        self.retry_period = float(retry_period)
        self.providers = providers
        self._opened: Members | None = None
        self._lock = threading.Lock()

    def open(self) -> None:
        """Keep member connections open across calls until :meth:`close`; opens nothing
        yet (a member is opened when first needed)."""
        with self._lock:
            if self._opened is None:
                self._opened = Members(self.providers)

    def close(self) -> None:
        """Close the members opened since :meth:`open`; raises the first close error."""
        with self._lock:
            members, self._opened = self._opened, None
        if members is not None:
            members.close()

    @contextmanager
    def _members(self) -> Iterator[Members]:
        opened = self._opened
        if opened is not None:
            yield opened
            return
        members = Members(self.providers)
        try:
            yield members
        finally:
            members.close()

    def send_messages(self, messages: Iterable[EmailMessage]) -> int:
        """Send ``messages`` through the member providers; return how many were accepted.

        Messages without recipients are skipped. Raises the member's exception when a
        message fails permanently, the last one when every provider failed, or the first
        ambiguous one when a message may have been delivered; it carries ``sent_count``,
        ``sent_messages`` (accepted by any member) and ``possibly_sent_messages``.
        """
        outcome = Outcome(self.alias)
        pending = [message for message in messages if message.recipients()]
        try:
            if pending:
                with self._members() as members:
                    self._send(pending, members, outcome)
            if outcome.ambiguous is not None:
                raise outcome.ambiguous
        except Exception as exc:
            outcome.stamp(exc)
            raise
        return outcome.count

    def _plan(self, members: Sequence[str]) -> Plan:
        """The order to try ``members`` in for one message (circuit breakers applied)."""
        return self.providers.circuits.plan(self.alias, members, self.retry_period)

    def _answered(self, plan: Plan, member: str, exc: BaseException | None = None) -> None:
        """Tell the circuit breakers how ``member`` did (``exc``: it raised that)."""
        circuits = self.providers.circuits
        if exc is None:
            circuits.succeeded(plan, self.alias, member)
        else:
            circuits.failed(plan, self.alias, member, exc, self.retry_period)

    @abstractmethod
    def _send(self, messages: list[EmailMessage], members: Members, outcome: Outcome) -> None:
        """Send ``messages`` (all with recipients), recording on ``outcome``; raise to stop."""

    def __repr__(self) -> str:
        return (
            f"<{type(self).__module__}.{type(self).__qualname__} alias={self.alias!r}, "
            f"using={self.using!r}>"
        )
