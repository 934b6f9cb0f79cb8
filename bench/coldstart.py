"""Fresh process to first backend (workload f2) next to pydantic-settings' own import time.

    .bench-venv/bin/python bench/coldstart.py [-n 15]

Each sample is a new interpreter timing only its statement, as the reference harness
does; the statements alternate so that machine noise hits all alike.

Two rounds: with this package's bytecode compiled (what any install from a wheel gives:
pip compiles at install time, as it did for pydantic and Django), then from source only
(an editable install on a machine with PYTHONDONTWRITEBYTECODE=1, where every start
compiles the package again).
"""

from __future__ import annotations

import argparse
import compileall
import pathlib
import shutil
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


PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "src" / "mailproviders"


def _drop_bytecode() -> None:
    for cache in PACKAGE.rglob("__pycache__"):
        shutil.rmtree(cache)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=15, help="samples per statement (default 15)")
    args = parser.parse_args()
    print("# with the package's bytecode compiled (as installed from a wheel)")
    compileall.compile_dir(str(PACKAGE), quiet=1)
    try:
        _measure(args.n)
    finally:
        _drop_bytecode()
    print("# from source only (no bytecode: compiled again at every start)")
    _measure(args.n)
    return 0


def _measure(n: int) -> None:
    statements = {
        "import pydantic_settings": PYDANTIC_SETTINGS,
        "import mailproviders": IMPORT_ONLY,
        "f2: to first backend": FIRST_BACKEND,
    }
    samples: dict[str, list[float]] = {name: [] for name in statements}
    for _ in range(n):
        for name, stmt in statements.items():
            samples[name].append(_sample(stmt))
    medians = {name: statistics.median(values) * 1e3 for name, values in samples.items()}
    for name, ms in medians.items():
        print(f"{name:28s} median {ms:7.1f} ms")
    # Paired: each round's f2 minus the same round's pydantic-settings import, so that
    # drift in machine load between rounds cancels out.
    paired = [
        (f2 - base) * 1e3
        for f2, base in zip(
            samples["f2: to first backend"], samples["import pydantic_settings"], strict=True
        )
    ]
    extra = statistics.median(paired)
    q1, _, q3 = statistics.quantiles(paired, n=4)
    print(
        f"f2 minus pydantic-settings import (median of paired rounds): {extra:+.1f} ms "
        f"(quartiles {q1:+.1f} / {q3:+.1f}; target <= +20 ms)"
    )


if __name__ == "__main__":
    sys.exit(main())
