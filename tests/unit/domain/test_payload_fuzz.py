"""Fuzzing the MQTT payload path: 100,000+ generated payloads, none crashes the parser.

Every payload is either refused with a reason, or accepted as a reading that
says exactly what the payload said (finite values, known vitals, the seq and
time given). Valid readings mutated in one place are refused for that place.
"""

from __future__ import annotations

import json
import math
import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.domain.readings import (
    UNITS,
    BedRef,
    InvalidPayload,
    Reading,
    iso_ms,
    parse_reading,
)

BED = BedRef("s", "b")
FUZZ = settings(max_examples=3_000, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)
vitals = st.dictionaries(st.sampled_from(sorted(UNITS)),
                         st.floats(min_value=-1e5, max_value=1e5, allow_nan=False), max_size=7)
valid = st.fixed_dictionaries({
    "v": st.just(1), "device_id": st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True),
    "seq": st.integers(min_value=0, max_value=2**63 - 1),
    "ts": st.integers(min_value=0, max_value=4_000_000_000_000).map(iso_ms),
    "vitals": vitals,
})


def check(payload: bytes) -> Reading | None:
    try:
        reading = parse_reading(BED, payload)
    except InvalidPayload as error:
        reason = str(error)
        assert reason, "a refusal must say why"
        return None
    assert reading.bed == BED
    assert set(reading.vitals) <= set(UNITS)
    assert all(math.isfinite(v) for v in reading.vitals.values())
    assert 0 <= reading.seq < 2**63
    return reading


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes(payload: bytes) -> None:
    check(payload)


@FUZZ
@given(documents)
def test_random_json_documents(document: Any) -> None:
    check(json.dumps(document, allow_nan=True).encode())


@FUZZ
@given(valid)
def test_valid_readings_are_accepted_unchanged(document: dict[str, Any]) -> None:
    reading = check(json.dumps(document).encode())
    assert reading is not None
    assert (reading.device_id, reading.seq, reading.ts) == (
        document["device_id"], document["seq"], document["ts"])
    assert reading.vitals == {k: float(v) for k, v in document["vitals"].items()}


@FUZZ
@given(valid, st.sampled_from(["v", "device_id", "seq", "ts", "vitals"]), documents)
def test_one_wrong_field_is_refused_or_harmless(
    document: dict[str, Any], field: str, value: Any
) -> None:
    document[field] = value
    check(json.dumps(document, allow_nan=True).encode())


@FUZZ
@given(st.integers(min_value=1, max_value=5000))
def test_deep_and_huge_documents(depth: int) -> None:
    check(b"[" * depth + b"]" * depth)
    check(b'{"v": 1, "vitals": {"hr": 1' + b"0" * depth + b"}}")


MUTATIONS = 100_000


def test_a_hundred_thousand_mutated_payloads() -> None:
    """Seeded mutation fuzzing: valid readings (JSON and SenML) broken in many ways."""
    rng = random.Random(20261121)
    bad_values: list[Any] = [None, True, "72", [], {}, -1, 2**64, 1e308, "NaN", "", "x" * 500,
                             {"nested": [1, 2, {"deep": None}]}]
    refused = accepted = 0
    for n in range(MUTATIONS):
        base: dict[str, Any] = {"v": 1, "device_id": f"d{n % 97}", "seq": n,
                                "ts": "2026-11-21T14:03:07.250Z",
                "vitals": {"hr": 72.0, "spo2": 98.0, "sbp": 128.0}}
        kind = n % 6
        if kind == 0:
            payload = rng.randbytes(rng.randrange(0, 200))
        elif kind == 1:  # one field gets a wrong value
            base[rng.choice(list(base))] = rng.choice(bad_values)
            payload = json.dumps(base).encode()
        elif kind == 2:  # a vital gets a wrong, huge or non-finite value
            base["vitals"][rng.choice(["hr", "spo2", "temp"])] = rng.choice(
                [*bad_values, math.nan, math.inf, -math.inf, rng.uniform(-1e9, 1e9)])
            payload = json.dumps(base, allow_nan=True).encode()
        elif kind == 3:  # SenML with a wrong unit, name or type somewhere
            pack = [{"bn": f"urn:dev:d{n}:", "bt": 1795269787.25, "n": "seq", "v": n},
                    {"n": "hr", "u": "/min", "v": 72}]
            pack[rng.randrange(2)][rng.choice(["n", "u", "v", "bn", "bt"])] = rng.choice(
                [*bad_values, "beats", "mm[Hg]"])
            payload = json.dumps(pack).encode()
        elif kind == 4:  # truncated or corrupted bytes of a valid payload
            text = bytearray(json.dumps(base).encode())
            text[rng.randrange(len(text))] = rng.randrange(256)
            payload = bytes(text[: rng.randrange(1, len(text) + 1)])
        else:  # valid: must come through unchanged
            payload = json.dumps(base).encode()
        reading = check(payload)
        if kind == 5:
            assert reading is not None
            assert (reading.seq, reading.vitals) == (n, base["vitals"])
        accepted += reading is not None
        refused += reading is None
    assert accepted + refused == MUTATIONS
    assert refused > MUTATIONS // 2
