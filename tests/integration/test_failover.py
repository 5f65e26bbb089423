"""Two monitors on one PostgreSQL: one active, one standby that takes over.

Real Mosquitto and PostgreSQL; the monitors run as processes of their own
(``monitor run``), so that the active can be SIGKILLed or cut off from the
database. ``failover_s`` is short so each test takes seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import psycopg
import pytest
from pydantic import SecretStr

from monitor.adapters import postgres
from monitor.adapters.postgres_lease import PostgresLease
from monitor.app.ports import Batch, LeaseLostError, StoredReading
from monitor.domain.readings import BedRef, Reading
from tests.integration.conftest import BOOTSTRAP, Mosquitto, eventually
from tests.servers import ChairStream, MonitorProcess, Postgres, stored_readings
from tests.servers import postgres as start_postgres

pytestmark = pytest.mark.integration

FAILOVER_S = 4
BEDS = [f"chair-{n:02d}" for n in range(1, 21)]
ALARMING = "chair-01"
"""Its SpO2 of 80 raises a high alarm at once, and it stands while nobody acknowledges it."""
CALM: dict[str, float] = {"sbp": 120, "dbp": 75, "hr": 70, "rr": 14, "spo2": 98, "etco2": 36}


def vitals(bed: str) -> dict[str, float]:
    return {**CALM, "spo2": 80} if bed == ALARMING else CALM


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Postgres]:
    with start_postgres(tmp_path_factory.mktemp("postgres")) as running:
        yield running


@pytest.fixture
def database(server: Postgres) -> str:
    return server.create_database("f" + uuid.uuid4().hex[:12])


def paging_file(directory: Path) -> Path:
    """High alarms paged to ``pages.log`` in each monitor's data directory."""
    path = directory / "paging.toml"
    path.write_text('[targets.trail]\nkind = "log"\npath = "pages.log"\n\n'
                    '[[tiers]]\nname = "nurses"\npriorities = ["high"]\ntargets = ["trail"]\n')
    return path


async def role(monitor: MonitorProcess) -> str:
    """'active' (200), 'standby' (503 saying so), or what else it answers."""
    code, body = await monitor.readyz()
    if code == 200:
        return "active"
    return str(body.get("role", code))


@pytest.fixture
async def pair(database: str, mosquitto: Mosquitto, site: str,
               tmp_path: Path) -> AsyncIterator[list[MonitorProcess]]:
    """Monitors '<site>-a' (active) and '<site>-b' (standby), with the same broker client id."""
    env = {"MONITOR_MQTT_URL": mosquitto.url, "MONITOR_MQTT_CLIENT_ID": f"monitor-{site}",
           "MONITOR_MQTT_SITES": json.dumps([site]), "MONITOR_DATABASE_URL": database,
           "MONITOR_STORE": "postgres", "MONITOR_BOOTSTRAP_TOKEN": BOOTSTRAP,
           "MONITOR_PAGING_FILE": str(paging_file(tmp_path)),
           "MONITOR_FAILOVER_S": str(FAILOVER_S), "MONITOR_TICK_INTERVAL_S": "0.2"}
    monitors = [MonitorProcess(tmp_path / name, env | {"MONITOR_INSTANCE": f"{site}-{name}"})
                for name in ("a", "b")]
    try:
        for monitor, expected in zip(monitors, ("active", "standby"), strict=True):
            monitor.start()
            await eventually(lambda m=monitor, e=expected: _is(m, e), timeout_s=20)
        yield monitors
    finally:
        for monitor in monitors:
            monitor.stop()


async def _is(monitor: MonitorProcess, expected: str) -> bool:
    return await role(monitor) == expected


def api(monitor: MonitorProcess) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=monitor.url, timeout=10,
                             headers={"Authorization": f"Bearer {BOOTSTRAP}"})


async def ok(response: httpx.Response, code: int = 200) -> Any:
    assert response.status_code == code, response.text
    return response.json()


async def open_sessions(monitor: MonitorProcess, site: str, beds: list[str]) -> None:
    async with api(monitor) as http:
        for bed in beds:
            await ok(await http.post("/api/sessions", json={
                "site": site, "bed": bed, "patient_ref": f"p-{bed}"}), 201)


async def standing_alarm(monitor: MonitorProcess) -> dict[str, Any]:
    """The high alarm of :data:`ALARMING`, once it stands."""
    found: list[dict[str, Any]] = []

    async def raised() -> bool:
        async with api(monitor) as http:
            alarms = (await ok(await http.get("/api/alarms", params={"state": "active"})))
        found[:] = [a for a in alarms["alarms"] if a["bed"] == ALARMING]
        return bool(found)
    await eventually(raised, timeout_s=10)
    [alarm] = found
    assert alarm["priority"] == "high"
    return alarm


def raised_more_than_once(database: str) -> list[tuple[str, int]]:
    with psycopg.connect(database) as db:
        return db.execute("SELECT alarm_id, count(*) FROM alarm_events WHERE "
                          "transition = 'raised' GROUP BY alarm_id HAVING count(*) > 1"
                          ).fetchall()


async def statuses(mosquitto: Mosquitto, site: str) -> dict[str, str]:
    """This test's monitors' retained status: 'a' or 'b' -> what it says."""
    found: dict[str, str] = {}
    async with aiomqtt.Client("127.0.0.1", mosquitto.port) as client:
        await client.subscribe("infusion/system/monitor/+/status", qos=1)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.5):
                async for message in client.messages:
                    instance = str(message.topic).split("/")[3]
                    assert isinstance(message.payload, bytes)
                    if instance.startswith(f"{site}-"):
                        found[instance.removeprefix(f"{site}-")] = message.payload.decode()
    return found


async def all_stored_once(stream: ChairStream, database: str, site: str) -> None:
    """Every published reading is stored, and once (within a few seconds of the last)."""
    await eventually(lambda: set(stored_readings(database, site)) == stream.published,
                     timeout_s=15, interval_s=0.25)
    stored = stored_readings(database, site)
    assert set(stored) == stream.published
    assert set(stored.values()) == {1}


async def test_a_standby_takes_over_from_a_killed_active_and_nothing_is_lost(
    pair: list[MonitorProcess], database: str, mosquitto: Mosquitto, site: str,
) -> None:
    a, b = pair
    await open_sessions(a, site, BEDS)
    stream, stop = ChairStream(mosquitto.port, site, BEDS, vitals), asyncio.Event()
    publishing = asyncio.create_task(stream.run(stop))
    alarm = await standing_alarm(a)
    await asyncio.sleep(2)
    assert await statuses(mosquitto, site) == {"a": "online"}  # a standby does not connect

    a.kill()
    killed = time.monotonic()
    await eventually(lambda: _is(b, "active"), timeout_s=FAILOVER_S + 1, interval_s=0.1)
    assert time.monotonic() - killed <= FAILOVER_S, b.log()
    await asyncio.sleep(2)  # the new active takes the stream
    stop.set()
    await publishing
    await all_stored_once(stream, database, site)
    assert raised_more_than_once(database) == []

    async with api(b) as http:
        active = (await ok(await http.get("/api/alarms", params={"state": "active"})))["alarms"]
        [kept] = [a for a in active if a["bed"] == ALARMING]
        assert (kept["id"], kept["state"], kept["code"]) == (alarm["id"], "active",
                                                              alarm["code"])
        acknowledged = await ok(await http.post(f"/api/alarms/{alarm['id']}/ack"))
        assert acknowledged["state"] == "acknowledged"
        board = await ok(await http.get("/api/board"))
    system = {x["code"]: x["priority"] for bed in board["beds"] if bed["site"] == "system"
              for x in bed["alarms"]}
    assert system.get("monitor_failover") == "high"
    assert "monitor_restarted" not in system

    def paged() -> bool:
        pages = b.directory / "pages.log"
        return pages.exists() and any(json.loads(line)["code"] == "monitor_failover"
                                      for line in pages.read_text().splitlines())
    await eventually(paged, timeout_s=5)
    assert await statuses(mosquitto, site) == {"a": "offline", "b": "online"}

    a.start()
    await eventually(lambda: _is(a, "standby"), timeout_s=20)
    _, body = await a.readyz()
    assert body["reason"] == f"standby: {site}-b is active"
    assert await role(b) == "active"
    assert await statuses(mosquitto, site) == {"a": "offline", "b": "online"}


async def test_an_active_cut_off_from_the_database_stops_at_once_and_the_standby_takes_over(
    pair: list[MonitorProcess], database: str, mosquitto: Mosquitto, site: str,
) -> None:
    a, b = pair
    beds = BEDS[:5]
    await open_sessions(a, site, beds)
    stream, stop = ChairStream(mosquitto.port, site, beds, vitals), asyncio.Event()
    publishing = asyncio.create_task(stream.run(stop))
    await standing_alarm(a)
    await asyncio.sleep(2)

    with psycopg.connect(database, autocommit=True) as db:
        cut = db.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND application_name <> %s", (f"infusion-monitor-lease/{site}-b",)).fetchone()
    assert cut is not None
    assert cut[0] >= 2  # its lease connection and its store's
    assert a.process is not None
    exit_code = await asyncio.to_thread(a.process.wait, 2)
    assert exit_code != 0
    assert "lost the lease" in a.log()

    await eventually(lambda: _is(b, "active"), timeout_s=FAILOVER_S + 1, interval_s=0.1)
    await asyncio.sleep(2)
    stop.set()
    await publishing
    await all_stored_once(stream, database, site)
    assert raised_more_than_once(database) == []


async def test_an_active_stopped_in_order_hands_over_without_a_failover_alarm(
    pair: list[MonitorProcess], mosquitto: Mosquitto, site: str,
) -> None:
    a, b = pair
    a.stop()
    assert a.process is not None
    assert a.process.returncode == 0
    await eventually(lambda: _is(b, "active"), timeout_s=FAILOVER_S + 1, interval_s=0.1)
    async with api(b) as http:
        board = await ok(await http.get("/api/board"))
    system = {x["code"] for bed in board["beds"] if bed["site"] == "system"
              for x in bed["alarms"]}
    assert not system & {"monitor_failover", "monitor_restarted"}
    assert await statuses(mosquitto, site) == {"a": "offline", "b": "online"}


async def test_an_old_active_can_write_nothing_once_another_has_begun_its_term(
    database: str,
) -> None:
    leases = [PostgresLease(SecretStr(database), instance=name, failover_s=FAILOVER_S)
              for name in ("old", "new")]
    stores = [postgres.build(postgres.PostgresConfig(url=SecretStr(database))) for _ in leases]
    for store in stores:
        await store.open()
    try:
        old, new = leases
        assert await old.try_acquire()
        await old.begin_term()
        stores[0].fence = old.fence
        assert not await new.try_acquire()
        assert new.holder == "old"

        def batch(seq: int) -> Batch:
            reading = Reading(BedRef("fence", "chair-1"), "mon-1", seq, f"ts-{seq}",
                              1_700_000_000_000 + seq, {"hr": 70.0}, {})
            return Batch(readings=[StoredReading(reading, None, 1_700_000_000_000 + seq)])
        assert await stores[0].write(batch(1)) == 1

        await old.close()  # its connection, and so its lock, is gone
        # (the server lets go of the lock when its backend has ended, just after the close)
        await eventually(new.try_acquire, timeout_s=5)
        await new.begin_term()
        stores[1].fence = new.fence
        with pytest.raises(LeaseLostError):
            await stores[0].write(batch(2))
        with pytest.raises(LeaseLostError):
            await stores[0].add_note("s1", 1, "nurse", "from the old active")
        with pytest.raises(LeaseLostError):
            await stores[0].add_token("late", "nurse", "hash", 1)
        with pytest.raises(LeaseLostError):
            await old.check()
        assert await stores[1].write(batch(3)) == 1
        await new.check()
        assert sorted(seq for (_, seq) in stored_readings(database, "fence")) == [1, 3]
    finally:
        for lease in leases:
            await lease.close()
        for store in stores:
            await store.close()
