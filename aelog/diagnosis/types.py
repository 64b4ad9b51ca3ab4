"""What the engine answers: a Diagnosis per run, with ranked CauseFindings.

``Diagnosis.to_json()`` is the contract of ``aelog diagnose --json`` (DESIGN.md): keep
its keys and the cause ids exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

HEALTHY = "healthy"
AT_RISK = "at_risk"
COLLAPSED = "collapsed"
STATUSES = (HEALTHY, AT_RISK, COLLAPSED)

CAUSE_IDS = (
    "latent_too_large",
    "latent_too_small",
    "init_too_small",
    "init_constant",
    "init_too_large",
    "lr_too_high",
    "lr_too_low",
    "over_regularized",
    "under_regularized",
    "loss_mismatch",
    "dead_relu",
    "saturated_activation",
    "posterior_collapse",
    "frozen_parameters",
    "constant_input",
)


@dataclass
class CauseFinding:
    id: str
    confidence: float
    since_step: int | None
    evidence: list[str]
    fix: str

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "confidence": round(float(min(1.0, max(0.0, self.confidence))), 3),
            "since_step": None if self.since_step is None else int(self.since_step),
            "evidence": [str(e) for e in self.evidence],
            "fix": str(self.fix),
        }


@dataclass
class Diagnosis:
    run: str
    status: str
    since_step: int | None = None
    """first step at which the status was reached (None for healthy)."""
    causes: list[CauseFinding] = field(default_factory=list)
    """ranked, most likely first; empty for a healthy run."""
    symptom: list[str] = field(default_factory=list)
    """the measured symptom in plain words, with its numbers."""
    notes: list[str] = field(default_factory=list)
    """limits of this verdict: missing signals, unreadable files, too few steps."""
    tags: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        """The contract shape for one run (extra keys are additive, never renamed)."""
        return {
            "run": self.run,
            "status": self.status,
            "since_step": self.since_step,
            "causes": [c.to_json() for c in self.causes],
            "symptom": list(self.symptom),
            "notes": list(self.notes),
            "tags": dict(self.tags),
        }
