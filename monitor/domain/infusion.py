"""The infusion record: the plan a session starts with, and what the nurse did to the pump.

The plan is a weight, a drug, a dose and a duration; the rate follows from
them (mg/kg/h, and mL/h for the clinic's concentration). What happened is a
list of events: ``start``, ``pause``, ``resume``, ``rate`` (a new rate) and
``stop``, each with a time, a user and a reason. The dose given so far is
the rate in force integrated over the time the pump ran.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Final, Literal

InfusionEventKind = Literal["start", "pause", "resume", "rate", "stop"]
InfusionState = Literal["not_started", "running", "paused", "stopped"]

ALLOWED_FROM: Final[dict[InfusionEventKind, frozenset[InfusionState]]] = {
    "start": frozenset({"not_started"}),
    "pause": frozenset({"running"}),
    "resume": frozenset({"paused"}),
    "rate": frozenset({"running", "paused"}),
    "stop": frozenset({"running", "paused"}),
}
STATE_AFTER: Final[dict[InfusionEventKind, InfusionState | None]] = {
    "start": "running", "pause": "paused", "resume": "running", "rate": None, "stop": "stopped",
}
"""The pump's state after each event (``rate`` leaves it as it was)."""
NEEDS_REASON: Final = frozenset({"pause", "rate", "stop"})
"""Events a nurse must give a reason for: anything that departs from the plan."""
MAX_RATE_MG_PER_KG_H: Final = 10.0
"""No ketamine infusion for mood runs faster (the plan's 0.5 mg/kg over 40 min is 0.75)."""
HOUR_MS: Final = 3_600_000


class InfusionError(ValueError):
    """An infusion event that the pump's state, or the plan, does not allow."""


@dataclass(frozen=True, slots=True)
class InfusionPlan:
    """What the prescriber ordered for one session.

    Attributes:
        weight_kg: The patient's weight.
        dose_mg_per_kg: The planned dose.
        duration_min: Over how long.
        drug: The drug (ketamine unless said otherwise).
        concentration_mg_per_ml: The bag's concentration, for the rate in mL/h.
    """

    weight_kg: float
    dose_mg_per_kg: float
    duration_min: float
    drug: str = "ketamine"
    concentration_mg_per_ml: float = 1.0

    @property
    def rate_mg_per_kg_h(self) -> float:
        """The planned rate."""
        return self.dose_mg_per_kg / self.duration_min * 60

    @property
    def total_mg(self) -> float:
        """The planned dose in mg."""
        return self.dose_mg_per_kg * self.weight_kg

    def ml_per_h(self, rate_mg_per_kg_h: float) -> float:
        """A rate in mL/h of the bag."""
        return rate_mg_per_kg_h * self.weight_kg / self.concentration_mg_per_ml

    def as_dict(self) -> dict[str, Any]:
        """The plan with its computed rates, as the API and the reports give it."""
        return {
            "weight_kg": self.weight_kg, "drug": self.drug,
            "dose_mg_per_kg": self.dose_mg_per_kg, "duration_min": self.duration_min,
            "concentration_mg_per_ml": self.concentration_mg_per_ml,
            "total_mg": round(self.total_mg, 2),
            "rate_mg_per_kg_h": round(self.rate_mg_per_kg_h, 3),
            "rate_ml_per_h": round(self.ml_per_h(self.rate_mg_per_kg_h), 1),
        }


@dataclass(frozen=True, slots=True)
class InfusionEvent:
    """One thing done to the pump.

    Attributes:
        rate_mg_per_kg_h: The rate set by a ``start`` or ``rate`` event
            (None for the others).
    """

    at_ms: int
    event: InfusionEventKind
    user: str
    rate_mg_per_kg_h: float | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class InfusionRecord:
    """The plan and the events so far."""

    plan: InfusionPlan
    events: tuple[InfusionEvent, ...] = ()

    @property
    def state(self) -> InfusionState:
        """Where the pump is now."""
        state: InfusionState = "not_started"
        for event in self.events:
            state = STATE_AFTER[event.event] or state
        return state

    @property
    def set_rate(self) -> float:
        """The rate the pump runs at when it runs (the plan's until changed), mg/kg/h."""
        for event in reversed(self.events):
            if event.rate_mg_per_kg_h is not None:
                return event.rate_mg_per_kg_h
        return self.plan.rate_mg_per_kg_h

    @property
    def started_ms(self) -> int | None:
        """When the infusion started, if it has."""
        return next((e.at_ms for e in self.events if e.event == "start"), None)

    @property
    def stopped_ms(self) -> int | None:
        """When the infusion stopped, if it has."""
        return next((e.at_ms for e in self.events if e.event == "stop"), None)

    def after(
        self, event: InfusionEventKind, at_ms: int, user: str, *,
        rate_mg_per_kg_h: float | None = None, reason: str | None = None,
    ) -> InfusionRecord:
        """The record with one more event.

        ``start`` runs at the plan's rate unless given another; ``rate``
        needs the new rate, and a paused pump keeps it for its resume.

        Raises:
            InfusionError: The pump's state does not allow it, the rate is
                missing, out of range or given where it means nothing, a
                departure from the plan has no reason, or it is dated
                before the last event.
        """
        state = self.state
        if state not in ALLOWED_FROM[event]:
            raise InfusionError(f"cannot {event} an infusion that is {state.replace('_', ' ')}")
        if event in NEEDS_REASON and not (reason and reason.strip()):
            raise InfusionError(f"{event} needs a reason")
        if self.events and at_ms < self.events[-1].at_ms:
            raise InfusionError("an infusion event cannot be dated before the last one")
        if event == "rate" and rate_mg_per_kg_h is None:
            raise InfusionError("a rate change needs rate_mg_per_kg_h")
        if event not in ("start", "rate") and rate_mg_per_kg_h is not None:
            raise InfusionError(f"{event} takes no rate; a new rate is a rate event")
        if event == "start" and rate_mg_per_kg_h is None:
            rate_mg_per_kg_h = self.plan.rate_mg_per_kg_h
        if rate_mg_per_kg_h is not None and not 0 < rate_mg_per_kg_h <= MAX_RATE_MG_PER_KG_H:
            raise InfusionError(
                f"rate {rate_mg_per_kg_h} mg/kg/h is outside 0-{MAX_RATE_MG_PER_KG_H:g}")
        recorded = InfusionEvent(at_ms, event, user, rate_mg_per_kg_h, reason)
        return replace(self, events=(*self.events, recorded))

    def given_mg(self, now_ms: int) -> float:
        """The drug given up to ``now_ms``: the rate integrated over the time the pump ran."""
        given, state, rate, since = 0.0, "not_started", 0.0, 0
        for event in self.events:
            if state == "running":
                given += rate * self.plan.weight_kg * (event.at_ms - since) / HOUR_MS
            state = STATE_AFTER[event.event] or state
            if event.rate_mg_per_kg_h is not None:
                rate = event.rate_mg_per_kg_h
            since = event.at_ms
        if state == "running":
            given += rate * self.plan.weight_kg * max(0, now_ms - since) / HOUR_MS
        return given

    def status(self, now_ms: int) -> dict[str, Any]:
        """For the board: state, elapsed against planned time, dose given against planned."""
        started = self.started_ms
        end = self.stopped_ms or now_ms
        running = self.state == "running"
        return {
            "state": self.state,
            "elapsed_min": None if started is None else round((end - started) / 60_000, 1),
            "planned_min": self.plan.duration_min,
            "given_mg": round(self.given_mg(now_ms), 1),
            "planned_mg": round(self.plan.total_mg, 1),
            "rate_mg_per_kg_h": round(self.set_rate, 3) if running else 0.0,
            "rate_ml_per_h": round(self.plan.ml_per_h(self.set_rate), 1) if running else 0.0,
        }
