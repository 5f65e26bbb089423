"""``/metrics`` in the Prometheus text format."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict
from typing import Final

from monitor.pipeline import Counters

PREFIX: Final = "infusion_monitor_"
COUNTER_HELP: Final = {
    "received": "MQTT messages taken from the broker",
    "accepted": "readings accepted",
    "invalid": "payloads refused (dead-lettered)",
    "duplicates": "readings dropped as redeliveries",
    "seq_gaps": "seq numbers missing between readings",
    "late": "readings that arrived after later ones (judged for spot and critical limits)",
    "device_conflicts": "readings refused for a device id another bed's session holds",
    "stored": "readings committed (to SQLite, or to the outbox for InfluxDB)",
    "commits": "storage transactions",
    "commit_failures": "storage transactions that failed and were retried",
    "alarm_events": "alarm transitions from readings",
    "internal_errors": "messages that hit a defect (dead-lettered)",
    "auth_failures": "requests refused for a missing or unknown token",
    "ws_stuck_closed": "board screens disconnected for not reading",
    "pages_delivered": "pages delivered",
    "pages_failed": "pages that could not be delivered",
    "dead_letters_pruned": "oldest dead letters deleted to keep the table within its caps",
    "task_failures": "background tasks that failed and were restarted (task_failed alarm)",
}


def render(counters: Counters, gauges: Mapping[str, tuple[str, float]],
           alarms_by_state: Iterable[tuple[str, str, int]]) -> str:
    """Counters, gauges (name -> (help, value)) and open alarms by state and priority."""
    lines = []
    for name, value in asdict(counters).items():
        lines += [f"# HELP {PREFIX}{name}_total {COUNTER_HELP[name]}",
                  f"# TYPE {PREFIX}{name}_total counter", f"{PREFIX}{name}_total {value}"]
    for name, (text, value) in gauges.items():
        lines += [f"# HELP {PREFIX}{name} {text}", f"# TYPE {PREFIX}{name} gauge",
                  f"{PREFIX}{name} {value:g}"]
    lines += [f"# HELP {PREFIX}alarms open alarms on the board",
              f"# TYPE {PREFIX}alarms gauge"]
    lines += [f'{PREFIX}alarms{{state="{state}",priority="{priority}"}} {n}'
              for state, priority, n in alarms_by_state]
    return "\n".join(lines) + "\n"
