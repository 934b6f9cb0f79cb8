"""Peak RSS growth of ``send_mass_mail`` over a generator of N messages to an SMTP sink.

    .bench-venv/bin/python bench/memory.py [-n 100000]

Uses the reference harness's threaded sink (``../shared/bench/sink.py``) in a child
process. The baseline is taken after a warm-up send (imports, first connection, caches),
so the figure is what streaming N messages adds: ``ru_maxrss`` after minus before.
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path

HARNESS = Path(__file__).resolve().parents[2] / "shared"


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def _messages(n: int) -> Iterator[tuple[str, str, str, list[str]]]:
    body = "".join(f"Line {i:02d} of a short plain text notification body.\n" for i in range(12))
    for i in range(n):
        yield (f"Your sign-in code {i}", body, "noreply@example.com", [f"user{i}@example.com"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=100_000, help="messages (default 100000)")
    args = parser.parse_args()
    sys.path.insert(0, str(HARNESS))
    from bench.sink import SinkProcess  # the harness's sink

    import mailproviders

    with SinkProcess("threaded") as sink:
        mailproviders.configure(
            EMAIL_PROVIDERS={
                "default": {"BACKEND": "smtp", "OPTIONS": {"host": sink.host, "port": sink.port}}
            }
        )
        mailproviders.send_mass_mail(_messages(2000))  # warm-up
        gc.collect()
        before_peak, before_now = _rss_mib(), _current_rss_mib()
        started = time.perf_counter()
        sent = mailproviders.send_mass_mail(_messages(args.n))
        elapsed = time.perf_counter() - started
        received = sink.count()
    growth = _rss_mib() - before_peak
    print(f"send_mass_mail over a generator: sent={sent} sink_received_total={received}")
    print(f"time {elapsed:.1f}s ({elapsed / args.n * 1e6:.0f} µs/message)")
    print(f"RSS before {before_now:.1f} MiB (peak {before_peak:.1f} MiB), "
          f"after: current {_current_rss_mib():.1f} MiB, peak {_rss_mib():.1f} MiB")  # fmt: skip
    print(f"peak RSS growth: {growth:.2f} MiB")
    return 0 if sent == args.n else 1


if __name__ == "__main__":
    sys.exit(main())
