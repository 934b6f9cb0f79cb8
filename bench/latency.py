"""Bulk sending at network latency: send_mass_mail of N messages at several round-trip
times, Django 6.1 against raw smtplib and this project with max_connections 1 and 8.

Run from the project root with the bench interpreter (``../shared/bench/setup.sh``
creates ``.bench-venv`` with Django 6.1; matplotlib is a bench-only dependency, installed
there by ``bench/run.sh``):

    .bench-venv/bin/python bench/latency.py                  # 2,000 messages, RTT 0/5/20 ms
    .bench-venv/bin/python bench/latency.py -n 200 --rtt 0 --rtt 5   # a quick look
    .bench-venv/bin/python bench/latency.py --plot bench/results/<stamp>-latency.json

The sinks are the reference harness's (``../shared/bench/sink.py``, "threaded"): they
advertise PIPELINING and write the replies to every chunk they receive ``--rtt`` ms
later, as a relay that far away would (a client that sends commands together pays one
round trip for them). Client and sinks are pinned to one CPU, as the harness does
(``--no-pin`` to turn that off). Each contender sends the same messages (one recipient)
through ``send_mass_mail`` (raw: ``smtplib.sendmail`` of bytes serialized beforehand, on
one connection); the sink's counter must grow by exactly N. Outputs: a table with
µs/message and ratios (Django's time / the contender's: > 1 is faster than Django),
``bench/results/<stamp>-latency.json`` and a PNG plot of µs/message against RTT.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT.parent / "shared"))  # the reference harness, as package "bench"

CONTENDERS = ("django61", "raw", "mailproviders-1", "mailproviders-8")
TIMEOUT = 60.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=2000, help="messages per sample")
    parser.add_argument("--rtt", type=float, action="append", help="ms (repeatable)")
    parser.add_argument("-r", "--reps", type=int, default=1, help="samples per cell")
    parser.add_argument("--no-pin", action="store_true")
    parser.add_argument("--plot", type=Path, help="only draw the plot of this JSON")
    args = parser.parse_args(argv)
    if args.plot:
        print(plot(json.loads(args.plot.read_text()), args.plot.with_suffix(".png")))
        return 0
    rtts = args.rtt or [0.0, 5.0, 20.0]
    results = measure(args.n, rtts, args.reps, pin=not args.no_pin)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = ROOT / "bench" / "results" / f"{stamp}-latency.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    table = report(results)
    out.with_suffix(".md").write_text(table)
    print(table)
    print(f"saved {out} and {plot(results, out.with_suffix('.png'))}")
    return 0


def measure(n: int, rtts: list[float], reps: int, *, pin: bool) -> dict[str, object]:
    from bench.sink import SinkProcess, pinned_cpu

    cpu = pinned_cpu() if pin else None
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    with contextlib.ExitStack() as stack:
        sinks = {
            rtt: stack.enter_context(SinkProcess("threaded", cpu, rtt_ms=rtt)) for rtt in rtts
        }
        seen = {rtt: sink.round_trip() * 1000 for rtt, sink in sinks.items()}
        senders = _senders({rtt: (sink.host, sink.port) for rtt, sink in sinks.items()})
        samples: dict[str, dict[str, list[float]]] = {}
        for rep in range(reps):
            for rtt, sink in sinks.items():
                order = CONTENDERS[rep % 4 :] + CONTENDERS[: rep % 4]  # rotate per repetition
                for name in order:
                    before = sink.count()
                    gc.collect()
                    start = time.perf_counter()
                    sent = senders[name](rtt, n)
                    elapsed = time.perf_counter() - start
                    got = sink.count() - before
                    if sent != n or got != n:
                        raise RuntimeError(
                            f"{name} at {rtt} ms: sent {sent}, sink got {got} of {n}"
                        )
                    cell = samples.setdefault(f"{rtt:g}", {}).setdefault(name, [])
                    cell.append(elapsed / n * 1e6)
                    print(
                        f"# rtt {rtt:g} ms, {name}: {elapsed / n * 1e6:,.0f} µs/message",
                        file=sys.stderr,
                    )
    return {
        "n": n,
        "reps": reps,
        "pinned_cpu": cpu,
        "round_trip_ms": {f"{rtt:g}": seen[rtt] for rtt in rtts},
        "python": sys.version.split()[0],
        "samples_us_per_message": samples,
    }


def _senders(targets: dict[float, tuple[str, int]]) -> dict[str, Callable[[float, int], int]]:
    import django
    from bench.adapters.raw import Raw
    from bench.payloads import SIMPLE
    from django.conf import settings
    from django.core import mail as django_mail

    import mailproviders

    django_backend = "django.core.mail.backends.smtp.EmailBackend"
    ours = "mailproviders.backends.smtp.EmailBackend"
    mailers, providers = {}, {}
    for rtt, (host, port) in targets.items():
        options = {"host": host, "port": port, "timeout": TIMEOUT}
        mailers[f"rtt{rtt:g}"] = {"BACKEND": django_backend, "OPTIONS": options}
        for connections in (1, 8):
            options_k = {**options, "max_connections": connections}
            providers[f"rtt{rtt:g}-{connections}"] = {"BACKEND": ours, "OPTIONS": options_k}
    settings.configure(MAILERS={"default": next(iter(mailers.values())), **mailers})
    django.setup()
    mailproviders.configure(
        EMAIL_PROVIDERS={"default": next(iter(providers.values())), **providers}
    )
    raws = {
        rtt: Raw(host, port, TIMEOUT, bulk=(host, port)) for rtt, (host, port) in targets.items()
    }
    p = SIMPLE

    def datatuple(n: int) -> list[tuple[str, str, str, list[str]]]:
        return [(p.subject, p.body, p.from_email, list(p.to)) for _ in range(n)]

    return {
        "django61": lambda rtt, n: django_mail.send_mass_mail(datatuple(n), using=f"rtt{rtt:g}"),
        "raw": lambda rtt, n: raws[rtt].send_bulk(raws[rtt].prepare_bulk(p, n)),
        "mailproviders-1": lambda rtt, n: mailproviders.send_mass_mail(
            datatuple(n), using=f"rtt{rtt:g}-1"
        ),
        "mailproviders-8": lambda rtt, n: mailproviders.send_mass_mail(
            datatuple(n), using=f"rtt{rtt:g}-8"
        ),
    }


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def report(results: dict[str, object]) -> str:
    samples: dict[str, dict[str, list[float]]] = results["samples_us_per_message"]  # type: ignore[assignment]
    seen: dict[str, float] = results["round_trip_ms"]  # type: ignore[assignment]
    lines = [
        f"# latency: {results['n']} messages per sample, send_mass_mail, {results['reps']} "
        f"sample(s) per cell (median), pinned CPU {results['pinned_cpu']}, Python "
        f"{results['python']}",
        "",
        "| RTT (NOOP seen) | " + " | ".join(CONTENDERS) + " |",
        "|---|" + "---:|" * len(CONTENDERS),
    ]
    for rtt, cells in samples.items():
        django = _median(cells["django61"])
        row = [f"{rtt} ms ({seen[rtt]:.1f})"]
        for name in CONTENDERS:
            value = _median(cells[name])
            row.append(
                f"{value:,.0f} µs" + ("" if name == "django61" else f" ({django / value:.2f}×)")  # noqa: RUF001
            )
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append("µs/message (Django's time / the contender's in brackets: > 1 = faster)")
    return "\n".join(lines) + "\n"


def plot(results: dict[str, object], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples: dict[str, dict[str, list[float]]] = results["samples_us_per_message"]  # type: ignore[assignment]
    rtts = sorted(samples, key=float)
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for name in CONTENDERS:
        values = [_median(samples[rtt][name]) for rtt in rtts]
        axes.plot([float(r) for r in rtts], values, marker="o", label=name)
    axes.set_xlabel("round-trip time to the SMTP server (ms)")
    axes.set_ylabel("µs per message (log scale)")
    axes.set_yscale("log")
    axes.set_title(f"send_mass_mail of {results['n']} messages")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    return path


if __name__ == "__main__":
    raise SystemExit(main())
