"""The alarm engine of one bed during one session (no I/O; time is passed in).

Physiological conditions come from :func:`monitor.domain.alarms.judge`;
technical ones from what the device sends or fails to send. Every change of
an alarm is returned as an :class:`AlarmEvent`. The life of an alarm follows
IEC 60601-1-8 conventions:

- a condition that ends clears its alarm, except an alarm that has been
  high and is not yet acknowledged: it *latches* at high, whatever its
  value does, and stays until acknowledged;
- acknowledging keeps the alarm while its condition lasts, at the priority
  the condition has now; after ``reminder_ms`` it becomes active again
  (it sounds and pages again); a rise in priority makes it active at once;
- a pause (at most ``max_pause_ms``) silences the bed's alarms up to the
  paused alarm's priority; a new high-priority condition always fires.

Alarm times, pauses and reminders are the monitor's clock (``now_ms``);
condition delays run on both clocks (see :func:`monitor.domain.alarms.judge`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Final

from monitor.domain.alarm_ledger import AlarmLedger
from monitor.domain.alarms import (
    CLEAR,
    Alarm,
    AlarmEvent,
    Condition,
    judge,
    new_alarm_id,
)
from monitor.domain.assessments import DEEP_SEDATION, Assessment
from monitor.domain.care import SessionCare
from monitor.domain.discharge import DischargeTracker
from monitor.domain.limits import Priority, Profile, Rule, is_plausible
from monitor.domain.readings import CONTINUOUS_VITALS, Reading
from monitor.domain.sessions import Session
from monitor.domain.vitals import REGISTRY

TECHNICAL_PRIORITY: Final[Mapping[str, Priority]] = {
    "stale": "medium",
    "nibp_overdue": "medium",
    "sensor_off": "medium",
    "implausible": "low",
    "page_failed": "medium",
    "clock_offset": "low",
    "device_conflict": "medium",
    "data_gap": "medium",
    "assessment_overdue": "low",
}
"""Priority of each technical alarm; ``offline`` is high during infusion, else medium."""

BP_VITALS: Final = tuple(vital.name for vital in REGISTRY if vital.nibp)
"""Vitals the blood-pressure cuff measures: their absence raises ``nibp_overdue``."""
CLOCK_OFFSET_MS: Final = 30_000
"""A device clock further than this from the monitor's raises ``clock_offset``..."""
CLOCK_CONFIRM_MS: Final = 10_000
"""...once it has been so for this long (a backlog being delivered is not an offset)."""
HOLD_MS: Final = 300_000
"""An event-like technical alarm (``device_conflict``, ``data_gap``) stands this long after
its last occurrence, unless it occurs again."""
APNEA_ETCO2: Final = 5.0
"""EtCO2 below this (mmHg) with no respiratory rate is apnea."""


@dataclass(slots=True)
class _Watch:
    """What the device has sent, by the monitor's clock."""

    started_ms: int
    last_any_ms: int | None = None
    last_seen_ms: dict[str, int] = field(default_factory=dict)
    last_bp_ms: int | None = None
    device_offline: bool = False


class BedEngine(AlarmLedger):
    """All alarms of one bed while a session is open there: what makes and ends them."""

    def __init__(
        self,
        session: Session,
        profile: Profile,
        *,
        now_ms: int,
        new_id: Callable[[], str] = new_alarm_id,
    ) -> None:
        super().__init__(session, profile, new_id)
        self.discharge: DischargeTracker | None = None
        self.care = SessionCare.of(session)
        self._conditions: dict[str, Condition] = {}
        self._watch = _Watch(started_ms=now_ms)
        self._failed_targets: set[str] = set()
        self._clock_off_since_ms: int | None = None
        self._held_until_ms: dict[str, int] = {}
        self._follow_phase(now_ms)

    def _follow_phase(self, now_ms: int) -> None:
        timings = self.profile.technical
        self._apnea_rules = (Rule("apnea", "<", "high", timings.apnea_ms, limit=0.5),)
        if self.session.phase == "observation" and self.discharge is None:
            self.discharge = DischargeTracker(
                self.session.baseline, self.session.phase_started_ms.get("observation", now_ms),
                min_observation_ms=timings.min_observation_ms, hold_ms=timings.discharge_hold_ms)
        elif self.session.phase != "observation":
            self.discharge = None

    def update_session(self, session: Session, profile: Profile, now_ms: int) -> list[AlarmEvent]:
        """The session changed phase, baseline or thresholds."""
        changed_rules = profile is not self.profile
        self.session, self.profile = session, profile
        if changed_rules:
            self._conditions_from_alarms()
        self._follow_phase(now_ms)
        return self.tick(now_ms)

    def restore(self, alarms: list[Alarm]) -> None:
        """Take back the open alarms stored before a restart."""
        for alarm in alarms:
            self.alarms[alarm.key] = alarm
            if alarm.condition_present:
                self._present[alarm.key] = alarm.priority
        self._conditions_from_alarms()

    def _conditions_from_alarms(self) -> None:
        """Start condition timing afresh from the open alarms (after a restart or new rules).

        An open physiological alarm counts its rules as breached for their
        whole delay, so it stays up while its condition still holds.
        """
        self._conditions = {}
        for alarm in self.alarms.values():
            if alarm.kind == "physiological" and alarm.vital is not None:
                rules = (self._apnea_rules if alarm.code == "apnea"
                         else self.profile.rules_for(alarm.vital).get(alarm.code, ()))
                since = {i: alarm.raised_ms - rule.delay_ms for i, rule in enumerate(rules)}
                satisfied = frozenset(
                    i for i, rule in enumerate(rules)
                    if alarm.condition_present and rule.priority == alarm.priority
                )
                self._conditions[alarm.code] = Condition(since, {}, satisfied)

    # What the device sends

    def on_reading(self, reading: Reading, now_ms: int, *, late: bool = False) -> list[AlarmEvent]:
        """Judge one reading received at ``now_ms``.

        ``late``: the device sent it before readings already judged (it
        arrived out of order); it is judged for spot values and critical
        limits only.
        """
        watch = self._watch
        watch.last_any_ms, watch.device_offline = now_ms, False
        for vital in (*reading.vitals, *reading.flags):
            if vital in CONTINUOUS_VITALS:
                watch.last_seen_ms[vital] = now_ms
            elif vital in BP_VITALS:
                watch.last_bp_ms = now_ms
        # A reading can only end technical alarms; new ones (silence, a vital
        # gone stale) are raised by the clock's tick.
        events = self._technical(now_ms) if self.alarms else []
        good: dict[str, float] = {}
        for vital, flag in reading.flags.items():
            off = "sensor_off" if flag == "sensor_off" else None
            events += self._set_technical("sensor_off", vital, off is not None, now_ms)
        for vital, value in reading.vitals.items():
            if vital in reading.flags:
                continue
            events += self._set_technical("sensor_off", vital, False, now_ms)
            plausible = is_plausible(vital, value)
            events += self._set_technical("implausible", vital, not plausible, now_ms, value)
            if plausible:
                good[vital] = value
                events += self._judge(vital, value, reading.ts_ms, now_ms, late)
        if not late:
            events += self._apnea(good, reading.ts_ms, now_ms)
            events += self._clock(reading.ts_ms, now_ms)
            if self.discharge is not None:
                self.discharge.on_values(good, now_ms)
        return events

    def _judge(
        self, vital: str, value: float, ts_ms: int, now_ms: int, late: bool
    ) -> list[AlarmEvent]:
        events: list[AlarmEvent] = []
        for code, rules in self.profile.rules_for(vital).items():
            events += self._condition(code, vital, rules, judged=value, shown=value,
                                      ts_ms=ts_ms, now_ms=now_ms, late=late)
        return events

    def _condition(
        self, code: str, vital: str, rules: tuple[Rule, ...], *, judged: float, shown: float,
        ts_ms: int, now_ms: int, late: bool,
    ) -> list[AlarmEvent]:
        condition, verdict = judge(
            self._conditions.get(code, CLEAR), rules, judged, self.session.baseline,
            now_ms=now_ms, device_ms=ts_ms, late=late)
        self._conditions[code] = condition
        if verdict is None:
            return []
        return self._set("physiological", code, vital, verdict.priority, value=shown,
                         limit=verdict.limit, now_ms=now_ms)

    def _apnea(self, good: Mapping[str, float], ts_ms: int, now_ms: int) -> list[AlarmEvent]:
        """RR 0, or EtCO2 below 5 mmHg with RR 0 or absent, for ``apnea_ms``."""
        rr, etco2 = good.get("rr"), good.get("etco2")
        if rr is not None:
            apneic, shown = rr == 0, rr
        elif etco2 is not None:
            apneic, shown = etco2 < APNEA_ETCO2, etco2
        else:
            return []
        return self._condition("apnea", "rr" if rr is not None else "etco2", self._apnea_rules,
                               judged=0.0 if apneic else 1.0, shown=shown, ts_ms=ts_ms,
                               now_ms=now_ms, late=False)

    def _clock(self, ts_ms: int, now_ms: int) -> list[AlarmEvent]:
        """``clock_offset`` once the device clock has been off by over 30 s for 10 s."""
        offset_ms = ts_ms - now_ms
        if abs(offset_ms) <= CLOCK_OFFSET_MS:
            self._clock_off_since_ms = None
            return self._set_technical("clock_offset", None, False, now_ms)
        if self._clock_off_since_ms is None:
            self._clock_off_since_ms = now_ms
        confirmed = now_ms - self._clock_off_since_ms >= CLOCK_CONFIRM_MS
        return self._set_technical("clock_offset", None, confirmed, now_ms,
                                   round(offset_ms / 1000, 1))

    def device_conflict(self, now_ms: int) -> list[AlarmEvent]:
        """Readings with this bed's device id came from elsewhere, or the other way round."""
        return self._hold("device_conflict", now_ms, None)

    def data_gap(self, missing: int, now_ms: int) -> list[AlarmEvent]:
        """The device's seq skipped ``missing`` readings: they never reached the monitor."""
        return self._hold("data_gap", now_ms, missing)

    def _hold(self, code: str, now_ms: int, value: float | None) -> list[AlarmEvent]:
        self._held_until_ms[code] = now_ms + HOLD_MS
        return self._set_technical(code, None, True, now_ms, value)

    def on_device_status(self, online: bool, now_ms: int) -> list[AlarmEvent]:
        """The device's retained status (``offline`` is its last will)."""
        self._watch.device_offline = not online
        if online:
            self._watch.last_any_ms = now_ms
        return self._technical(now_ms)

    def page_outcome(
        self, target: str, delivered: bool, now_ms: int, detail: str | None = None
    ) -> list[AlarmEvent]:
        """A page about this bed to ``target`` was delivered or not.

        The ``page_failed`` alarm stands while any target's last page failed.
        """
        if delivered:
            self._failed_targets.discard(target)
        else:
            self._failed_targets.add(target)
        events = self._set_technical("page_failed", None, bool(self._failed_targets), now_ms)
        return [replace(event, detail=detail) for event in events]

    # What the nurse records

    def on_assessment(self, assessment: Assessment, now_ms: int) -> list[AlarmEvent]:
        """A score taken in.

        Sedation at or below MOAA/S 2 (RASS -3) raises ``deep_sedation``
        (high); a lighter score ends it. A sedation score completes the
        assessment round that was due.
        """
        self.care.scored(assessment)
        events = self._set_technical("assessment_overdue", None,
                                     self._assessment_overdue(now_ms), now_ms)
        deep = DEEP_SEDATION.get(assessment.scale)
        if deep is not None:
            events += self._set("physiological", "deep_sedation", None,
                                "high" if assessment.deep_sedation else None,
                                value=assessment.value, limit=deep, now_ms=now_ms)
        return events

    # Time passing

    def tick(self, now_ms: int) -> list[AlarmEvent]:
        """Silence, overdue blood pressure, pause ends and reminders as of ``now_ms``."""
        return self._technical(now_ms) + self._time_passes(now_ms)

    def _technical(self, now_ms: int) -> list[AlarmEvent]:
        timings, watch = self.profile.technical, self._watch
        offline = self._offline(now_ms)
        priority: Priority = "high" if self.session.phase == "infusion" else "medium"
        events = self._set("technical", "offline", None, priority if offline else None,
                           value=None, limit=None, now_ms=now_ms)
        for vital, seen_ms in watch.last_seen_ms.items():
            stale = not offline and now_ms - seen_ms > timings.stale_after_ms
            events += self._set_technical("stale", vital, stale, now_ms)
        bp_since = self._bp_expected_since()
        if bp_since is not None:
            overdue_after = timings.nibp_cycle_ms + timings.nibp_grace_ms
            overdue = not offline and now_ms - bp_since > overdue_after
            events += self._set_technical("nibp_overdue", None, overdue, now_ms)
        for code, until_ms in self._held_until_ms.items():
            events += self._set_technical(code, None, now_ms < until_ms, now_ms)
        events += self._set_technical("assessment_overdue", None, self._assessment_overdue(now_ms),
                                      now_ms)
        return events

    def _assessment_due_ms(self) -> int | None:
        interval_ms = self.profile.technical.assessment_interval_ms
        return self.care.assessment_due_ms(self.session, interval_ms)

    def _assessment_overdue(self, now_ms: int) -> bool:
        due = self._assessment_due_ms()
        return due is not None and now_ms > due + self.profile.technical.assessment_overdue_ms

    def _bp_expected_since(self) -> int | None:
        """Since when a blood pressure is due: the last one, or else the infusion's start."""
        watch = self._watch
        if watch.last_bp_ms is not None:
            return watch.last_bp_ms
        infusion = self.session.phase_started_ms.get("infusion")
        if infusion is None or self.session.phase not in ("infusion", "observation"):
            return None
        return max(infusion, watch.started_ms)

    def _offline(self, now_ms: int) -> bool:
        watch = self._watch
        silent_ms = now_ms - (watch.last_any_ms or watch.started_ms)
        return watch.device_offline or silent_ms > self.profile.technical.offline_after_ms

    def _set_technical(
        self, code: str, vital: str | None, present: bool, now_ms: int, value: float | None = None
    ) -> list[AlarmEvent]:
        priority = TECHNICAL_PRIORITY[code] if present else None
        return self._set("technical", code, vital, priority, value=value, limit=None,
                         now_ms=now_ms)

    def board_status(self, now_ms: int) -> dict[str, object]:
        """Discharge readiness and pause, for the bed's tile."""
        paused = self._pause_until_ms is not None and now_ms < self._pause_until_ms
        discharge = None
        if self.discharge is not None:
            blockers = [f"{alarm.code.replace('_', ' ')} alarm"
                        + (f" ({alarm.vital})" if alarm.kind == "technical" and alarm.vital
                           else "")
                        for alarm in self.alarms.values()]
            if self._offline(now_ms) and "offline" not in self.alarms:
                blockers.append("device offline")
            discharge = self.discharge.status(now_ms, blockers)
        return {
            **self.care.status(now_ms, self._assessment_due_ms(), self._assessment_overdue(now_ms)),
            "discharge": discharge,
            "paused_until_ms": self._pause_until_ms if paused else None,
            "pause_remaining_s": round((self._pause_until_ms - now_ms) / 1000)
            if paused and self._pause_until_ms is not None else None,
        }
