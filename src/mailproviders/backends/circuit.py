"""Circuit breakers of the composite backends: a member that failed at connection level
is skipped for ``retry_period`` seconds by every thread and task of the process.

One :class:`Circuits` (owned by the handler, emptied when the configuration changes)
holds the state of every member alias. A circuit is *closed* (the member is used),
*open* (skipped until its period ends) or *half-open* (the period ended; one caller
tries it: a success closes it, a failure opens it again). A skipped member is never
dropped: it goes to the end of the order, after the members that may be used, so a
message is only given up when every member has really failed now. Each change of state
is logged once on the ``mailproviders.circuit`` logger: WARNING when a circuit opens,
INFO when it closes.
"""

from __future__ import annotations

import logging
import smtplib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias

__all__ = ["CircuitState", "Circuits", "MemberHealth", "Plan", "opens_circuit"]

logger = logging.getLogger("mailproviders.circuit")

CircuitState: TypeAlias = Literal["closed", "open", "half-open"]


def opens_circuit(exc: BaseException) -> bool:
    """Whether ``exc`` says the member cannot take *any* message now, not that this
    message was refused: a connection, timeout or TLS failure (an ``OSError`` carrying
    no SMTP reply: refused, reset, lost; an HTTP API unavailable), a 4xx greeting or
    HELO reply, a failed login, a 421 reply (service closing) at any stage, or a 4xx
    reply to MAIL FROM. A 5xx reply, a refused recipient (other than by 421), a 4xx reply
    to the message data and any error that is not an ``OSError`` leave the circuit
    closed: the member answered.
    """
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return any(code == 421 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return True
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        if not 400 <= code < 500:
            return False
        provider_level = (
            smtplib.SMTPConnectError,
            smtplib.SMTPHeloError,
            smtplib.SMTPSenderRefused,
        )
        return code == 421 or isinstance(exc, provider_level)
    return isinstance(exc, OSError)


@dataclass(frozen=True)
class MemberHealth:
    """The circuit of one member of a composite provider, as seen now.

    ``provider`` is the composite alias, ``member`` the member alias, ``state`` one of
    ``"closed"``, ``"open"``, ``"half-open"``; ``reason`` the failure that opened it
    (type and message, ``None`` when closed), ``retry_in`` the seconds until a trial is
    allowed (``0.0`` once it is due, ``None`` when closed), ``failures`` how many times it
    opened since the configuration was loaded.
    """

    provider: str
    member: str
    state: CircuitState
    reason: str | None = None
    retry_in: float | None = None
    failures: int = 0


class _Circuit:
    __slots__ = ("failures", "opened_by", "reason", "retry_at", "trial_until")

    def __init__(self) -> None:
        self.retry_at: float | None = None  # None: closed
        self.trial_until: float | None = None  # a caller holds the half-open trial
        self.reason: str | None = None
        self.opened_by: str | None = None
        self.failures = 0


@dataclass(frozen=True)
class Plan:
    """The order in which one message tries the members (from :meth:`Circuits.plan`):
    ``order`` lists the usable members first, then the skipped ones (``skipped``),
    earliest period end first."""

    order: list[str]
    skipped: frozenset[str]
    generation: int


class Circuits:
    """The circuit of every member alias, shared by every thread and task (thread-safe).

    ``clock`` (seconds, monotonic) may be replaced, e.g. by a test that moves time on.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._circuits: dict[str, _Circuit] = {}
        self._generation = 0

    def reset(self) -> None:
        """Close every circuit (a new configuration); reports of earlier plans are ignored."""
        with self._lock:
            self._circuits = {}
            self._generation += 1

    def plan(self, alias: str | None, members: Sequence[str], period: float) -> Plan:
        """The order to try ``members`` in, for one message of provider ``alias``.

        With ``period`` 0 circuits are not used: ``members`` as given. Otherwise an open
        member whose period has ended is handed to this caller (only one at a time) as a
        half-open trial, and stays in its place; the other open members go to the end.
        """
        with self._lock:
            if period <= 0:
                return Plan(list(members), frozenset(), self._generation)
            now = self.clock()
            usable: list[str] = []
            skipped: list[tuple[float, int, str]] = []
            for position, member in enumerate(members):
                circuit = self._circuits.get(member)
                if circuit is None or circuit.retry_at is None:
                    usable.append(member)
                elif circuit.retry_at <= now and (
                    circuit.trial_until is None or circuit.trial_until <= now
                ):
                    # A trial that never reported (its caller was cancelled) expires.
                    circuit.trial_until = now + period
                    usable.append(member)
                else:
                    skipped.append((circuit.retry_at, position, member))
            later = [member for *_, member in sorted(skipped)]
            return Plan(usable + later, frozenset(later), self._generation)

    def succeeded(self, plan: Plan, alias: str | None, member: str) -> None:
        """``member`` answered (accepted, or refused only the message): close its circuit."""
        with self._lock:
            circuit = self._circuits.get(member)
            if plan.generation != self._generation or circuit is None:
                return
            if circuit.retry_at is None:
                return
            circuit.retry_at = circuit.trial_until = circuit.reason = None
        logger.info("provider %r: member %r works again; circuit closed", alias, member)

    def failed(
        self, plan: Plan, alias: str | None, member: str, exc: BaseException, period: float
    ) -> None:
        """``member`` failed with ``exc``: open its circuit for ``period`` seconds when
        :func:`opens_circuit` says so; any other failure counts as an answer."""
        if not opens_circuit(exc):
            self.succeeded(plan, alias, member)
            return
        if period <= 0:
            return
        reason = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
        with self._lock:
            if plan.generation != self._generation:
                return
            circuit = self._circuits.setdefault(member, _Circuit())
            was_open = circuit.retry_at is not None and circuit.trial_until is None
            circuit.retry_at = self.clock() + period
            circuit.trial_until = None
            circuit.reason = reason
            if was_open:
                return  # tried as a last resort while open: still open, nothing to log
            circuit.failures += 1
            circuit.opened_by = alias
        logger.warning(
            "provider %r: member %r failed (%s); circuit open, skipped for %g s",
            alias,
            member,
            reason,
            period,
        )

    def health(self, alias: str, members: Sequence[str]) -> list[MemberHealth]:
        """The state of each of ``members`` of provider ``alias``, in order."""
        with self._lock:
            now = self.clock()
            found = []
            for member in members:
                circuit = self._circuits.get(member)
                if circuit is None or circuit.retry_at is None:
                    failures = circuit.failures if circuit is not None else 0
                    found.append(MemberHealth(alias, member, "closed", failures=failures))
                    continue
                due = circuit.retry_at <= now
                found.append(
                    MemberHealth(
                        alias,
                        member,
                        "half-open" if due else "open",
                        circuit.reason,
                        max(0.0, circuit.retry_at - now),
                        circuit.failures,
                    )
                )
            return found
