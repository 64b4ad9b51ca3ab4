"""What a cause is: an id, the evidence it reads, how it scores it, and the fix.

A cause is data, not a branch in the engine: each file in this package defines one
``CAUSE = Cause(...)``, the engine runs them all and ranks what they return. A reader can
open one file to see exactly why a verdict was reached; a new cause is one new file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from aelog.diagnosis.types import CAUSE_IDS, CauseFinding
from aelog.logfile.run_data import RunData


@dataclass
class Evidence:
    """What a cause measured: how strongly it holds (0..1), since when, and in words."""

    strength: float
    since_step: int | None
    facts: list[str] = field(default_factory=list)
    fix: str | None = None
    """a fix tailored to this run (layer names, values); None uses the cause's default."""


@dataclass(frozen=True)
class Cause:
    id: str
    needs: tuple[str, ...]
    """signal names (format constants) it reads; it stays silent when none is logged."""
    fix: str
    """the default fix, in words the user can paste."""
    score: Callable[[RunData], Evidence | None]
    """measure the mechanism on a run; None or strength 0 when it does not hold."""
    consequence_of: tuple[str, ...] = ()
    """causes that produce this one as a side effect (a huge learning rate kills ReLUs):
    when one of them also holds, this one ranks below it."""
    applies: Callable[[RunData], bool] = lambda run: True  # noqa: E731
    """False when the run's metadata shows the cause cannot arise (posterior collapse in a
    model that is not a VAE): such a cause is neither scored nor listed as unchecked."""

    def __post_init__(self) -> None:
        if self.id not in CAUSE_IDS:
            raise ValueError(f"unknown cause id {self.id!r}")

    def missing(self, run: RunData) -> list[str]:
        """Needed signals this run does not have, headline or per-layer."""
        layer_signals = {s for layer in run.layers.values() for s in layer}
        return [n for n in self.needs if run.signal(n) is None and n not in layer_signals]

    def assess(self, run: RunData) -> CauseFinding | None:
        evidence = self.score(run)
        if evidence is None or evidence.strength <= 0:
            return None
        return CauseFinding(
            id=self.id,
            confidence=float(min(1.0, max(0.0, evidence.strength))),
            since_step=evidence.since_step,
            evidence=list(evidence.facts),
            fix=evidence.fix or self.fix,
        )
