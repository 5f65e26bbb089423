"""Runs the benchmarks named (all of them by default) in turn; each prints its own figures.

``python -m bench.run [NAME ...]``, e.g. ``python -m bench.run hot_path even_load``.
A benchmark's own options are given by running it alone: ``python -m bench.NAME --help``.
"""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = (
    "hot_path", "page_latency", "sim_capacity", "storage", "faults", "ws_stuck", "scale",
    "profile", "false_alarms", "what_if_load", "even_load", "failover",
)


def main() -> None:
    names = sys.argv[1:] or list(BENCHMARKS)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        sys.exit(f"no benchmark named {', '.join(unknown)}; the benchmarks are "
                 f"{', '.join(BENCHMARKS)} (a benchmark's options: python -m bench.NAME --help)")
    for name in names:
        print(f"== bench.{name}", flush=True)
        subprocess.run([sys.executable, "-m", f"bench.{name}"], check=True)


if __name__ == "__main__":
    main()
