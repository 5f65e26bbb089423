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
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from device_sim.device import iso
from monitor.adapters import mqtt_wire as wire
from monitor.adapters.mqtt import BrokerAddress, publishing
from monitor.domain.readings import VITALS


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
    address: BrokerAddress,
    records: list[dict[str, Any]],
    *,
    site: str,
    bed: str,
    speed: float = 1.0,
    qos: int = 1,
    retime: bool = True,
) -> int:
    """Publish the recording to ``site``/``bed``; returns how many readings were sent.

    With ``retime`` each reading is stamped with the time it is sent, so the
    board shows it as live; otherwise it keeps its recorded ``ts``.
    """
    if not records:
        return 0
    topic = f"infusion/{site}/{bed}/vitals"
    first_ms, started = records[0]["_ms"], time.monotonic()
    async with publishing(address, f"replay-{uuid.uuid4().hex[:12]}") as connection:
        for record in records:
            delay = started + (record["_ms"] - first_ms) / 1000 / speed - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            reading = {key: value for key, value in record.items() if key != "_ms"}
            reading["v"] = 1
            if retime:
                reading["ts"] = iso(time.time())
            packet_id = connection.packet_id() if qos else 0
            packet = wire.publish(topic, json.dumps(reading).encode(), qos=qos,
                                  packet_id=packet_id, v5=False)
            if packet_id:
                await connection.send(packet_id, packet)
            else:
                connection.write(packet)
    return len(records)
