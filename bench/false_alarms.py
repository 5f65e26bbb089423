"""False alarms: alarms per session-hour over simulated normal ketamine sessions.

Each session is one chair of the simulator (``device_sim``) with a patient
drawn from its own seed, as ``device-sim`` draws them, running the
``normal`` scenario: nothing goes wrong, so every alarm is a false alarm
(or an alarm about the drug's expected pressor response). The session
follows the clinic's phases on the simulated clock (baseline, the 40-min
infusion, observation until discharge is ready or the session ends); its
baseline is the median of the baseline phase's readings, fixed when the
infusion starts, as the monitor's session service does.

No broker and no I/O: each simulated second, the device's payload bytes go
through the monitor's own parser (``parse_reading``) into its alarm engine
(``BedEngine``), received at the device's time, and the engine's clock
ticks once. A nurse acknowledges every alarm 30 s after it starts to sound
(raised, risen in priority, or reminding) if it is still open, so a
latched high alarm does not hide a later episode.

Printed: alarms raised per session-hour by kind, code and priority (and
rises to high priority separately), for all patients and for the
normotensive ones (resting SBP < 140 and DBP < 90 as drawn) against the
target of at most 0.3 per session-hour and no technical alarm; and for
each code an example (session, minute, phase, value, limit).

Run: ``.venv/bin/python -m bench.false_alarms [--sessions 200] [--seed 1]
[--profile ketamine-default] [--workers N]``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
import tomllib
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final

from device_sim.cli import chair_specs
from device_sim.device import ChairSpec, Publish, SimulatedMonitor
from device_sim.physiology import SESSION_S, phase_at
from monitor.app.session_service import baseline_of
from monitor.domain.alarm_ledger import UnknownAlarmError
from monitor.domain.alarms import AlarmEvent
from monitor.domain.engine import BedEngine
from monitor.domain.limits import Profile, load_profiles
from monitor.domain.readings import VITALS, BedRef, parse_reading
from monitor.domain.sessions import PHASES, Phase, Session, as_phase, pre_start_warnings

THRESHOLDS: Final = Path(__file__).parents[1] / "config" / "thresholds.toml"
EPOCH_S: Final = 1_767_225_600
"""2026-01-01T00:00:00Z: where every simulated session starts."""
ACK_AFTER_MS: Final = 30_000
NURSE: Final = "bench-nurse"
TARGET_PER_HOUR: Final = 0.3
RESTING_SBP: Final = 140.0
RESTING_DBP: Final = 90.0
SOUNDING: Final = frozenset({"raised", "priority_changed", "reminder", "pause_ended"})
"""Transitions after which an alarm sounds, so the nurse comes to acknowledge it."""


@dataclass(frozen=True, slots=True)
class Fired:
    """One alarm raised, or risen to high priority (``to_high``)."""

    session: int
    t_s: int
    phase: str
    kind: str
    code: str
    vital: str | None
    priority: str
    value: float | None
    limit: float | None
    to_high: bool


@dataclass(slots=True)
class SessionResult:
    """What one session raised, and who its patient was."""

    index: int
    normotensive: bool
    seconds: int
    baseline: dict[str, float]
    fired: list[Fired] = field(default_factory=list)


def load_profile(name: str) -> Profile:
    profiles = load_profiles(tomllib.loads(THRESHOLDS.read_text()), str(THRESHOLDS))
    if name not in profiles:
        raise SystemExit(f"no profile {name!r} in {THRESHOLDS} ({', '.join(sorted(profiles))})")
    return profiles[name]


def run_session(index: int, spec: ChairSpec, profile: Profile) -> SessionResult:
    """One chair's session from opening to its end, second by simulated second."""
    device = SimulatedMonitor(spec)
    patient = device.body.patient
    bed = BedRef(spec.site, spec.bed)
    start_ms = EPOCH_S * 1000
    session = Session(f"bench-{index}", bed, f"sim-{spec.bed}", "baseline",
                      {"baseline": start_ms}, profile.name)
    ids = itertools.count(1)
    engine = BedEngine(session, profile, now_ms=start_ms, new_id=lambda: f"a{next(ids)}")
    result = SessionResult(index, patient.sbp < RESTING_SBP and patient.dbp < RESTING_DBP,
                           SESSION_S, {})
    baseline_values: dict[str, list[float]] = {vital: [] for vital in VITALS}
    acks: list[tuple[int, str]] = []  # (due, alarm id); due times only grow

    def handle(events: Iterable[AlarmEvent], t_s: int, now_ms: int) -> None:
        for event in events:
            alarm = event.alarm
            if event.transition not in SOUNDING:
                continue
            to_high = event.transition == "priority_changed" and alarm.priority == "high"
            if event.transition == "raised" or to_high:
                result.fired.append(Fired(
                    index, t_s, session.phase, alarm.kind, alarm.code, alarm.vital,
                    alarm.priority, alarm.value, alarm.limit, to_high))
            acks.append((now_ms + ACK_AFTER_MS, alarm.id))

    for t_s in range(SESSION_S + 1):
        now_ms = start_ms + t_s * 1000
        wanted = as_phase(phase_at(t_s))
        while session.phase != wanted:  # as device_sim.lifecycle.SessionDriver moves it
            following: Phase = PHASES[PHASES.index(session.phase) + 1]
            session = session.advance(following, now_ms)
            if following == "infusion":
                baseline = baseline_of(baseline_values)
                session = replace(session, baseline=baseline,
                                  warnings=pre_start_warnings(baseline))
                result.baseline = baseline
            if following == "ended":
                engine.end(now_ms)
                return result
            handle(engine.update_session(session, profile, now_ms), t_s, now_ms)
        for emission in device.step(lambda: EPOCH_S + t_s):  # noqa: B023 - called at once
            if not isinstance(emission, Publish):
                continue
            reading = parse_reading(bed, emission.payload)
            if session.phase == "baseline":
                for vital, value in reading.vitals.items():
                    baseline_values[vital].append(value)
            handle(engine.on_reading(reading, reading.ts_ms), t_s, reading.ts_ms)
        handle(engine.tick(now_ms), t_s, now_ms)
        while acks and acks[0][0] <= now_ms:
            _, alarm_id = acks.pop(0)
            try:
                engine.acknowledge(alarm_id, NURSE, now_ms)
            except UnknownAlarmError:
                continue  # cleared before the nurse came
        if session.phase == "observation":
            discharge = engine.board_status(now_ms)["discharge"]
            if isinstance(discharge, dict) and discharge.get("ready") is True:
                engine.end(now_ms, NURSE)
                result.seconds = t_s
                return result
    return result


def _run_chunk(jobs: list[tuple[int, ChairSpec]], profile: Profile) -> list[SessionResult]:
    return [run_session(index, spec, profile) for index, spec in jobs]


def run_all(sessions: int, seed: int, profile: Profile, workers: int) -> list[SessionResult]:
    jobs = list(enumerate(chair_specs("bench", sessions, seed)))
    if workers <= 1:
        return _run_chunk(jobs, profile)
    chunks = [jobs[n::workers] for n in range(workers)]
    with ProcessPoolExecutor(workers) as pool:
        done = pool.map(_run_chunk, chunks, [profile] * workers)
        return sorted((r for chunk in done for r in chunk), key=lambda r: r.index)


Row = tuple[str, str, str]


def tally(results: list[SessionResult]) -> tuple[Counter[Row], Counter[Row], float]:
    """Raised and risen-to-high counts by (kind, code, priority), and the session-hours."""
    raised: Counter[Row] = Counter()
    to_high: Counter[Row] = Counter()
    for result in results:
        for fired in result.fired:
            (to_high if fired.to_high else raised)[(fired.kind, fired.code, fired.priority)] += 1
    return raised, to_high, sum(r.seconds for r in results) / 3600


def table(all_results: list[SessionResult], normo: list[SessionResult]) -> list[str]:
    raised, to_high, hours = tally(all_results)
    n_raised, n_high, n_hours = tally(normo)
    rows = sorted(set(raised) | set(to_high), key=lambda r: (r[0], r[1], r[2]))
    head = (f"{'kind':<13} {'code':<16} {'priority':<8} | {'raised':>6} {'/h':>6} "
            f"{'->high':>6} {'/h':>6} | {'raised':>6} {'/h':>6} {'->high':>6} {'/h':>6}")
    lines = [f"{'':<39} | {'all patients':^27} | {'normotensive':^27}", head,
             "-" * len(head)]

    def cells(r: int, h: int, per: float) -> str:
        return f"{r:>6} {r / per:>6.3f} {h:>6} {h / per:>6.3f}"

    for row in rows:
        lines.append(f"{row[0]:<13} {row[1]:<16} {row[2]:<8} | "
                     f"{cells(raised[row], to_high[row], hours)} | "
                     f"{cells(n_raised[row], n_high[row], n_hours)}")
    lines.append("-" * len(head))
    for kind in ("physiological", "technical"):
        def of(counter: Counter[Row], kind: str = kind) -> int:
            return sum(n for row, n in counter.items() if row[0] == kind)
        lines.append(f"{kind:<13} {'(all codes)':<16} {'':<8} | "
                     f"{cells(of(raised), of(to_high), hours)} | "
                     f"{cells(of(n_raised), of(n_high), n_hours)}")
    lines.append(f"{'total':<39} | {cells(raised.total(), to_high.total(), hours)} | "
                 f"{cells(n_raised.total(), n_high.total(), n_hours)}")
    return lines


def examples(results: list[SessionResult]) -> list[str]:
    """Per code: how often, in how many sessions, in which phases, and the first example."""
    by_code: dict[tuple[str, str], list[Fired]] = {}
    for result in results:
        for fired in result.fired:
            by_code.setdefault((fired.kind, fired.code), []).append(fired)
    lines = []
    for (kind, code), all_fired in sorted(by_code.items(), key=lambda item: -len(item[1])):
        first = all_fired[0]
        phases = Counter(f.phase for f in all_fired)
        sessions = len({f.session for f in all_fired})
        base = results[first.session].baseline.get(first.vital or "")
        limit = "-" if first.limit is None else f"{first.limit:g}"
        value = "-" if first.value is None else f"{first.value:g}"
        what = f"{code}:{first.vital}" if kind == "technical" and first.vital else code
        lines.append(
            f"{what:<18} {len(all_fired):>4} in {sessions:>3} sessions "
            f"({', '.join(f'{p} {n}' for p, n in phases.most_common())}); e.g. session "
            f"{first.session} min {first.t_s / 60:.1f} ({first.phase}): "
            f"{'rose to ' if first.to_high else ''}{first.priority} value {value} limit {limit}"
            + (f" baseline {base:g}" if base is not None else ""))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", default="ketamine-default")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    profile = load_profile(args.profile)
    began = time.perf_counter()
    results = run_all(args.sessions, args.seed, profile, max(1, min(args.workers,
                                                                    args.sessions)))
    took = time.perf_counter() - began
    normo = [r for r in results if r.normotensive]
    hours = sum(r.seconds for r in results) / 3600
    normo_hours = sum(r.seconds for r in normo) / 3600
    print(f"false alarms over {len(results)} normal sessions (seed {args.seed}, profile "
          f"{profile.name}): {hours:.1f} session-hours, {len(normo)} normotensive patients "
          f"({normo_hours:.1f} h)")
    print("per session-hour; ->high: an alarm rising to high priority (counted apart)")
    for line in table(results, normo):
        print(line)
    n_raised, _, _ = tally(normo)
    technical = sum(n for row, n in n_raised.items() if row[0] == "technical")
    rate = n_raised.total() / normo_hours if normo_hours else 0.0
    verdict = "met" if rate <= TARGET_PER_HOUR and technical == 0 else "NOT met"
    print(f"normotensive target (<= {TARGET_PER_HOUR} alarms per session-hour, 0 technical): "
          f"{rate:.3f}/h, {technical} technical: {verdict}")
    print("by code (raised and rises to high; first example, minutes from the session start):")
    for line in examples(results):
        print(f"  {line}")
    print(f"took {took:.1f} s ({args.workers} workers)")


if __name__ == "__main__":
    main()
