"""The demo: simulated chairs on the monitor's broker, their sessions run by the clock.

Each chair's patient goes through baseline, a 40-min infusion and observation;
the demo moves each bed's session through the same phases (as a nurse would
through the dashboard) and opens a new session when the chair starts over.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from device_sim.device import ChairSpec, SimulatedMonitor
from device_sim.lifecycle import SessionDriver
from device_sim.runner import run_devices
from monitor.app.session_service import SessionService
from monitor.domain.readings import BedRef
from monitor.domain.sessions import PHASES, PhaseError, as_phase
from monitor.service import Started

log = logging.getLogger(__name__)

PHASE_CHECK_S: Final = 0.5
DEMO_USER: Final = "demo"
DEMO_END: Final = "the demo's scripted session is over"
"""Why the demo ends a session without a fit-to-leave checklist (audited as an override)."""


class DemoSessions:
    """The monitor's session service as the simulator's session port."""

    def __init__(self, sessions: SessionService) -> None:
        self._sessions = sessions

    async def create(self, site: str, bed: str, patient_ref: str) -> str:
        """Open a session at the bed, ending the one still open there."""
        current = self._sessions.open_at(BedRef(site, bed))
        if current is not None:
            await self._sessions.advance(current.id, "ended", DEMO_USER, acknowledge_alarms=True,
                                         override_reason=DEMO_END)
        return (await self._sessions.create(BedRef(site, bed), patient_ref, None, DEMO_USER)).id

    async def advance(self, session_id: str, phase: str) -> None:
        """Move the session on, unless a nurse has taken it there (or past it) already."""
        wanted = as_phase(phase)
        try:
            # The demo's scripted nurse has seen every warning and alarm.
            await self._sessions.advance(session_id, wanted, DEMO_USER,
                                         acknowledge_warnings=True, acknowledge_alarms=True,
                                         override_reason=DEMO_END if wanted == "ended" else None)
        except PhaseError:
            current = (await self._sessions.get(session_id)).phase
            if PHASES.index(current) < PHASES.index(wanted):
                raise
            log.info("session %s is %s already (a nurse moved it): the demo leaves it",
                     session_id, current)


async def _drive(sessions: SessionService, devices: list[SimulatedMonitor]) -> None:
    driver = SessionDriver(DemoSessions(sessions))
    while True:
        for device in devices:
            await driver.follow(device)
        await asyncio.sleep(PHASE_CHECK_S)


async def run_demo(started: Started, specs: list[ChairSpec], speed: float) -> None:
    """Run the simulated chairs and their sessions until cancelled, ``speed`` times real time.

    The board then counts in the chairs' simulated time, so that a 40-min
    infusion reads as 40 min.
    """
    started.board.time_scale = speed
    devices = [SimulatedMonitor(spec) for spec in specs]
    async with asyncio.TaskGroup() as group:
        group.create_task(run_devices(started.broker_url, devices, speed=speed), name="demo-chairs")
        group.create_task(_drive(started.sessions, devices), name="demo-sessions")
