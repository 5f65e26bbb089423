"""``/metrics`` in the Prometheus text format, built with prometheus_client."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict
from typing import Final

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector

from monitor.api.deps import Context
from monitor.app.counters import Counters

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

router = APIRouter(tags=["metrics"])


class Snapshot(Collector):
    """One scrape's counters, gauges and open alarms as Prometheus metric families.

    Counter families are named without ``_total``: prometheus_client appends it.
    """

    def __init__(self, counters: Counters, gauges: Mapping[str, tuple[str, float]],
                 alarms_by_state: Iterable[tuple[str, str, int]]) -> None:
        self._counters = asdict(counters)
        self._gauges = dict(gauges)
        self._alarms = list(alarms_by_state)

    def collect(self) -> Iterator[Metric]:
        """The metric families of the snapshot."""
        for name, value in self._counters.items():
            yield CounterMetricFamily(f"{PREFIX}{name}", COUNTER_HELP[name], value=value)
        for name, (text, value) in self._gauges.items():
            yield GaugeMetricFamily(f"{PREFIX}{name}", text, value=value)
        alarms = GaugeMetricFamily(f"{PREFIX}alarms", "open alarms on the board",
                                   labels=["state", "priority"])
        for state, priority, n in self._alarms:
            alarms.add_metric([state, priority], n)
        yield alarms


def render(counters: Counters, gauges: Mapping[str, tuple[str, float]],
           alarms_by_state: Iterable[tuple[str, str, int]]) -> str:
    """Counters, gauges (name -> (help, value)) and open alarms by state and priority."""
    # A registry per scrape, never the global one: one process may run many monitors.
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Snapshot(counters, gauges, alarms_by_state))
    return generate_latest(registry).decode()


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(context: Context) -> Response:
    """Prometheus text: counters since start-up and current gauges."""
    return Response(await context.metrics(), media_type=CONTENT_TYPE_PLAIN_0_0_4)
