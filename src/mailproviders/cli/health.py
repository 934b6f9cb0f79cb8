"""``mailproviders check --health``: the circuit of each member of the composite providers.

A command runs in a process of its own, whose circuits know no failure yet; so each
member of every failover and round-robin provider is first tried the way ``verify``
does (connect, TLS, EHLO, AUTH; nothing is sent), and the outcome is reported to the
circuit breakers before their state is printed, one line per member.
"""

from __future__ import annotations

from typing import TextIO

from mailproviders.backends.circuit import MemberHealth, Plan, opens_circuit
from mailproviders.handler import providers
from mailproviders.registry import builtin

__all__ = ["health_line", "print_health", "probe"]


def probe(alias: str, members: list[str], period: float) -> None:
    """Open and close a backend of each of ``members`` of provider ``alias`` and tell the
    circuit breakers how it went (a member that cannot even be built counts as failed)."""
    circuits = providers.circuits
    plan: Plan = circuits.plan(alias, members, period)
    for member in members:
        try:
            with providers.create_connection(member):
                pass
        except Exception as exc:
            if not opens_circuit(exc):  # it cannot be used at all (say, not importable)
                text = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
                exc = ConnectionError(f"provider {member!r} cannot be opened ({text})")
            circuits.failed(plan, alias, member, exc, period)
        else:
            circuits.succeeded(plan, alias, member)


def health_line(health: MemberHealth) -> str:
    """One line: ``provider -> member: state`` and, when not closed, why and for how long."""
    text = f"{health.provider} -> {health.member}: {health.state}"
    if health.state != "closed":
        text += f" (retry in {health.retry_in or 0:.0f} s; {health.reason})"
    return text


def print_health(out: TextIO) -> list[MemberHealth]:
    """Probe every member of every composite provider, print their circuits, return them."""
    for alias, config in (providers.settings.EMAIL_PROVIDERS or {}).items():
        row = builtin(config.BACKEND)
        if row is not None and row.composite:
            options = config.OPTIONS
            probe(alias, list(options["using"]), options.get("retry_period", 60.0))
    found = providers.health()
    for health in found:
        print(health_line(health), file=out)
    if not found:
        print("no failover or round-robin provider is configured", file=out)
    return found
