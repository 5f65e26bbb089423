"""The demo: simulated chairs on the monitor's broker, their sessions run by the clock.

Each chair's patient goes through baseline, a 40-min infusion and observation;
the demo moves each bed's session through the same phases (as a nurse would
through the API) and opens a new session when the chair starts over.
"""

from __future__ import annotations

import asyncio
from typing import Final

from device_sim.chairs import Chair, ChairSpec
from device_sim.physiology import phase_at
from monitor.adapters.mqtt import BrokerAddress
from monitor.domain.readings import BedRef
from monitor.domain.sessions import PHASES
from monitor.service import Started
from monitor.sessions import SessionService

PHASE_CHECK_S: Final = 0.5
DEMO_USER: Final = "demo"


async def _follow(sessions: SessionService, chair: Chair) -> None:
    bed = BedRef(chair.spec.site, chair.spec.bed)
    wanted = phase_at(chair.session_t_s)
    session = sessions.open_at(bed)
    if session is not None and PHASES.index(session.phase) > PHASES.index(wanted):
        await sessions.advance(session.id, "ended", DEMO_USER)
        session = None
    if session is None:
        session = await sessions.create(bed, f"demo-{chair.spec.bed}-{chair.seq}")
    while session.phase != wanted:
        session = await sessions.advance(
            session.id, PHASES[PHASES.index(session.phase) + 1], DEMO_USER
        )


async def _drive_sessions(sessions: SessionService, chairs: list[Chair]) -> None:
    while True:
        for chair in chairs:
            await _follow(sessions, chair)
        await asyncio.sleep(PHASE_CHECK_S)


async def run_demo(started: Started, specs: list[ChairSpec]) -> None:
    """Run the simulated chairs and their sessions until cancelled."""
    address = BrokerAddress.parse(started.broker_url)
    chairs = [Chair(spec) for spec in specs]
    async with asyncio.TaskGroup() as group:
        for chair in chairs:
            group.create_task(chair.run(address), name=f"chair-{chair.spec.bed}")
        group.create_task(_drive_sessions(started.sessions, chairs), name="demo-sessions")
