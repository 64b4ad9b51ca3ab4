"""loss_mismatch: the output activation cannot reach part of the targets' range (sigmoid
on standardised data, ReLU on negative targets, tanh on pixels in 0..255), so the best it
can do there is sit at its limit.
"""

from __future__ import annotations

import numpy as np

from aelog.diagnosis import measures as m
from aelog.diagnosis import model_info as info
from aelog.diagnosis.causes.base import Cause, Evidence
from aelog.logfile import format as fmt
from aelog.logfile.run_data import RunData

UNREACHABLE = 0.1
"""10% of the targets' range out of the output's reach starts to count."""


def _observed_range(run: RunData) -> tuple[float, float | None] | None:
    """Without metadata: outputs clamped at exactly 0 (a ReLU-like output) while they
    otherwise spread, so the clamp is a limit and not a collapse."""
    low, high = run.signal(fmt.OUTPUT_MIN), run.signal(fmt.OUTPUT_MAX)
    if low is None or high is None:
        return None
    out_low, out_high = float(np.nanmin(low.values)), float(np.nanmax(high.values))
    if out_low == 0.0 and out_high > 0:
        return 0.0, None
    return None


def _score(run: RunData) -> Evidence | None:
    t_low, t_high = run.signal(fmt.TARGET_MIN), run.signal(fmt.TARGET_MAX)
    if t_low is None or t_high is None:
        return None
    target_low, target_high = m.median(t_low), m.median(t_high)
    if target_low is None or target_high is None or target_high <= target_low:
        return None
    activation = info.output_activation(run)
    reach = info.OUTPUT_RANGES.get(activation.lower()) if activation else None
    inferred = reach is None
    if inferred:
        reach = _observed_range(run)
    if reach is None:
        return None
    low, high = reach
    width = target_high - target_low
    outside = max(0.0, low - target_low) + (0.0 if high is None else max(0.0, target_high - high))
    share = min(1.0, outside / width)
    if share < UNREACHABLE:
        return None
    shown = f"[{m.fmt_num(low)}, {'inf' if high is None else m.fmt_num(high)}]"
    name = activation if activation else "the outputs (never left " + shown + ")"
    facts = [f"targets span [{m.fmt_num(target_low)}, {m.fmt_num(target_high)}] but {name} can "
             f"only reach {shown}: {m.fmt_num(100 * share)}% of the target range is out of reach"]
    if activation:
        fix = (f"remove the final {activation} (plain linear output with nn.MSELoss) or rescale "
               f"the targets into {shown}")
    else:
        fix = "use a linear output layer with nn.MSELoss, or rescale the targets into its range"
    if target_low >= -0.01 and target_high <= 1.01:
        fix += "; for data in [0, 1] use nn.BCEWithLogitsLoss on logits"
    strength = m.ramp(share, UNREACHABLE, 0.35) * (0.7 if inferred else 1.0)
    return Evidence(strength, int(t_low.steps[0]), facts, fix)


CAUSE = Cause(
    id="loss_mismatch",
    needs=(fmt.TARGET_MIN, fmt.TARGET_MAX),
    fix="match the output activation and loss to the target range (linear + MSE for "
        "standardised data, sigmoid + BCE for data in [0, 1])",
    score=_score,
)
