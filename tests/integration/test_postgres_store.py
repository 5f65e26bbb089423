"""The record store's behaviour, the same on SQLite and on a real PostgreSQL.

Every test of ``store`` runs once per backend; the PostgreSQL one gets a
fresh database of a server the module starts (Debian's ``postgresql``).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from pydantic import SecretStr

from monitor.adapters import postgres, sqlite
from monitor.adapters.postgres import DatabaseError, PostgresStore
from monitor.adapters.sqlite import SqliteStore
from monitor.app.ports import Batch, DeadLetter, StoredReading
from monitor.domain.alarms import Alarm, AlarmEvent
from monitor.domain.assessments import AdverseEvent, Assessment
from monitor.domain.discharge import DischargeChecklist
from monitor.domain.infusion import InfusionEvent
from monitor.domain.readings import BedRef, Reading
from monitor.domain.sessions import Session
from tests.servers import Postgres, free_port
from tests.servers import postgres as start_postgres

pytestmark = pytest.mark.integration

Store = SqliteStore | PostgresStore
DAY_MS = 86_400_000
T0 = 1_763_900_000_000  # 2025-11-23, 12:13 UTC
BED = BedRef("clinic", "b1")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Postgres]:
    with start_postgres(tmp_path_factory.mktemp("postgres")) as running:
        yield running


def database(server: Postgres) -> str:
    return server.create_database("t" + uuid.uuid4().hex[:12])


def build(backend: str, server: Postgres, tmp_path: Path, **caps: int) -> Store:
    if backend == "sqlite":
        return sqlite.build(sqlite.SqliteConfig(path=tmp_path / "monitor.db", **caps))
    return postgres.build(postgres.PostgresConfig(url=SecretStr(database(server)), **caps))


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, server: Postgres,
                tmp_path: Path) -> AsyncIterator[Store]:
    opened = build(request.param, server, tmp_path, dead_letters_max_rows=3,
                   dead_letters_max_bytes=4096 * 4)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


def stored(seq: int, ts_ms: int, session_id: str | None = "s1", device_id: str = "mon-1",
           **vitals: float) -> StoredReading:
    reading = Reading(BED, device_id, seq, f"ts-{seq}", ts_ms, vitals or {"hr": 70.0},
                      {"spo2": "sensor_off"} if seq == 2 else {})
    return StoredReading(reading, session_id, ts_ms + 5)


def alarm(state: str = "active", **changes: object) -> Alarm:
    fields: dict[str, object] = {
        "id": "a1", "bed": BED, "session_id": "s1", "kind": "physiological", "code": "hr_high",
        "vital": "hr", "priority": "high", "state": state, "value": 130.0, "limit": 120.0,
        "raised_ms": T0, "updated_ms": T0, "onset_value": 125.0, "worst_value": 130.0,
    } | changes
    return Alarm(**fields)  # type: ignore[arg-type]


def session(session_id: str, started_ms: int, patient_ref: str = "p1",
            phase: str = "baseline") -> Session:
    return Session(id=session_id, bed=BED, patient_ref=patient_ref, phase=phase,  # type: ignore[arg-type]
                   phase_started_ms={"baseline": started_ms}, profile="ketamine-default",
                   baseline={"sbp": 120.0}, warnings=("resting BP high",),
                   overrides={"hr": {"high": 130}})


async def test_a_commit_stores_each_reading_once_and_gives_them_back_in_device_time(
    store: Store,
) -> None:
    batch = Batch(readings=[stored(2, T0 + 1000), stored(1, T0, hr=71.0, spo2=97.5),
                            stored(1, T0, device_id="mon-2", temp=36.6)])
    assert await store.write(batch) == 3
    assert await store.write(Batch(readings=[stored(1, T0), stored(3, T0 + 2000)])) == 1
    readings = await store.session_readings("s1")
    assert [(r.device_id, r.seq, r.ts_ms) for r in readings] == [
        ("mon-1", 1, T0), ("mon-2", 1, T0), ("mon-1", 2, T0 + 1000), ("mon-1", 3, T0 + 2000)]
    assert readings[0].vitals == {"hr": 71.0, "spo2": 97.5}
    assert readings[1].vitals == {"temp": 36.6}
    assert readings[2].flags == {"spo2": "sensor_off"}
    assert readings[0].bed == BED
    assert [r.seq for r in await store.session_readings("s1", T0 + 500, T0 + 1500)] == [2]
    assert store.reading_source().readings("s1") == readings
    assert await store.recent_sequences(T0 + 1000) == [("clinic/b1/mon-1", 2, T0 + 1000),
                                                       ("clinic/b1/mon-1", 3, T0 + 2000)]


async def test_readings_of_many_days_are_stored_and_pruned_by_measurement_time(
    store: Store,
) -> None:
    days = [T0 - 3 * DAY_MS, T0 - DAY_MS, T0]
    assert await store.write(Batch(readings=[stored(i, ts) for i, ts in enumerate(days)])) == 3
    await store.prune(T0 - DAY_MS + 1)
    assert [r.ts_ms for r in await store.session_readings("s1")] == [T0]
    assert await store.write(Batch(readings=[stored(9, T0 - 3 * DAY_MS)])) == 1


async def test_a_failing_batch_stores_none_of_its_records(store: Store) -> None:
    refused = DeadLetter(T0, None, b"x", "no topic", 1)  # type: ignore[arg-type]
    bad = Batch(readings=[stored(1, T0)], outbox=["vitals hr=70 1"],
                alarm_events=[AlarmEvent("raised", alarm())], dead_letters=[refused])
    with pytest.raises(Exception):  # noqa: B017, PT011 - each backend's own error
        await store.write(bad)
    assert await store.session_readings("s1") == []
    assert await store.outbox_depth() == 0
    assert await store.alarms() == []
    assert await store.alarm_history("a1") == []
    assert await store.write(Batch(readings=[stored(1, T0)])) == 1


async def test_alarm_events_keep_the_alarm_as_it_stands_and_its_history(store: Store) -> None:
    raised = AlarmEvent("raised", alarm())
    acked = AlarmEvent("acknowledged", alarm("acknowledged", acknowledged_by="kim",
                                             acknowledged_ms=T0 + 10, updated_ms=T0 + 10),
                       user="kim", at_ms=T0 + 10)
    await store.write(Batch(alarm_events=[raised, acked]))
    await store.write(Batch(alarm_events=[AlarmEvent("paged", alarm("cleared"), detail="x")]))
    [kept] = await store.alarms()
    assert kept == acked.alarm
    assert await store.alarms("open") == [kept]
    assert await store.alarms("cleared") == []
    assert await store.alarms(session_id="other") == []
    history = await store.alarm_history("a1")
    assert [(h["transition"], h["state"], h["user"], h["limit"], h["detail"])
            for h in history] == [("raised", "active", None, 120.0, None),
                                  ("acknowledged", "acknowledged", "kim", 120.0, None),
                                  ("paged", "cleared", None, 120.0, "x")]
    assert [h["at_ms"] for h in history] == [T0, T0 + 10, T0]


async def test_dead_letters_are_kept_within_their_caps(store: Store) -> None:
    letters = [DeadLetter.of(T0 + i, f"topic/{i}", b"\xff" + b"p" * 5000, f"bad {i}")
               for i in range(5)]
    await store.write(Batch(dead_letters=letters[:2]))
    await store.write(Batch(dead_letters=letters[2:]))
    kept = await store.dead_letters(10)
    assert [d["topic"] for d in kept] == ["topic/4", "topic/3", "topic/2"]
    assert kept[0]["size"] == 5001
    assert kept[0]["payload"] == "\ufffd" + "p" * 4095
    assert store.dead_letters_pruned == 2


async def test_the_outbox_gives_lines_in_order_and_forgets_those_shipped(store: Store) -> None:
    assert await store.write(Batch(outbox=["a 1", "b 2"])) == 2
    await store.write(Batch(outbox=["c 3"]))
    lines = await store.outbox_peek(2)
    assert [line for _, line in lines] == ["a 1", "b 2"]
    await store.outbox_done(lines[-1][0])
    assert await store.outbox_depth() == 1
    assert [line for _, line in await store.outbox_peek(10)] == ["c 3"]


async def test_sessions_are_saved_updated_and_listed_oldest_first(store: Store) -> None:
    await store.save_session(session("s-late", T0 + 60_000))
    await store.save_session(session("s-early", T0, patient_ref="p2"))
    await store.save_session(session("s-late", T0 + 60_000, phase="ended"))
    assert await store.session("s-late") == session("s-late", T0 + 60_000, phase="ended")
    assert await store.session("nope") is None
    assert [s.id for s in await store.sessions(open_only=True)] == ["s-early"]
    assert [s.id for s in await store.sessions()] == ["s-early", "s-late"]
    await store.save_session(session("s-third", T0 + 120_000))
    assert await store.patient_session_ids("p1") == ["s-late", "s-third"]


async def test_tokens_notes_audit_and_reports(store: Store) -> None:
    first = await store.add_token("kim", "nurse", "hash-1", T0)
    second = await store.add_token("lee", "admin", "hash-2", T0 + 1)
    assert await store.revoke_token(first, T0 + 2) == "hash-1"
    assert await store.revoke_token(first, T0 + 3) is None
    assert await store.tokens() == [{"id": second, "name": "lee", "role": "admin",
                                     "hash": "hash-2", "created_ms": T0 + 1}]
    await store.add_note("s1", T0, "kim", "patient comfortable")
    assert await store.notes("s1") == [{"at_ms": T0, "user": "kim",
                                        "text": "patient comfortable"}]
    await store.audit(T0, "kim", "phase", "s1", {"to": "infusion"})
    assert await store.audit_log("s1") == [{"at_ms": T0, "user": "kim", "action": "phase",
                                            "detail": {"to": "infusion"}}]
    await store.save_report("s1", T0, {"v": 1})
    await store.save_report("s1", T0 + 1, {"v": 2})
    assert await store.saved_report("s1") == {"v": 2}
    assert await store.saved_report("s2") is None


async def test_the_care_record(store: Store) -> None:
    event = InfusionEvent(T0, "rate", "kim", 0.6, "nausea")
    await store.add_infusion_event("s1", event)
    assert await store.infusion_events("s1") == [event]
    await store.add_assessment("s1", Assessment(T0, "kim", "moaas", 4))
    assert await store.assessments("s1") == [Assessment(T0, "kim", "moaas", 4)]
    adverse = AdverseEvent(0, T0, "kim", "nausea_vomiting", "mild", {"ondansetron": "4 mg"},
                           "resolved", None)
    first = await store.add_adverse_event("s1", adverse)
    second = await store.add_adverse_event("s1", adverse)
    assert second > first
    assert [e.id for e in await store.adverse_events("s1")] == [first, second]
    assert (await store.adverse_events("s1"))[0].intervention == {"ondansetron": "4 mg"}
    assert await store.checklist("s1") is None
    checklist = DischargeChecklist(T0, "kim", "aldrete", 9, True, False, "{}")
    await store.save_checklist("s1", checklist)
    assert await store.checklist("s1") == checklist
    with pytest.raises(Exception):  # noqa: B017, PT011 - a session has one checklist
        await store.save_checklist("s1", checklist)


async def test_a_restart_after_a_crash_knows_when_the_monitor_was_last_seen(
    store: Store,
) -> None:
    assert await store.mark_running(T0) is None
    await store.mark_seen(T0 + 5)
    assert await store.mark_running(T0 + 10) == T0 + 5
    await store.mark_stopped()
    assert await store.mark_running(T0 + 20) is None


async def test_a_postgres_store_reconnects_after_its_connections_are_cut(
    server: Postgres,
) -> None:
    store = postgres.build(postgres.PostgresConfig(url=SecretStr(database(server))))
    await store.open()
    try:
        await store.write(Batch(readings=[stored(1, T0)]))
        with psycopg.connect(server.url(), autocommit=True) as admin:
            cut = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                "WHERE application_name = 'infusion-monitor'").fetchone()
        assert cut is not None
        assert cut[0] >= 1
        assert await store.write(Batch(readings=[stored(2, T0)])) == 1
    finally:
        await store.close()


async def test_a_postgres_store_fails_commits_while_the_server_is_down_and_then_works(
    tmp_path: Path,
) -> None:
    with start_postgres(tmp_path) as own:
        store = postgres.build(postgres.PostgresConfig(url=SecretStr(database(own)), timeout_s=2))
        await store.open()
        try:
            own.stop()
            with pytest.raises(OSError, match=r"postgresql://monitor@127\.0\.0\.1") as failed:
                await store.write(Batch(readings=[stored(1, T0)]))
            assert own.password not in str(failed.value)
            own.start()
            assert await store.write(Batch(readings=[stored(1, T0)])) == 1
        finally:
            await store.close()


async def test_an_unreachable_database_is_an_os_error_that_names_no_password(
    server: Postgres,
) -> None:
    url = server.url("nodb").replace(f":{server.port}/", f":{free_port()}/")
    store = postgres.build(postgres.PostgresConfig(url=SecretStr(url), timeout_s=1))
    with pytest.raises(DatabaseError) as refused:
        await store.open()
    assert isinstance(refused.value, OSError)
    assert server.password not in str(refused.value)
    assert "postgresql://monitor@127.0.0.1" in str(refused.value)


def test_a_url_of_another_scheme_is_refused_without_its_password() -> None:
    with pytest.raises(ValueError, match="expected postgresql://") as refused:
        postgres.PostgresConfig(url=SecretStr("mysql://user:hunter22@host/db"))
    assert "hunter22" not in str(refused.value)
