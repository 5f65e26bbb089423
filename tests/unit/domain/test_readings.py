import json

import pytest

from monitor.domain.readings import BedRef, InvalidPayload, parse_reading, parse_status, parse_topic

BED = BedRef("clinic-a", "chair-1")


def payload(**changes: object) -> bytes:
    document: dict[str, object] = {
        "v": 1, "device_id": "mon-07", "seq": 1842, "ts": "2026-11-21T14:03:07.250Z",
        "vitals": {"hr": 72, "spo2": 98, "rr": 14, "etco2": 36, "sbp": 128, "dbp": 82, "map": 97},
        "flags": {"spo2": "sensor_off"},
    }
    document.update(changes)
    return json.dumps({k: v for k, v in document.items() if v is not ...}).encode()


def test_the_design_example_is_accepted() -> None:
    reading = parse_reading(BED, payload())
    assert reading.device_id == "mon-07"
    assert reading.seq == 1842
    assert reading.ts == "2026-11-21T14:03:07.250Z"
    assert reading.ts_ms == 1795269787250
    assert reading.vitals["sbp"] == 128.0
    assert reading.flags == {"spo2": "sensor_off"}


def test_vitals_and_flags_may_be_absent_or_partial() -> None:
    reading = parse_reading(BED, payload(vitals={"hr": 60}, flags=...))
    assert reading.vitals == {"hr": 60.0}
    assert reading.flags == {}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json", "payload is not JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[1, 2]", "SenML pack must be a non-empty array of objects"),
        (b'"text"', "JSON str, expected an object"),
        (payload(v=2), "unsupported schema version int 2"),
        (payload(v=...), "unsupported schema version null"),
        (payload(v=True), "unsupported schema version"),
        (payload(device_id="mon 07"), "device_id must be"),
        (payload(seq=-1), "seq must be an integer"),
        (payload(seq="12"), "seq must be an integer"),
        (payload(seq=1.5), "seq must be an integer"),
        (payload(ts="yesterday"), "is not an ISO 8601 timestamp"),
        (payload(ts="2026-11-21T14:03:07"), "has no UTC offset"),
        (payload(vitals={"glucose": 90}), "vitals.glucose is not a known vital"),
        (payload(vitals={"hr": "72"}), "vitals.hr must be a number"),
        (payload(vitals={"hr": True}), "vitals.hr must be a number"),
        (payload(vitals={"hr": 1e300}), "vitals.hr must be a finite number"),
        (b'{"v":1,"device_id":"m","seq":1,"ts":"2026-11-21T14:03:07Z","vitals":{"hr":NaN}}',
         "payload is not JSON: unexpected character, expected a JSON value at char 74"),
        (b'{"v":1,"device_id":"m","seq":1,"ts":"2026-11-21T14:03:07Z","vitals":{"hr":1e999}}',
         "payload is not JSON: number is infinity"),
        (payload(flags={"hr": "broken"}), "flags.hr must be one of"),
        (payload(extra=1), "unknown field 'extra'"),
        (b"[" * 60_000, "payload is not JSON"),
        (b" " * 70_000, "more than 65536"),
    ],
)
def test_invalid_payloads_are_refused_with_the_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidPayload, match=reason.replace("(", r"\(")):
        parse_reading(BED, raw)


def test_topics() -> None:
    assert parse_topic("infusion/a/b-1/vitals") == (BedRef("a", "b-1"), "vitals")
    assert parse_topic("infusion/a/b/status") == (BedRef("a", "b"), "status")
    bad_topics = ("infusion/a/b/other", "infusion/a b/c/vitals", "other/a/b/vitals", "infusion/a/v")
    for bad in bad_topics:
        with pytest.raises(InvalidPayload, match="is not infusion"):
            parse_topic(bad)


def test_status() -> None:
    status = parse_status(BED, b'{"state": "offline", "device_id": "mon-07"}')
    assert (status.state, status.device_id) == ("offline", "mon-07")
    with pytest.raises(InvalidPayload, match="state must be"):
        parse_status(BED, b'{"state": "asleep"}')


def senml(*records: dict[str, object]) -> bytes:
    base = {"bn": "urn:dev:mon-07:", "bt": 1795269787.25, "n": "seq", "v": 1842}
    return json.dumps([base, *records]).encode()


def test_a_senml_pack_is_a_reading() -> None:
    reading = parse_reading(BED, senml(
        {"n": "hr", "u": "/min", "v": 72}, {"n": "sbp", "u": "mm[Hg]", "v": 128},
        {"n": "spo2", "vs": "sensor_off"},
    ))
    assert (reading.device_id, reading.seq, reading.ts_ms) == ("mon-07", 1842, 1795269787250)
    assert reading.ts == "2026-11-21T14:03:07.250Z"
    assert reading.vitals == {"hr": 72.0, "sbp": 128.0}
    assert reading.flags == {"spo2": "sensor_off"}


def test_a_body_temperature_is_a_vital_in_json_and_in_senml_in_cel() -> None:
    assert parse_reading(BED, payload(vitals={"temp": 37.2})).vitals == {"temp": 37.2}
    reading = parse_reading(BED, senml({"n": "temp", "u": "Cel", "v": 38.4}))
    assert reading.vitals == {"temp": 38.4}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (senml({"n": "hr", "u": "beats", "v": 72}), "has unit str \"beats\", expected '/min'"),
        (senml({"n": "hr", "u": "/min", "v": "72"}), "SenML hr must be a number"),
        (senml({"n": "glucose", "u": "mg/dL", "v": 90}), "unknown name str \"glucose\""),
        (senml({"n": "temp", "u": "degC", "v": 37}), "has unit str \"degC\", expected 'Cel'"),
        (json.dumps([{"bn": "mon-07", "bt": 1, "n": "seq", "v": 1}]).encode(), "SenML bn must be"),
        (json.dumps([{"bn": "urn:dev:m:", "bt": 1, "n": "hr", "u": "/min", "v": 1}]).encode(),
         "no seq record"),
        (json.dumps([{"bn": "urn:dev:m:", "n": "seq", "v": 1}]).encode(), "SenML bt must be"),
    ],
)
def test_bad_senml_is_refused_with_the_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidPayload, match=reason):
        parse_reading(BED, raw)
