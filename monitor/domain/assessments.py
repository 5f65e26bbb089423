"""What the nurse scores and records beside the vitals: assessments and adverse events.

Assessments are scored on a schedule (by default every 15 min from the
infusion's start until the patient is fit to leave); each round scores
sedation on the clinic's scale, dissociation on the clinic's scale, nausea
and anxiety, and whether a blood-pressure-lowering drug or an anti-emetic
was given. Sedation as deep as MOAA/S <= 2 or RASS <= -3 is a high-priority
alarm (``deep_sedation``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

Scale = Literal[
    "moaas", "rass", "cadss6", "dissociation_nrs", "nausea", "anxiety",
    "antihypertensive_given", "antiemetic_given",
]
SedationScale = Literal["moaas", "rass"]
DissociationScale = Literal["cadss6", "dissociation_nrs"]

SCALES: Final[Mapping[Scale, tuple[int, int, str]]] = {
    "moaas": (0, 5, "MOAA/S (Modified Observer's Assessment of Alertness/Sedation)"),
    "rass": (-5, 4, "RASS (Richmond Agitation-Sedation Scale)"),
    "cadss6": (0, 24, "CADSS-6 (Clinician-Administered Dissociative States Scale, 6 items)"),
    "dissociation_nrs": (0, 10, "Dissociation, numeric rating 0-10"),
    "nausea": (0, 3, "Nausea, 0 none to 3 severe"),
    "anxiety": (0, 10, "Anxiety or agitation, numeric rating 0-10"),
    "antihypertensive_given": (0, 1, "Blood-pressure-lowering drug given (1 yes, 0 no)"),
    "antiemetic_given": (0, 1, "Anti-emetic given (1 yes, 0 no)"),
}
"""Each scale's lowest and highest score, and its name."""
SEDATION_SCALES: Final[tuple[SedationScale, ...]] = ("moaas", "rass")
DISSOCIATION_SCALES: Final[tuple[DissociationScale, ...]] = ("cadss6", "dissociation_nrs")
DEEP_SEDATION: Final[Mapping[str, int]] = {"moaas": 2, "rass": -3}
"""A sedation score at or below this is deep sedation (a high-priority alarm)."""

AdverseKind = Literal[
    "nausea_vomiting", "emergence", "hypertension_treated", "desaturation_treated", "other",
]
Severity = Literal["mild", "moderate", "severe"]
ADVERSE_KINDS: Final[Mapping[AdverseKind, str]] = {
    "nausea_vomiting": "Nausea or vomiting",
    "emergence": "Emergence reaction",
    "hypertension_treated": "Hypertension, treated",
    "desaturation_treated": "Desaturation, treated",
    "other": "Other",
}


class AssessmentError(ValueError):
    """A score the clinic's scales do not allow."""


@dataclass(frozen=True, slots=True)
class Workflow:
    """How a clinic runs its sessions: which scales it scores with, and its infusion bag.

    Attributes:
        sedation_scale: MOAA/S or RASS.
        dissociation_scale: CADSS-6 or a 0-10 numeric rating.
        discharge_scale: Modified Aldrete or PADSS, for the fit-to-leave checklist.
        concentration_mg_per_ml: The bag's drug concentration, for rates in mL/h.
    """

    sedation_scale: SedationScale = "moaas"
    dissociation_scale: DissociationScale = "cadss6"
    discharge_scale: Literal["aldrete", "padss"] = "aldrete"
    concentration_mg_per_ml: float = 1.0

    def check(self, scale: Scale, value: float) -> int:
        """``value`` as a score on ``scale``.

        Raises:
            AssessmentError: The clinic scores with another scale, or the
                value is not a whole number within the scale.
        """
        if scale in SEDATION_SCALES and scale != self.sedation_scale:
            raise AssessmentError(
                f"this clinic scores sedation with {self.sedation_scale}, not {scale}")
        if scale in DISSOCIATION_SCALES and scale != self.dissociation_scale:
            raise AssessmentError(
                f"this clinic scores dissociation with {self.dissociation_scale}, not {scale}")
        low, high, name = SCALES[scale]
        if value != int(value) or not low <= value <= high:
            raise AssessmentError(f"{scale} ({name}) is a whole number {low} to {high}, "
                                  f"not {value:g}")
        return int(value)


@dataclass(frozen=True, slots=True)
class Assessment:
    """One score."""

    at_ms: int
    user: str
    scale: Scale
    value: int

    @property
    def deep_sedation(self) -> bool:
        """Whether the score is sedation deep enough to raise ``deep_sedation``."""
        deep = DEEP_SEDATION.get(self.scale)
        return deep is not None and self.value <= deep


@dataclass(frozen=True, slots=True)
class AdverseEvent:
    """Something that went wrong, and what was done about it.

    Attributes:
        intervention: Drug, dose and route given, if any (free text each).
    """

    id: int
    at_ms: int
    user: str
    kind: AdverseKind
    severity: Severity
    intervention: Mapping[str, str]
    outcome: str | None = None
    note: str | None = None

