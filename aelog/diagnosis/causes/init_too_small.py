"""init_too_small: weights far below the default scale shrink the signal layer after
layer (each layer multiplies its scale by roughly weight_std / default_std), so outputs
start near a constant and gradients to early layers vanish.
"""

from __future__ import annotations

import math

from aelog.diagnosis import measures as m
from aelog.diagnosis import model_info as info
from aelog.diagnosis.causes.base import Cause, Evidence
from aelog.diagnosis.outcome import shortfall
from aelog.logfile import format as fmt
from aelog.logfile.run_data import RunData

CONSTANT_FILL = 1e-6
"""a weight std this far below the default is a constant fill, not a small random init."""
SMALL = 0.3
"""a layer initialised below 30% of PyTorch's default std counts as shrinking the signal."""


def _score(run: RunData) -> Evidence | None:
    facts, small = [], []
    for layer in info.layers(run):
        ratio = info.number(layer.get("weight_std_over_default"))
        identical = info.number(layer.get("identical_rows_fraction")) or 0.0
        # a constant fill (identical rows, or std ~0 in a one-row layer) says nothing
        # about scale: that is init_constant's evidence
        if ratio is None or identical >= 0.5 or ratio < CONSTANT_FILL:
            continue
        if ratio < SMALL:
            small.append((str(layer.get("name")), max(ratio, 1e-12)))
    strength = 0.0
    if small:
        shrink = math.prod(r for _, r in small)
        strength = m.log_ramp(shrink, 0.1, 0.001)
        listed = ", ".join(f"{n} {m.fmt_num(r)}x" for n, r in small[:4])
        facts.append(f"weights initialised at a fraction of the default std: {listed} "
                     f"(signal scaled by about {m.fmt_num(shrink)} end to end)")
    early = m.layer_head_medians(run, fmt.LAYER_ACTIVATION_STD)
    values = [v for v in early.values() if v > 0]
    if len(values) >= 2 and values[0] > 0:
        decay = values[-1] / values[0]
        if decay < 0.01:
            facts.append(f"activation std falls {m.fmt_num(1 / decay)}x from the first logged "
                         "layer to the last at the start")
            if not small and not any(info.number(layer.get("weight_std_over_default"))
                                     for layer in info.layers(run)):
                strength = max(strength, 0.6 * m.log_ramp(decay, 0.01, 1e-4))
    if strength <= 0:
        return None
    start_spread = m.head_median(run, fmt.OUTPUT_VARIANCE_RATIO)
    if start_spread is not None:
        facts.append(f"outputs keep {m.fmt_num(100 * start_spread)}% of the targets' variance "
                     "at the start")
    bad = shortfall(run)
    names = ", ".join(n for n, _ in small[:4]) or "the model's layers"
    fix = (f"drop the custom small init of {names}: keep PyTorch's default or use "
           "nn.init.kaiming_uniform_(w, nonlinearity='relu') / nn.init.xavier_uniform_(w)")
    return Evidence(strength * (0.2 + 0.8 * bad), 0, facts, fix)


CAUSE = Cause(
    id="init_too_small",
    needs=(fmt.LAYER_ACTIVATION_STD, fmt.OUTPUT_VARIANCE_RATIO),
    fix="use nn.init.kaiming_uniform_ / xavier_uniform_ (PyTorch's default scale)",
    score=_score,
)
