"""What the service counts since start-up (exposed on ``/metrics``), and the wall clock."""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(slots=True)
class Counters:
    """What the ingest path has seen since start-up."""

    received: int = 0
    accepted: int = 0
    invalid: int = 0
    duplicates: int = 0
    seq_gaps: int = 0
    late: int = 0
    device_conflicts: int = 0
    stored: int = 0
    commits: int = 0
    commit_failures: int = 0
    alarm_events: int = 0
    internal_errors: int = 0
    auth_failures: int = 0
    ws_stuck_closed: int = 0
    pages_delivered: int = 0
    pages_failed: int = 0
    task_failures: int = 0
    dead_letters_pruned: int = 0


def now_ms() -> int:
    """Wall-clock Unix milliseconds."""
    return time.time_ns() // 1_000_000
