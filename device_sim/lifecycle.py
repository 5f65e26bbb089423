"""Running each chair's session through its phases on the simulated clock.

A nurse would do this through the dashboard; the simulator does it through a
:class:`SessionPort`: the monitor's HTTP API (``device-sim --drive-api``), or
the monitor's own session service (the demo).
"""

from __future__ import annotations

from typing import Final, Protocol

import httpx

from device_sim.device import SimulatedMonitor
from device_sim.physiology import phase_at

PHASES: Final = ("baseline", "infusion", "observation", "ended")


class SessionPort(Protocol):
    """Opens sessions and moves them on."""

    async def create(self, site: str, bed: str, patient_ref: str) -> str:
        """Open a session; returns its id."""

    async def advance(self, session_id: str, phase: str) -> None:
        """Move a session to ``phase``."""


class SessionDriver:
    """Keeps each chair's session in the phase its simulated clock says."""

    def __init__(self, port: SessionPort) -> None:
        self._port = port
        self._sessions: dict[str, tuple[str, str]] = {}

    async def follow(self, device: SimulatedMonitor) -> None:
        """Open, advance or end the chair's session as its simulated clock says."""
        spec = device.spec
        wanted = phase_at(device.session_t_s)
        current = self._sessions.get(spec.bed)
        if current is not None and PHASES.index(current[1]) > PHASES.index(wanted):
            await self._port.advance(current[0], "ended")
            current = None
        if current is None:
            patient_ref = f"sim-{spec.bed}-{device.seq}"
            current = (await self._port.create(spec.site, spec.bed, patient_ref), "baseline")
        while current[1] != wanted:
            following = PHASES[PHASES.index(current[1]) + 1]
            await self._port.advance(current[0], following)
            current = (current[0], following)
        self._sessions[spec.bed] = current


class ApiSessions:
    """The monitor's HTTP API as a :class:`SessionPort`."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def create(self, site: str, bed: str, patient_ref: str) -> str:
        """``POST /api/sessions``; an open session already there is ended first."""
        body = {"site": site, "bed": bed, "patient_ref": patient_ref}
        response = await self._client.post("/api/sessions", json=body)
        if response.status_code == httpx.codes.CONFLICT:
            sessions = (await self._client.get("/api/sessions", params={"open": "true"})).json()
            for session in sessions["sessions"]:
                if (session["site"], session["bed"]) == (site, bed):
                    await self.advance(session["id"], "ended")
            response = await self._client.post("/api/sessions", json=body)
        response.raise_for_status()
        session_id: str = response.json()["id"]
        return session_id

    async def advance(self, session_id: str, phase: str) -> None:
        """``POST /api/sessions/{id}/phase``, as a nurse who has seen every warning and alarm."""
        response = await self._client.post(f"/api/sessions/{session_id}/phase", json={
            "phase": phase, "acknowledge_warnings": True, "acknowledge_alarms": True})
        response.raise_for_status()
