"""Drives a BedEngine with readings at chosen times, as a bedside monitor would."""

from __future__ import annotations

import itertools
import tomllib
from pathlib import Path

from monitor.domain.alarms import Alarm, AlarmEvent
from monitor.domain.assessments import Assessment, Scale
from monitor.domain.engine import BedEngine
from monitor.domain.limits import Profile, load_profiles
from monitor.domain.readings import BedRef, Reading
from monitor.domain.sessions import Phase, Session

BED = BedRef("s", "b")
THRESHOLDS = Path(__file__).parents[3] / "config" / "thresholds.toml"


def default_profile() -> Profile:
    document = tomllib.loads(THRESHOLDS.read_text())
    return load_profiles(document, str(THRESHOLDS))["ketamine-default"]


class Chair:
    """A bed with an open session; time in seconds from the session start."""

    def __init__(
        self,
        profile: Profile | None = None,
        phase: Phase = "infusion",
        baseline: dict[str, float] | None = None,
    ) -> None:
        self.profile = profile or default_profile()
        session = Session("sess", BED, "p-1", phase, {phase: 0}, self.profile.name,
                          baseline=baseline or {})
        ids = (f"a{n}" for n in itertools.count(1))
        self.engine = BedEngine(session, self.profile, now_ms=0, new_id=lambda: next(ids))
        self.seq = itertools.count()
        self.events: list[AlarmEvent] = []

    def feed(
        self,
        t_s: float,
        flags: dict[str, str] | None = None,
        *,
        ts_s: float | None = None,
        late: bool = False,
        **vitals: float,
    ) -> list[AlarmEvent]:
        """A reading received at ``t_s``, stamped ``ts_s`` by the device (default: the same).

        ``late``: it arrives after readings the device sent later.
        """
        return self.feed_all(t_s, vitals, flags=flags, ts_s=ts_s, late=late)

    def feed_all(
        self,
        t_s: float,
        vitals: dict[str, float],
        *,
        flags: dict[str, str] | None = None,
        ts_s: float | None = None,
        late: bool = False,
    ) -> list[AlarmEvent]:
        """As :meth:`feed`, with the values in a dict."""
        ms = round(t_s * 1000)
        ts_ms = ms if ts_s is None else round(ts_s * 1000)
        reading = Reading(BED, "dev", next(self.seq), f"t{ts_ms}", ts_ms, dict(vitals),
                          flags or {})
        events = (self.engine.on_reading(reading, ms, late=True) if late
                  else self.engine.on_reading(reading, ms))
        self.events += events
        return events

    def assess(self, t_s: float, scale: Scale, value: int) -> list[AlarmEvent]:
        at_ms = round(t_s * 1000)
        events = self.engine.on_assessment(Assessment(at_ms, "nurse", scale, value), at_ms)
        self.events += events
        return events

    def tick(self, t_s: float) -> list[AlarmEvent]:
        events = self.engine.tick(round(t_s * 1000))
        self.events += events
        return events

    def open(self) -> dict[str, Alarm]:
        return dict(self.engine.alarms)

    def seen(self, kind: str | None = None) -> list[tuple[str, str, str]]:
        """(transition, key, priority) of every event so far, optionally of one kind."""
        return [
            (e.transition, e.alarm.key, e.alarm.priority)
            for e in self.events if kind is None or e.alarm.kind == kind
        ]
