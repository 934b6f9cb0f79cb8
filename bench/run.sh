#!/usr/bin/env bash
# All performance figures in one go, from the project root:
#
#     bench/run.sh                 # reference harness (default suite), cold start, memory,
#                                  # bulk send at 0/5/20 ms RTT (bench/latency.py, ~15 min)
#     bench/run.sh --scale 0.05 -r 2   # quick smoke run (arguments go to the harness)
#
# Needs ../shared/bench (the reference harness) and .bench-venv (created by
# ../shared/bench/setup.sh, which needs python3.12 on PATH). Outputs are saved under
# bench/results/<UTC timestamp>-*.
set -eu
cd "$(dirname "$0")/.."
py=.bench-venv/bin/python
[ -x "$py" ] || ../shared/bench/setup.sh
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=bench/results/$stamp
mkdir -p bench/results
"$py" ../shared/bench/run.py --json "$out-harness.json" "$@" | tee "$out-harness.md"
"$py" bench/coldstart.py | tee "$out-coldstart.txt"
"$py" bench/memory.py | tee "$out-memory.txt"
"$py" -c "import matplotlib" 2>/dev/null || "$py" -m pip install -q matplotlib  # bench only
"$py" bench/latency.py | tee "$out-latency.txt"  # also saves *-latency.{json,md,png}
