"""When none of the 15 causes holds: say so, with what ruled them out and what to check next.

A run can fail for reasons no cause id names: a loss that compares the output with
something other than the target (a ``view`` where a ``permute`` was meant, the wrong
tensor as the target), NaN from the data. "Cause not among the 15" is an answer, as long
as it carries what was measured.
"""

from __future__ import annotations

import numpy as np

from aelog.diagnosis import measures as m
from aelog.diagnosis.context import outputs_look_like_logits
from aelog.diagnosis.types import CauseFinding
from aelog.logfile import format as fmt
from aelog.logfile.run_data import RunData

OUTSIDE = "cause not among the 15"
"""the prefix the tab and the live warning show in a cause's place."""
MISALIGNED = 0.2
"""cosine between the loss's gradient on the output and (output - target) below which the
loss is not comparing them: any squared error or cross-entropy gives 1, and a loss that
pulls each value towards its target stays well above this."""
COMPARES_ANOTHER_TARGET = 0.9
"""cosine below which the loss, while pulling each value somewhere, does not pull it to the
model's input: a loss against the input gives 1 to rounding, whatever its reductions."""
CHECK_NEXT = ("how the loss reads the output (a view or reshape that should be "
              "a permute, the class dimension), whether the target is what the output "
              "should reconstruct, and the output activation against the target's range")


def _alignment(run: RunData) -> float | None:
    """The loss gradient's cosine with what a loss against the target pulls on, over the
    run's last points; None where a NaN gradient says nothing about what the loss compares."""
    series = run.signal(fmt.LOSS_GRADIENT_ALIGNMENT)
    if series is None:
        return None
    last = m.tail_of_at_least(series)
    if len(last) < m.MIN_VERDICT_POINTS or not np.all(np.isfinite(last.values)):
        return None
    return m.median(last)


def loss_misalignment(run: RunData) -> str | None:
    """The loss's gradient on the output does not point from the target to the output."""
    if outputs_look_like_logits(run):  # (output - target) is not what such a loss pulls on
        return None
    cosine = _alignment(run)
    if cosine is None or cosine >= MISALIGNED:
        return None
    tokens = run.signal(fmt.TOKEN_CROSS_ENTROPY) is not None
    expected = ("softmax(output) - one_hot(target), the gradient of cross-entropy over the "
                "output's class dimension" if tokens else "(output - target)")
    return (f"{OUTSIDE}: the loss does not compare the output with its target: its gradient "
            f"on the output has cosine {m.fmt_num(cosine)} with {expected}, where a loss "
            f"that does gives about 1. Fix: check {CHECK_NEXT}.")


def target_differs(run: RunData) -> str | None:
    """The loss pulls the output towards something that is not the model's input (a
    denoising or masked autoencoder given the two default lines): every error aelog measured
    is against the input, so say so, and how to measure against the real target."""
    if outputs_look_like_logits(run) or run.signal(fmt.TOKEN_CROSS_ENTROPY) is not None:
        return None
    cosine = _alignment(run)
    if cosine is None or not MISALIGNED <= cosine < COMPARES_ANOTHER_TARGET:
        return None
    return (f"the loss compares the output with something other than the model's input: its "
            f"gradient on the output has cosine {m.fmt_num(cosine)} with (output - input), "
            "where a loss against the input gives about 1 (a denoising or masked autoencoder?). "
            "The errors and spread here are measured against the input; pass target= to "
            "aelog.watch (a function returning what the loss compares, e.g. the clean batch) "
            "to measure against that.")


def outside_note(checked: list[str], weak: list[CauseFinding]) -> str:
    """No cause held: how many were checked, the strongest that fell short, what next."""
    if weak:
        best = weak[0]
        reason = f" ({best.evidence[0]})" if best.evidence else ""
        head = (f"cause uncertain: the strongest, {best.id}, reached only "
                f"{best.confidence:.2f}{reason}, too weak to name")
        others = [c for c in checked if c != best.id]
    else:
        head, others = f"{OUTSIDE} as far as measured", checked
    ruled_out = f"ruled out on their signals: {', '.join(others)}" if others else \
        "no cause could be checked"
    first = f"Check first: {weak[0].fix}; then {CHECK_NEXT}." if weak else \
        f"Check next: {CHECK_NEXT}."
    return f"{head}; {ruled_out}. {first}"
