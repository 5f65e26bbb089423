"""Readings: the schema-v1 payload a bedside monitor publishes, and its validation.

A payload either becomes a :class:`Reading` or raises :class:`InvalidPayload`
whose message says precisely what is wrong; nothing in between.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, Literal

import orjson

from monitor.domain.vitals import NAMES, REGISTRY

VITALS: Final[tuple[str, ...]] = NAMES
"""Every vital a reading may carry (the registry's, :mod:`monitor.domain.vitals`)."""

CONTINUOUS_VITALS: Final[tuple[str, ...]] = tuple(v.name for v in REGISTRY if v.continuous)
"""Vitals a bedside monitor sends about once a second."""

UNITS: Final[Mapping[str, str]] = {v.name: v.ucum for v in REGISTRY}
"""UCUM unit of each vital."""

FLAGS: Final = frozenset({"sensor_off", "artifact"})
"""Per-vital flags a device may set."""

SCHEMA_VERSION: Final = 1
V1_FIELDS: Final = frozenset({"v", "device_id", "seq", "ts", "vitals", "flags"})
VALUE_BOUND: Final = 1e6
"""The largest magnitude a vital's value may have."""
MAX_PAYLOAD_BYTES: Final = 64 * 1024

_NAME = r"[A-Za-z0-9_-]{1,64}"
_NAME_RE: Final = re.compile(_NAME)
_TOPIC_RE: Final = re.compile(rf"infusion/({_NAME})/({_NAME})/(vitals|status)")

TopicKind = Literal["vitals", "status"]


class InvalidPayload(ValueError):  # noqa: N818 - it names what the payload is, like ValueError
    """A message that cannot be accepted; ``str(error)`` is the reason."""


@dataclass(frozen=True, slots=True)
class BedRef:
    """A chair: ``site`` and ``bed`` as they stand in the topic."""

    site: str
    bed: str

    @property
    def key(self) -> str:
        """``site/bed``, the bed's key in maps and messages."""
        return f"{self.site}/{self.bed}"


@dataclass(frozen=True, slots=True)
class Reading:
    """One accepted schema-v1 reading from one device at one bed.

    Attributes:
        bed: Where it came from (from the topic).
        device_id: The publishing device.
        seq: The device's monotonic sequence number.
        ts: The device's timestamp, exactly as sent.
        ts_ms: ``ts`` as Unix milliseconds.
        vitals: The values present, by vital name.
        flags: Per-vital device flags such as ``sensor_off``.
    """

    bed: BedRef
    device_id: str
    seq: int
    ts: str
    ts_ms: int
    vitals: dict[str, float]
    flags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """A device's retained online/offline status (its last will when offline)."""

    bed: BedRef
    state: Literal["online", "offline"]
    device_id: str | None
    ts: str | None


def iso_ms(epoch_ms: int | float) -> str:
    """Unix milliseconds as ISO 8601 UTC with milliseconds and ``Z``."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat(timespec="milliseconds")
    return moment.replace("+00:00", "Z")


def parse_topic(topic: str) -> tuple[BedRef, TopicKind]:
    """Split ``infusion/<site>/<bed>/<kind>`` into the bed and the kind.

    Raises:
        InvalidPayload: The topic is not one the monitor reads.
    """
    match = _TOPIC_RE.fullmatch(topic)
    if match is None:
        raise InvalidPayload(f"topic {topic!r} is not infusion/<site>/<bed>/vitals|status")
    kind: TopicKind = "vitals" if match.group(3) == "vitals" else "status"
    return BedRef(match.group(1), match.group(2)), kind


def _load_json(payload: bytes) -> object:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise InvalidPayload(f"payload is {len(payload)} bytes, more than {MAX_PAYLOAD_BYTES}")
    try:  # orjson checks UTF-8 itself; what it refuses is decoded again, for the reason
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        pass
    try:
        document = orjson.loads(payload.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise InvalidPayload(
            f"payload is not UTF-8: {error.reason} at byte {error.start}"
        ) from None
    except orjson.JSONDecodeError as error:  # also integers beyond 64 bits, nesting over 1024
        raise InvalidPayload(f"payload is not JSON: {error.msg} at char {error.pos}") from None
    return document


def _load_object(payload: bytes) -> dict[str, object]:
    document = _load_json(payload)
    if not isinstance(document, dict):
        raise InvalidPayload(f"payload is a JSON {type(document).__name__}, expected an object")
    return document


def _timestamp_ms(value: object, name: str) -> int:
    if not isinstance(value, str):
        raise InvalidPayload(f"{name} must be an ISO 8601 string, got {_describe(value)}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidPayload(f"{name} {value[:64]!r} is not an ISO 8601 timestamp") from None
    if moment.tzinfo is None:
        raise InvalidPayload(f"{name} {value!r} has no UTC offset")
    return math.floor(moment.timestamp() * 1000)


def _describe(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, str | int | float | bool):
        return f"{type(value).__name__} {json.dumps(value)[:40]}"
    return type(value).__name__


def _device_id(document: dict[str, object]) -> str:
    device_id = document.get("device_id")
    if not isinstance(device_id, str) or _NAME_RE.fullmatch(device_id) is None:
        raise InvalidPayload(
            f"device_id must be 1-64 of [A-Za-z0-9_-], got {_describe(device_id)}"
        )
    return device_id


def _vitals(value: object) -> dict[str, float]:
    if not isinstance(value, dict):
        raise InvalidPayload(f"vitals must be an object, got {_describe(value)}")
    vitals: dict[str, float] = {}
    for name, number in value.items():
        if name not in UNITS:
            raise InvalidPayload(f"vitals.{name[:40]} is not a known vital ({', '.join(VITALS)})")
        # what _number accepts (NaN fails the comparison), without naming the field first
        if (type(number) is float or type(number) is int) and -VALUE_BOUND <= number <= VALUE_BOUND:
            vitals[name] = float(number)
        else:
            vitals[name] = _number(number, f"vitals.{name}")
    return vitals


def _flags(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidPayload(f"flags must be an object, got {_describe(value)}")
    flags: dict[str, str] = {}
    for name, flag in value.items():
        if name not in UNITS:
            raise InvalidPayload(f"flags.{name[:40]} is not a known vital")
        if flag not in FLAGS:
            raise InvalidPayload(
                f"flags.{name} must be one of {', '.join(sorted(FLAGS))}, got {_describe(flag)}"
            )
        flags[name] = flag
    return flags


def _number(value: object, name: str, bound: float = VALUE_BOUND) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidPayload(f"{name} must be a number, got {_describe(value)}")
    if not math.isfinite(value) or abs(value) > bound:
        raise InvalidPayload(f"{name} must be a finite number, got {value}")
    return float(value)


_SENML_BASE = re.compile(rf"urn:dev:({_NAME}):")


def _senml_reading(bed: BedRef, pack: list[object]) -> Reading:
    """A SenML pack (RFC 8428) as a reading: see :func:`parse_reading`."""
    if not pack or not all(isinstance(record, dict) for record in pack):
        raise InvalidPayload("SenML pack must be a non-empty array of objects")
    records: list[dict[str, object]] = [r for r in pack if isinstance(r, dict)]
    base = _SENML_BASE.fullmatch(str(records[0].get("bn", "")))
    if base is None:
        raise InvalidPayload("SenML bn must be urn:dev:<device_id>: on the first record")
    base_time = _number(records[0].get("bt"), "SenML bt", bound=1e11)
    seq: int | None = None
    vitals: dict[str, float] = {}
    flags: dict[str, str] = {}
    for index, record in enumerate(records):
        name = record.get("n")
        if name == "seq":
            value = record.get("v")
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
                raise InvalidPayload(f"SenML seq must be an integer, got {_describe(value)}")
            seq = value
        elif isinstance(name, str) and name in UNITS and "vs" in record:
            flags |= _flags({name: record["vs"]})
        elif isinstance(name, str) and name in UNITS:
            if record.get("u") != UNITS[name]:
                raise InvalidPayload(
                    f"SenML record {index} ({name}) has unit {_describe(record.get('u'))}, "
                    f"expected {UNITS[name]!r}"
                )
            vitals[name] = _number(record.get("v"), f"SenML {name}")
        else:
            raise InvalidPayload(f"SenML record {index} has unknown name {_describe(name)}")
    if seq is None:
        raise InvalidPayload("SenML pack has no seq record")
    ts_ms = math.floor((base_time + _number(records[0].get("t", 0), "SenML t", 1e11)) * 1000)
    return Reading(bed, base.group(1), seq, iso_ms(ts_ms), ts_ms, vitals, flags)


def parse_reading(bed: BedRef, payload: bytes) -> Reading:
    """Validate a reading published for ``bed``: schema v1, or a SenML pack.

    A SenML pack names the device in ``bn`` (``urn:dev:<device_id>:``), the
    time in ``bt`` (Unix seconds), carries ``seq`` as a record, each vital as
    a record with its UCUM unit, and a flag as a record with ``vs``.

    Raises:
        InvalidPayload: The payload is neither, with the reason.
    """
    document = _load_json(payload)
    if isinstance(document, list):
        return _senml_reading(bed, document)
    if not isinstance(document, dict):
        raise InvalidPayload(f"payload is a JSON {type(document).__name__}, expected an object")
    version = document.get("v")
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise InvalidPayload(
            f"unsupported schema version {_describe(version)}, expected v={SCHEMA_VERSION}"
        )
    device_id = _device_id(document)
    seq = document.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq < 2**63:
        raise InvalidPayload(f"seq must be an integer from 0 to 2^63-1, got {_describe(seq)}")
    ts = document.get("ts")
    ts_ms = _timestamp_ms(ts, "ts")
    assert isinstance(ts, str)  # checked by _timestamp_ms
    vitals = _vitals(document.get("vitals"))
    flags = _flags(document.get("flags"))
    if not document.keys() <= V1_FIELDS:
        unknown = sorted(set(document) - V1_FIELDS)
        raise InvalidPayload(f"unknown field {unknown[0][:40]!r} in a v1 reading")
    return Reading(bed, device_id, seq, ts, ts_ms, vitals, flags)


def parse_status(bed: BedRef, payload: bytes) -> DeviceStatus:
    """Validate a device status message (``online``/``offline``).

    Raises:
        InvalidPayload: The payload is not a valid status message.
    """
    document = _load_object(payload)
    state = document.get("state")
    if state not in ("online", "offline"):
        raise InvalidPayload(f"state must be 'online' or 'offline', got {_describe(state)}")
    device_id = document.get("device_id")
    if device_id is not None:
        device_id = _device_id(document)
    ts = document.get("ts")
    if ts is not None:
        _timestamp_ms(ts, "ts")
    return DeviceStatus(
        bed,
        "online" if state == "online" else "offline",
        device_id,
        ts if isinstance(ts, str) else None,
    )
