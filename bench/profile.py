"""Where the monitor's time goes: a py-spy profile of it draining a backlog.

The monitor drains the scale benchmark's backlog (100,000 readings, sessions
open, a board connected) while py-spy samples it; printed are the functions
with the largest share of the samples, each with the time spent in it and
in what it calls (inclusive) and in its own code (self). ``--raw FILE``
keeps the samples (py-spy's collapsed stacks) for a flame graph.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

from bench.scale import monitor_drain
from tests.servers import mosquitto

SKIP = ("<frozen", "<module>", "runpy", "asyncio/", "threading.py", "concurrent/futures")


def summary(raw: Path, top: int) -> str:
    """The ``top`` functions by inclusive share, with their self share."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [f.split(" (")[0] + " (" + f.split(" (")[1].split(":")[0] + ")"
                  for f in stack.split(";") if " (" in f]
        total += int(count)
        if frames:
            own[frames[-1]] += int(count)
        for frame in set(frames):
            inclusive[frame] += int(count)
    rows = [(name, n) for name, n in inclusive.most_common() if not name.startswith(SKIP)
            and not any(s in name for s in SKIP)][:top]
    lines = [f"{'inclusive':>9} {'self':>6}  function (file)  [{total} samples]"]
    lines += [f"{100 * n / total:8.1f}% {100 * own[name] / total:5.1f}%  {name}"
              for name, n in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backlog", type=int, default=100_000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--raw", type=Path, help="keep the samples here")
    args, _ = parser.parse_known_args()
    beside = Path(sys.executable).with_name("py-spy")
    spy = str(beside) if beside.exists() else shutil.which("py-spy")
    if spy is None:
        raise SystemExit("py-spy is not installed: pip install -e .[dev]")
    with tempfile.TemporaryDirectory() as directory, mosquitto(Path(directory)) as broker:
        raw = args.raw or Path(directory) / "samples.txt"
        wrapper = (spy, "record", "--rate", "250", "--format", "raw", "--output", str(raw), "--")
        drain = asyncio.run(monitor_drain(Path(directory) / "var", broker.port, args.backlog,
                                          wrapper))
        print(f"backlog of {args.backlog:,} drained at {drain.rate:,.0f}/s under the profiler")
        print(summary(raw, args.top))


if __name__ == "__main__":
    main()
