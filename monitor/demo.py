"""The demo: simulated chairs on the monitor's broker, their sessions run by the clock.

Each chair's patient goes through baseline, a 40-min infusion and observation;
the demo moves each bed's session through the same phases (as a nurse would
through the dashboard) and opens a new session when the chair starts over.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Final

from device_sim.device import ChairSpec, SimulatedMonitor
from device_sim.lifecycle import SessionDriver
from device_sim.runner import run_devices
from monitor.app.care_service import CareService, NotFitToLeaveError
from monitor.app.session_service import SessionService
from monitor.domain.assessments import Scale
from monitor.domain.infusion import InfusionError, InfusionPlan
from monitor.domain.readings import BedRef
from monitor.domain.sessions import PHASES, PhaseError, as_phase
from monitor.service import Started
from monitor.settings import PROJECT_ROOT

log = logging.getLogger(__name__)

PHASE_CHECK_S: Final = 0.5
DEMO_MIX: Final = {"bed-02": "hypertensive-surge", "bed-04": "desaturation",
                   "bed-05": "sensor-off"}
"""What the demo's chairs show: most are normal; one surges, one desaturates later in its
session, one loses its SpO2 sensor (beds the demo does not have are left out)."""
DEMO_PAGING: Final = PROJECT_ROOT / "config" / "paging-demo.toml"
"""The demo's paging (unless the settings name a paging file): a local log and the topic."""
DEMO_PAGES: Final = "pages.log"
"""Where in the data directory the demo's paging writes its pages (``DEMO_PAGING`` names it)."""
DEMO_USER: Final = "demo"
DEMO_END: Final = "the demo's scripted session is over"
"""Why the demo ends a session without a fit-to-leave checklist (audited as an override)."""


class DemoSessions:
    """The monitor's session and care services as the simulator's session port.

    The demo's scripted nurse has seen every warning and alarm; it signs a
    patient out when the checklist allows, and otherwise ends the session
    with an override (audited), as the demo's clock runs faster than the
    observation the readiness rule asks for.
    """

    def __init__(self, sessions: SessionService, care: CareService) -> None:
        self._sessions = sessions
        self._care = care

    async def create(self, site: str, bed: str, patient_ref: str,
                     plan: Mapping[str, float]) -> str:
        """Open a session at the bed with its infusion order, ending the one still open there."""
        current = self._sessions.open_at(BedRef(site, bed))
        if current is not None:
            await self._end(current.id)
        order = InfusionPlan(plan["weight_kg"], plan["dose_mg_per_kg"], plan["duration_min"],
                             concentration_mg_per_ml=self._care.workflow.concentration_mg_per_ml)
        return (await self._sessions.create(BedRef(site, bed), patient_ref, None, DEMO_USER,
                                            plan=order)).id

    async def advance(self, session_id: str, phase: str) -> None:
        """Start or stop the pump, or end the session, unless a nurse has done so already."""
        wanted = as_phase(phase)
        try:
            if wanted == "infusion":
                await self._care.infusion(session_id, "start", DEMO_USER,
                                          acknowledge_warnings=True)
            elif wanted == "observation":
                await self._care.infusion(session_id, "stop", DEMO_USER,
                                          reason="completed as planned")
            elif wanted == "ended":
                await self._end(session_id)
            else:
                await self._sessions.advance(session_id, wanted, DEMO_USER)
        except (PhaseError, InfusionError):
            current = (await self._sessions.get(session_id)).phase
            if PHASES.index(current) < PHASES.index(wanted):
                raise
            log.info("session %s is %s already (a nurse moved it): the demo leaves it",
                     session_id, current)

    async def assess(self, session_id: str, scores: Mapping[str, int]) -> None:
        """Score a round on the clinic's scales (MOAA/S and CADSS-6 mapped to RASS and 0-10)."""
        workflow = self._care.workflow
        moaas, cadss6 = scores["moaas"], scores["cadss6"]
        rounds: list[tuple[Scale, int]] = [
            (workflow.sedation_scale, moaas if workflow.sedation_scale == "moaas" else moaas - 5),
            (workflow.dissociation_scale,
             cadss6 if workflow.dissociation_scale == "cadss6" else round(cadss6 * 10 / 24)),
            ("nausea", scores["nausea"]),
        ]
        for scale, value in rounds:
            await self._care.assess(session_id, scale, value, DEMO_USER)

    async def _end(self, session_id: str) -> None:
        session = await self._sessions.get(session_id)
        if not session.is_open:
            return
        try:
            await self._care.sign_discharge(session_id, DEMO_USER,
                                            self._care.workflow.discharge_scale, 10,
                                            escort=True, nausea=False)
            reason = None
        except (NotFitToLeaveError, ValueError):
            reason = DEMO_END
        await self._sessions.advance(session_id, "ended", DEMO_USER, acknowledge_alarms=True,
                                     override_reason=reason)


async def _drive(port: DemoSessions, devices: list[SimulatedMonitor]) -> None:
    driver = SessionDriver(port)
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
        group.create_task(_drive(DemoSessions(started.sessions, started.care), devices),
                          name="demo-sessions")
