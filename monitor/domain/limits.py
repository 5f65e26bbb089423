"""Threshold profiles: which value of which vital raises which alarm, and when.

Profiles come from ``config/thresholds.toml``; :func:`load_profiles` takes the
parsed document, so this module reads no files.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

Priority = Literal["low", "medium", "high"]
PRIORITY_RANK: Final[Mapping[Priority, int]] = {"low": 1, "medium": 2, "high": 3}

Comparison = Literal[">", ">=", "<", "<="]
_COMPARE: Final[Mapping[Comparison, Callable[[float, float], bool]]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}

PLAUSIBLE: Final[Mapping[str, tuple[float, float]]] = {
    "hr": (20, 300),
    "spo2": (50, 100),
    "rr": (2, 80),
    "etco2": (1, 150),
    "sbp": (40, 300),
    "dbp": (15, 200),
    "map": (25, 250),
}
"""Physiological bounds: a value outside them is an artefact, never a real value."""


def is_plausible(vital: str, value: float) -> bool:
    """Whether ``value`` can be a real measurement of ``vital``."""
    low, high = PLAUSIBLE[vital]
    return low <= value <= high


@dataclass(frozen=True, slots=True)
class Rule:
    """One limit: ``vital <when> limit`` held for ``delay_ms`` raises ``priority``."""

    vital: str
    when: Comparison
    limit: float
    priority: Priority
    delay_ms: int

    @property
    def code(self) -> str:
        """The alarm condition this rule belongs to, e.g. ``sbp_high``."""
        return f"{self.vital}_{'high' if self.when in ('>', '>=') else 'low'}"

    def breached_by(self, value: float) -> bool:
        """Whether ``value`` is beyond this limit."""
        return _COMPARE[self.when](value, self.limit)


@dataclass(frozen=True, slots=True)
class Profile:
    """A named set of rules: vital -> alarm condition code -> rules."""

    name: str
    description: str
    by_vital: Mapping[str, Mapping[str, tuple[Rule, ...]]]

    def rules_for(self, vital: str) -> Mapping[str, tuple[Rule, ...]]:
        """The conditions (code -> rules) that watch ``vital``."""
        return self.by_vital.get(vital, {})


class _RuleDoc(BaseModel):
    model_config = ConfigDict(extra="forbid")
    when: Comparison = Field(description="comparison of the value against the limit")
    limit: float = Field(description="absolute limit in the vital's unit")
    priority: Priority = Field(description="alarm priority when breached")
    delay_s: float | None = Field(
        default=None, ge=0, description="condition delay; defaults to the vital's"
    )


class _VitalDoc(BaseModel):
    model_config = ConfigDict(extra="forbid")
    delay_s: float = Field(ge=0, description="condition delay in seconds (0: spot value)")
    rules: list[_RuleDoc] = Field(min_length=1, description="the limits on this vital")


class _ProfileDoc(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str = Field(default="", description="what the profile is for")
    vitals: dict[Literal["hr", "spo2", "rr", "etco2", "sbp", "dbp", "map"], _VitalDoc]


class _ThresholdsDoc(BaseModel):
    model_config = ConfigDict(extra="forbid")
    profiles: dict[str, _ProfileDoc] = Field(min_length=1)


class ProfileError(ValueError):
    """A thresholds document that cannot be used; the message names the key."""


def _to_profile(name: str, document: _ProfileDoc) -> Profile:
    by_vital: dict[str, dict[str, tuple[Rule, ...]]] = {}
    for vital, vital_doc in document.vitals.items():
        conditions: dict[str, list[Rule]] = {}
        for rule_doc in vital_doc.rules:
            delay_s = vital_doc.delay_s if rule_doc.delay_s is None else rule_doc.delay_s
            rule = Rule(
                vital, rule_doc.when, rule_doc.limit, rule_doc.priority, round(delay_s * 1000)
            )
            conditions.setdefault(rule.code, []).append(rule)
        by_vital[vital] = {code: tuple(rules) for code, rules in conditions.items()}
    return Profile(name, document.description, by_vital)


def load_profiles(document: Mapping[str, object], source: str) -> dict[str, Profile]:
    """Build profiles from a parsed thresholds document.

    Raises:
        ProfileError: A key is unknown, missing or of the wrong type; the
            message names ``source`` and the key.
    """
    try:
        parsed = _ThresholdsDoc.model_validate(document)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
            for problem in error.errors()
        )
        raise ProfileError(f"{source}: {problems}") from None
    return {name: _to_profile(name, doc) for name, doc in parsed.profiles.items()}
