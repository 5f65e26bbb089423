"""Threshold profiles: which value of which vital raises which alarm, and when.

Profiles come from ``config/thresholds.toml``; :func:`load_profiles` takes the
parsed document, so this module reads no files. A session may override the
rules of single vitals (:meth:`Profile.with_overrides`).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Annotated, Any, Final, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    model_validator,
)

from monitor.domain.vitals import NAMES, REGISTRY, is_vital

Priority = Literal["low", "medium", "high"]
PRIORITY_RANK: Final[Mapping[Priority, int]] = {"low": 1, "medium": 2, "high": 3}

Comparison = Literal[">", ">=", "<", "<="]
_COMPARE: Final[Mapping[Comparison, Callable[[float, float], bool]]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


def _known_vital(name: str) -> str:
    if not is_vital(name):
        raise ValueError(f"{name[:40]!r} is not a known vital ({', '.join(NAMES)})")
    return name


VitalName = Annotated[
    str, AfterValidator(_known_vital),
    WithJsonSchema({"type": "string", "enum": list(NAMES)}),
]
"""A vital's name, as pydantic validates it against the registry."""

PLAUSIBLE: Final[Mapping[str, tuple[float, float]]] = {v.name: v.plausible for v in REGISTRY}
"""Values a patient can have. Outside them a value is an artefact, never judged.

The bounds are wide on purpose: HR 0 (asystole), RR 0 (apnea), SpO2 45 or BP
38/14 are real and must raise physiological alarms, not a technical one.
"""

MAX_DELAY_S: Final = 300.0
"""No condition delay may be longer than this."""
MAX_BASELINE_PCT: Final = 100.0
"""A limit relative to baseline lies within +-this percent of it."""
MAX_PAUSE_CAP_S: Final = 300.0
"""No profile may let a pause last longer than this."""


def is_plausible(vital: str, value: float) -> bool:
    """Whether ``value`` can be a real measurement of ``vital``."""
    low, high = PLAUSIBLE[vital]
    return low <= value <= high


@dataclass(frozen=True, slots=True)
class Rule:
    """One limit: ``vital <when> limit`` held for ``delay_ms`` raises ``priority``.

    The limit is absolute (``limit``) or relative to the session's baseline
    (``baseline_pct``: +20 means baseline x 1.2). Once breached, the value
    must come back past the limit by ``hysteresis`` before the breach ends.
    """

    vital: str
    when: Comparison
    priority: Priority
    delay_ms: int
    limit: float | None = None
    baseline_pct: float | None = None
    hysteresis: float = 0.0

    @property
    def above(self) -> bool:
        """Whether the rule watches for high values."""
        return self.when in (">", ">=")

    @property
    def code(self) -> str:
        """The alarm condition this rule belongs to, e.g. ``sbp_high``."""
        return f"{self.vital}_{'high' if self.above else 'low'}"

    def limit_for(self, baseline: Mapping[str, float]) -> float | None:
        """The limit in force: absolute, or from the baseline (None without one)."""
        if self.limit is not None:
            return self.limit
        base = baseline.get(self.vital)
        if base is None or self.baseline_pct is None:
            return None
        return round(base * (1 + self.baseline_pct / 100), 1)

    def breached_by(self, value: float, limit: float, *, holding: bool = False) -> bool:
        """Whether ``value`` is beyond ``limit`` (with hysteresis while ``holding``)."""
        if holding:
            limit = limit - self.hysteresis if self.above else limit + self.hysteresis
        return _COMPARE[self.when](value, limit)


@dataclass(frozen=True, slots=True)
class TechnicalTimings:
    """The timings of a profile: technical alarms, reminders, pause, apnea, discharge."""

    stale_after_ms: int = 15_000
    offline_after_ms: int = 30_000
    nibp_cycle_ms: int = 300_000
    nibp_grace_ms: int = 60_000
    reminder_ms: int = 120_000
    max_pause_ms: int = 120_000
    apnea_ms: int = 20_000
    min_observation_ms: int = 30 * 60_000
    discharge_hold_ms: int = 15 * 60_000
    assessment_interval_ms: int = 15 * 60_000
    assessment_overdue_ms: int = 5 * 60_000


@dataclass(frozen=True, slots=True)
class Profile:
    """A named set of rules: vital -> alarm condition code -> rules."""

    name: str
    description: str
    by_vital: Mapping[str, Mapping[str, tuple[Rule, ...]]]
    technical: TechnicalTimings = TechnicalTimings()

    def rules_for(self, vital: str) -> Mapping[str, tuple[Rule, ...]]:
        """The conditions (code -> rules) that watch ``vital``."""
        return self.by_vital.get(vital, {})

    def with_overrides(self, overrides: Mapping[str, Mapping[str, Any]]) -> Profile:
        """This profile with the rules of some vitals replaced (vital -> vital document).

        Raises:
            ProfileError: An override is not a valid vital document.
        """
        if not overrides:
            return self
        by_vital = dict(self.by_vital)
        for vital, document in overrides.items():
            parsed = _validated(_OverrideDoc, {"vitals": {vital: document}}, "override")
            by_vital.update(_vital_rules(parsed.vitals))
        return replace(self, by_vital=by_vital)


class _RuleDoc(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    when: Comparison = Field(description="comparison of the value against the limit")
    limit: float | None = Field(default=None, description="absolute limit in the vital's unit")
    baseline_pct: float | None = Field(
        default=None, ge=-MAX_BASELINE_PCT, le=MAX_BASELINE_PCT,
        description="limit relative to the session baseline, in percent (-100 to 100)",
    )
    priority: Priority = Field(description="alarm priority when breached")
    delay_s: float | None = Field(
        default=None, ge=0, le=MAX_DELAY_S,
        description="condition delay (0-300 s); defaults to the vital's",
    )

    @model_validator(mode="after")
    def _one_limit(self) -> _RuleDoc:
        if (self.limit is None) == (self.baseline_pct is None):
            raise ValueError("a rule has exactly one of limit and baseline_pct")
        return self


class VitalDoc(BaseModel):
    """The rules of one vital, as in thresholds.toml and in a session override."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    delay_s: float = Field(
        ge=0, le=MAX_DELAY_S, description="condition delay in seconds, 0-300 (0: spot value)"
    )
    hysteresis: float = Field(
        default=0, ge=0, le=50,
        description="how far back past the limit a value must come to clear",
    )
    rules: list[_RuleDoc] = Field(min_length=1, description="the limits on this vital")

    def problems(self, vital: str) -> list[str]:
        """What makes these rules unusable for ``vital``, each naming its field.

        That is a limit no patient can have, or an "above" limit at or below
        a "below" limit (every value would alarm).
        """
        low, high = PLAUSIBLE[vital]
        found = [
            f"rules.{index}.limit: {rule.limit:g} is outside {vital}'s physiological "
            f"range {low:g}-{high:g}"
            for index, rule in enumerate(self.rules)
            if rule.limit is not None and not low <= rule.limit <= high
        ]
        for kind in ("limit", "baseline_pct"):
            above = [(getattr(r, kind), i) for i, r in enumerate(self.rules)
                     if r.when in (">", ">=") and getattr(r, kind) is not None]
            below = [(getattr(r, kind), i) for i, r in enumerate(self.rules)
                     if r.when in ("<", "<=") and getattr(r, kind) is not None]
            if above and below and min(above)[0] <= max(below)[0]:
                (up, i), (down, j) = min(above), max(below)
                found.append(
                    f"rules.{i}.{kind} ({self.rules[i].when} {up:g}) and rules.{j}.{kind} "
                    f"({self.rules[j].when} {down:g}) contradict each other: every value "
                    "would be outside one of them"
                )
        return found


class _TechnicalDoc(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    stale_after_s: float = Field(default=15, gt=0, le=300, description="continuous vital silent")
    offline_after_s: float = Field(
        default=30, gt=0, le=300, description="device silent altogether")
    nibp_cycle_s: float = Field(default=300, gt=0, le=3600, description="expected NIBP cadence")
    nibp_grace_s: float = Field(
        default=60, ge=0, le=600, description="NIBP overdue after cycle + this")
    reminder_s: float = Field(
        default=120, gt=0, le=600,
        description="an acknowledged condition that persists sounds and pages again after this",
    )
    max_pause_s: float = Field(
        default=120, gt=0, le=MAX_PAUSE_CAP_S,
        description="the longest pause a nurse may set (at most 300 s)",
    )


class _DischargeDoc(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    min_observation_min: float = Field(
        default=30, ge=0, le=240, description="observation before discharge may be ready")
    hold_min: float = Field(
        default=15, ge=0, le=120, description="how long the criteria must have held")


class _AssessmentsDoc(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    interval_min: float = Field(
        default=15, gt=0, le=120,
        description="assessments are due this often from the infusion's start to discharge")
    overdue_after_min: float = Field(
        default=5, ge=0, le=60,
        description="an assessment this late raises assessment_overdue (low)")


class _ProfileDoc(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    description: str = Field(default="", description="what the profile is for")
    apnea_s: float = Field(
        default=20, ge=0, le=60,
        description="RR 0, or EtCO2 < 5 mmHg with RR 0 or absent, this long: apnea (high)",
    )
    vitals: dict[VitalName, VitalDoc]
    technical: _TechnicalDoc = Field(default_factory=_TechnicalDoc)
    discharge: _DischargeDoc = Field(default_factory=_DischargeDoc)
    assessments: _AssessmentsDoc = Field(default_factory=_AssessmentsDoc)

    @model_validator(mode="after")
    def _usable(self) -> _ProfileDoc:
        _refuse_problems(self.vitals)
        return self


class _OverrideDoc(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    vitals: dict[VitalName, VitalDoc]

    @model_validator(mode="after")
    def _usable(self) -> _OverrideDoc:
        _refuse_problems(self.vitals)
        return self


def _refuse_problems(vitals: Mapping[VitalName, VitalDoc]) -> None:
    problems = [f"vitals.{vital}.{problem}" for vital, doc in vitals.items()
                for problem in doc.problems(vital)]
    if problems:
        raise ValueError("; ".join(problems))


class _ThresholdsDoc(BaseModel):
    model_config = ConfigDict(extra="forbid")
    profiles: dict[str, _ProfileDoc] = Field(min_length=1)


M = TypeVar("M", bound=BaseModel)


class ProfileError(ValueError):
    """A thresholds document that cannot be used; the message names the key."""


def _validated(model: type[M], document: Mapping[str, object], source: str) -> M:
    try:
        return model.model_validate(document)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
            for problem in error.errors()
        )
        raise ProfileError(f"{source}: {problems}") from None


def _vital_rules(
    vitals: Mapping[VitalName, VitalDoc],
) -> dict[str, dict[str, tuple[Rule, ...]]]:
    by_vital: dict[str, dict[str, tuple[Rule, ...]]] = {}
    for vital, doc in vitals.items():
        conditions: dict[str, list[Rule]] = {}
        for rule_doc in doc.rules:
            delay_s = doc.delay_s if rule_doc.delay_s is None else rule_doc.delay_s
            rule = Rule(
                vital=vital, when=rule_doc.when, priority=rule_doc.priority,
                delay_ms=round(delay_s * 1000), limit=rule_doc.limit,
                baseline_pct=rule_doc.baseline_pct, hysteresis=doc.hysteresis,
            )
            conditions.setdefault(rule.code, []).append(rule)
        by_vital[vital] = {code: tuple(rules) for code, rules in conditions.items()}
    return by_vital


def _to_profile(name: str, document: _ProfileDoc) -> Profile:
    technical = document.technical
    return Profile(
        name, document.description, _vital_rules(document.vitals),
        TechnicalTimings(
            stale_after_ms=round(technical.stale_after_s * 1000),
            offline_after_ms=round(technical.offline_after_s * 1000),
            nibp_cycle_ms=round(technical.nibp_cycle_s * 1000),
            nibp_grace_ms=round(technical.nibp_grace_s * 1000),
            reminder_ms=round(technical.reminder_s * 1000),
            max_pause_ms=round(technical.max_pause_s * 1000),
            apnea_ms=round(document.apnea_s * 1000),
            min_observation_ms=round(document.discharge.min_observation_min * 60_000),
            discharge_hold_ms=round(document.discharge.hold_min * 60_000),
            assessment_interval_ms=round(document.assessments.interval_min * 60_000),
            assessment_overdue_ms=round(document.assessments.overdue_after_min * 60_000),
        ),
    )


def load_profiles(document: Mapping[str, object], source: str) -> dict[str, Profile]:
    """Build profiles from a parsed thresholds document.

    Raises:
        ProfileError: A key is unknown, missing or of the wrong type; the
            message names ``source`` and the key.
    """
    parsed = _validated(_ThresholdsDoc, document, source)
    return {name: _to_profile(name, doc) for name, doc in parsed.profiles.items()}
