"""Runs every benchmark in turn; each prints its own figures."""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = (
    "bench.hot_path", "bench.page_latency", "bench.sim_capacity", "bench.storage", "bench.faults",
    "bench.ws_stuck", "bench.scale", "bench.profile",
    "bench.false_alarms", "bench.what_if_load", "bench.even_load", "bench.failover",
)


def main() -> None:
    for module in BENCHMARKS:
        print(f"== {module}", flush=True)
        subprocess.run([sys.executable, "-m", module, *sys.argv[1:]], check=True)


if __name__ == "__main__":
    main()
