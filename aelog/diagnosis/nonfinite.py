"""Where and when NaN/Inf first appeared, from the SDK's per-step watch.

By the logging step after a NaN, it is in the weights, the gradients and the outputs
alike; the SDK's record says which came first: the inputs (a data bug, no training
cause explains it) or the model's output on finite inputs (the update blew up: lr, a
log(0) in the loss, an overflow in forward).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aelog.logfile import format as fmt
from aelog.logfile.run_data import RunData


@dataclass
class NonFiniteOrigin:
    first_step: int
    last_step: int | None
    """the end of the span of steps the first NaN/Inf is dated to (None: open-ended)."""
    where: str
    """``inputs`` or ``outputs``."""
    weights: list[str] = field(default_factory=list)
    gradients: list[str] = field(default_factory=list)
    checked_every: int = 1
    """the SDK checked every k-th step only (cheap steps): the batches between unseen."""

    @property
    def exact(self) -> bool:
        """Every step's inputs were checked: "on finite inputs" holds for the whole span."""
        return self.checked_every == 1

    @property
    def from_inputs(self) -> bool:
        return self.where == "inputs"

    def when(self) -> str:
        if self.last_step == self.first_step:
            return f"at step {self.first_step}"
        if self.last_step is None:
            return f"after step {self.first_step}"
        return f"between steps {self.first_step} and {self.last_step}"

    def facts(self) -> list[str]:
        if self.from_inputs:
            found = [f"NaN/Inf first came in with the training inputs {self.when()}"]
        else:
            found = [f"NaN/Inf first came out of the model {self.when()}, on finite inputs"]
            if not self.exact:
                found = [f"NaN/Inf first seen in the model's output {self.when()}; inputs "
                         f"checked every {self.checked_every} steps were finite (a bad batch "
                         "in between would not show)"]
        for what, layers in (("weights", self.weights), ("gradients", self.gradients)):
            if layers:
                found.append(f"{what} holding NaN/Inf after it: layer "
                             + ", ".join(layers))
        return found


def nonfinite_origin(run: RunData) -> NonFiniteOrigin | None:
    """The SDK's record of the first NaN/Inf, or None (none seen, or an older SDK)."""
    for record in run.records:
        if record.get("kind") != fmt.NONFINITE_RECORD:
            continue
        first, last, where = record.get("first_step"), record.get("last_step"), record.get("where")
        if not isinstance(first, int) or where not in ("inputs", "outputs"):
            continue
        every = record.get("checked_every")
        return NonFiniteOrigin(
            first, last if isinstance(last, int) else None, where,
            [str(x) for x in record.get("weights") or [] if isinstance(x, str)],
            [str(x) for x in record.get("gradients") or [] if isinstance(x, str)],
            every if isinstance(every, int) and every > 1 else 1,
        )
    return None


INPUTS_FIX = ("check the data pipeline for NaN/Inf (a division by a zero std, a log of 0, "
              "a missing value): assert torch.isfinite(x).all() on each batch, or "
              "torch.nan_to_num(x) where missing values are expected")
