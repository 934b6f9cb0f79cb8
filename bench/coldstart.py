"""Fresh process to first backend (workload f2) next to pydantic-settings' own import time.

    .bench-venv/bin/python bench/coldstart.py [-n 15]

Each sample is a new interpreter timing only its statement, as the reference harness
does; the two statements alternate so that machine noise hits both alike.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

PYDANTIC_SETTINGS = "import pydantic_settings\n"
FIRST_BACKEND = (
    "import mailproviders\n"
    "mailproviders.configure(EMAIL_PROVIDERS={'default': {'BACKEND': 'smtp', "
    "'OPTIONS': {'host': '127.0.0.1', 'port': 2525}}})\n"
    "mailproviders.providers['default']\n"
)
IMPORT_ONLY = "import mailproviders\n"


def _sample(stmt: str) -> float:
    code = f"import time as _t\n_t0 = _t.perf_counter()\n{stmt}print(_t.perf_counter() - _t0)\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=15, help="samples per statement (default 15)")
    args = parser.parse_args()
    statements = {
        "import pydantic_settings": PYDANTIC_SETTINGS,
        "import mailproviders": IMPORT_ONLY,
        "f2: to first backend": FIRST_BACKEND,
    }
    samples: dict[str, list[float]] = {name: [] for name in statements}
    for _ in range(args.n):
        for name, stmt in statements.items():
            samples[name].append(_sample(stmt))
    medians = {name: statistics.median(values) * 1e3 for name, values in samples.items()}
    for name, ms in medians.items():
        print(f"{name:28s} median {ms:7.1f} ms")
    extra = medians["f2: to first backend"] - medians["import pydantic_settings"]
    print(f"f2 minus pydantic-settings import: {extra:+.1f} ms (target <= +20 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
