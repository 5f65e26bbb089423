"""Running each chair's session through its phases on the simulated clock.

A nurse would do this through the dashboard; the simulator does it through a
:class:`SessionPort`: the monitor's HTTP API (``device-sim --drive-api``), or
the monitor's own session service (the demo).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Protocol

import httpx

from device_sim.device import SimulatedMonitor
from device_sim.physiology import BASELINE_S, INFUSION_S, phase_at

PHASES: Final = ("baseline", "infusion", "observation", "ended")


ASSESS_EVERY_S: Final = 10 * 60
"""The scripted nurse scores sedation, dissociation and nausea this often (simulated time),
within the 15 min a clinic asks for."""
DOSE_MG_PER_KG: Final = 0.5


def plan_of(device: SimulatedMonitor) -> dict[str, float]:
    """The chair's infusion order: 0.5 mg/kg over the simulated infusion, for its own weight."""
    return {"weight_kg": 55.0 + device.spec.seed % 45, "dose_mg_per_kg": DOSE_MG_PER_KG,
            "duration_min": INFUSION_S / 60}


def scores_at(t_s: float) -> dict[str, int]:
    """What the scripted nurse scores ``t_s`` into the session (MOAA/S, CADSS-6, nausea).

    Dissociation follows the infusion, highest near its end; the patient stays
    responsive (MOAA/S 4-5), as most do at 0.5 mg/kg.
    """
    into = t_s - BASELINE_S
    dissociating = 0 <= into < INFUSION_S + 10 * 60
    return {"moaas": 4 if dissociating and into > 10 * 60 else 5,
            "cadss6": min(12, max(0, round(into / 200))) if dissociating else 1,
            "nausea": 0}


class SessionPort(Protocol):
    """What a nurse does to a chair's session."""

    async def create(self, site: str, bed: str, patient_ref: str,
                     plan: Mapping[str, float]) -> str:
        """Open a session with its infusion order; returns its id."""

    async def advance(self, session_id: str, phase: str) -> None:
        """Move a session to ``phase``.

        ``infusion`` starts the pump, ``observation`` stops it, ``ended``
        signs the patient out (the nurse's checklist, or an override).
        """

    async def assess(self, session_id: str, scores: Mapping[str, int]) -> None:
        """Record a round of scores (MOAA/S, CADSS-6, nausea)."""


class SessionDriver:
    """Keeps each chair's session in the phase its simulated clock says, and scores it."""

    def __init__(self, port: SessionPort) -> None:
        self._port = port
        self._sessions: dict[str, tuple[str, str]] = {}
        self._assessed_s: dict[str, float] = {}

    async def follow(self, device: SimulatedMonitor) -> None:
        """Open, advance, score or end the chair's session as its simulated clock says."""
        spec = device.spec
        wanted = phase_at(device.session_t_s)
        current = self._sessions.get(spec.bed)
        if current is not None and PHASES.index(current[1]) > PHASES.index(wanted):
            await self._port.advance(current[0], "ended")
            current = None
        if current is None:
            patient_ref = f"sim-{spec.bed}-{device.seq}"
            current = (await self._port.create(spec.site, spec.bed, patient_ref,
                                               plan_of(device)), "baseline")
            self._assessed_s.pop(spec.bed, None)
        while current[1] != wanted:
            following = PHASES[PHASES.index(current[1]) + 1]
            await self._port.advance(current[0], following)
            current = (current[0], following)
        self._sessions[spec.bed] = current
        t_s, last_s = device.session_t_s, self._assessed_s.get(spec.bed)
        if wanted in ("infusion", "observation") and (
                last_s is None or t_s - last_s >= ASSESS_EVERY_S):
            await self._port.assess(current[0], scores_at(t_s))
            self._assessed_s[spec.bed] = t_s


SIGN_OUT: Final = {"scale": "aldrete", "score": 10, "escort": True, "nausea": False}
"""The scripted nurse's fit-to-leave checklist."""
OVERRIDE: Final = "simulated session over before the patient was signed fit to leave"
"""Why the scripted nurse ends a session without the checklist (an admin override, audited)."""
PUMP: Final = {"infusion": {"event": "start", "acknowledge_warnings": True},
               "observation": {"event": "stop", "reason": "completed as planned"}}


class ApiSessions:
    """The monitor's HTTP API as a :class:`SessionPort` (an admin token ends unsigned sessions)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def create(self, site: str, bed: str, patient_ref: str,
                     plan: Mapping[str, float]) -> str:
        """``POST /api/sessions``; an open session already there is ended first."""
        body = {"site": site, "bed": bed, "patient_ref": patient_ref, **plan}
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
        """Start or stop the pump, or sign the patient out and end the session.

        A session the pump's events cannot move (opened without a plan) is
        moved through ``/phase``; one whose patient is not fit to leave is
        ended with an override. The nurse has seen every warning and alarm.
        """
        url = f"/api/sessions/{session_id}"
        if phase in PUMP:
            pumped = await self._client.post(f"{url}/infusion", json=PUMP[phase])
            if pumped.status_code != httpx.codes.CONFLICT:
                pumped.raise_for_status()
                return
        end: dict[str, object] = {"phase": phase, "acknowledge_warnings": True,
                                  "acknowledge_alarms": True}
        if phase == "ended":
            signed = await self._client.post(f"{url}/discharge", json=SIGN_OUT)
            if signed.status_code != httpx.codes.CREATED:
                end["override_reason"] = OVERRIDE
        response = await self._client.post(f"{url}/phase", json=end)
        response.raise_for_status()

    async def assess(self, session_id: str, scores: Mapping[str, int]) -> None:
        """``POST .../assessments`` per score; a scale the clinic does not use (422) is left out."""
        for scale, value in scores.items():
            response = await self._client.post(f"/api/sessions/{session_id}/assessments",
                                               json={"scale": scale, "value": value})
            if response.status_code != httpx.codes.UNPROCESSABLE_ENTITY:
                response.raise_for_status()
