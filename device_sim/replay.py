"""Replaying a recorded session onto MQTT, at its own pace scaled by ``speed``.

A recording is JSONL (one reading per line, as the monitor's vitals API
returns them: ``ts``, ``seq``, ``device_id``, ``vitals``, optional
``flags``), the monitor's vitals JSON (``{"readings": [...]}``), or CSV with
columns ``ts,seq,device_id`` and one column per vital.
"""

from __future__ import annotations

import asyncio
import csv
import json
import math
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from device_sim.broker import PUBLISH_TIMEOUT_S, Broker
from device_sim.device import VITALS, iso

REPLAY_INFLIGHT = 1000
"""QoS 1 readings that may await PUBACK at once when a fast replay sends them together."""


class RecordingError(ValueError):
    """A recording that cannot be replayed; the message says where."""


def _from_csv(path: Path) -> list[dict[str, Any]]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    records = []
    for line, row in enumerate(rows, start=2):
        try:
            vitals = {v: float(row[v]) for v in VITALS if row.get(v) not in (None, "")}
            records.append({"ts": row["ts"], "seq": int(row["seq"]),
                            "device_id": row["device_id"], "vitals": vitals})
        except (KeyError, ValueError) as error:
            raise RecordingError(f"{path}:{line}: {error!r}") from None
    return records


def load(path: Path) -> list[dict[str, Any]]:
    """The readings of a recording, in time order.

    Raises:
        RecordingError: The file cannot be read as a recording.
    """
    if path.suffix == ".csv":
        records = _from_csv(path)
    else:
        text = path.read_text(encoding="utf-8")
        try:
            if path.suffix == ".json":
                records = list(json.loads(text)["readings"])
            else:
                records = [json.loads(line) for line in text.splitlines() if line.strip()]
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise RecordingError(f"{path}: {error!r}") from None
    for record in records:
        if not isinstance(record, dict) or not {"ts", "seq", "device_id", "vitals"} <= set(record):
            raise RecordingError(f"{path}: each reading needs ts, seq, device_id and vitals")
        record["_ms"] = datetime.fromisoformat(record["ts"]).timestamp() * 1000
    return sorted(records, key=lambda record: record["_ms"])


async def replay(
    broker_url: str,
    records: list[dict[str, Any]],
    *,
    site: str,
    bed: str,
    speed: float = 1.0,
    qos: int = 1,
    retime: bool = True,
    ca_file: str | None = None,
) -> int:
    """Publish the recording to ``site``/``bed``; returns how many readings were sent.

    With ``retime`` each reading is stamped with the time it is sent, so the
    board shows it as live; otherwise it keeps its recorded ``ts``. Readings
    due at the same moment are published together, in order, and their
    PUBACKs awaited together.

    Raises:
        ValueError: ``broker_url`` is not a broker URL.
    """
    broker = Broker.parse(broker_url)
    if not records:
        return 0
    topic = f"infusion/{site}/{bed}/vitals"
    first_ms, started = records[0]["_ms"], time.monotonic()

    def due(record: dict[str, Any]) -> float:
        return started + float(record["_ms"] - first_ms) / 1000 / speed

    def payload(record: dict[str, Any]) -> bytes:
        reading = {key: value for key, value in record.items() if key != "_ms"}
        reading["v"] = 1
        if retime:
            reading["ts"] = iso(time.time())
        return json.dumps(reading).encode()

    client = broker.client(f"replay-{uuid.uuid4().hex[:12]}", max_inflight=REPLAY_INFLIGHT,
                           ca_file=ca_file)
    async with client:
        index = 0
        while index < len(records):
            delay = due(records[index]) - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            now = time.monotonic()
            batch = [records[index]]
            index += 1
            while index < len(records) and due(records[index]) <= now:
                batch.append(records[index])
                index += 1
            async with asyncio.timeout(PUBLISH_TIMEOUT_S):
                await asyncio.gather(*(
                    client.publish(topic, payload(record), qos=qos, timeout=math.inf)
                    for record in batch
                ))
    return len(records)
