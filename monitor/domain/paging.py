"""Who is paged for which alarm, and who next when nobody acknowledges.

Tiers are tried in order: an alarm goes to the first tier that takes its
priority; while it stays active (not acknowledged, paused or cleared) for the
tier's ``escalate_after``, the next tier that takes its priority is paged too.
A tier is paged once per alarm and priority: a rise in priority is news, a
repeat is not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from monitor.domain.alarms import Alarm
from monitor.domain.limits import Priority


@dataclass(frozen=True, slots=True)
class Tier:
    """One step of the escalation ladder."""

    name: str
    priorities: frozenset[Priority]
    targets: tuple[str, ...]
    escalate_after_ms: int | None


@dataclass(frozen=True, slots=True)
class PagingPolicy:
    """The escalation ladder."""

    tiers: tuple[Tier, ...]

    def first_tier(self, alarm: Alarm) -> int | None:
        """Index of the first tier that takes the alarm's priority."""
        return self.next_tier(alarm, -1)

    def next_tier(self, alarm: Alarm, after: int) -> int | None:
        """Index of the next tier after ``after`` that takes the alarm's priority."""
        for index in range(after + 1, len(self.tiers)):
            if alarm.priority in self.tiers[index].priorities:
                return index
        return None


class _TierDoc(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="who this tier is")
    priorities: list[Priority] = Field(min_length=1, description="alarm priorities it takes")
    targets: list[str] = Field(min_length=1, description="names from [targets]")
    escalate_after_s: float | None = Field(
        default=None, gt=0, description="page the next tier if still unacknowledged"
    )


class PagingDoc(BaseModel):
    """``config/paging.toml``."""

    model_config = ConfigDict(extra="forbid")
    targets: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="each checked by its kind's pager adapter")
    tiers: list[_TierDoc] = Field(default_factory=list)

    @model_validator(mode="after")
    def _targets_exist(self) -> PagingDoc:
        for tier in self.tiers:
            for target in tier.targets:
                if target not in self.targets:
                    raise ValueError(f"tier {tier.name!r} names unknown target {target!r}")
        return self


class PagingConfigError(ValueError):
    """A paging document that cannot be used; the message names the key."""


def load_paging(document: Mapping[str, Any], source: str) -> tuple[PagingPolicy, PagingDoc]:
    """Parse a paging document into the policy and the target definitions.

    Raises:
        PagingConfigError: A key is unknown, missing or ill-typed.
    """
    try:
        parsed = PagingDoc.model_validate(document)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or '(top)'}: {problem['msg']}"
            for problem in error.errors()
        )
        raise PagingConfigError(f"{source}: {problems}") from None
    tiers = tuple(
        Tier(
            tier.name, frozenset(tier.priorities), tuple(tier.targets),
            None if tier.escalate_after_s is None else round(tier.escalate_after_s * 1000),
        )
        for tier in parsed.tiers
    )
    return PagingPolicy(tiers), parsed
