"""init_too_large: weights far above the default scale grow the signal layer after layer,
so tanh/sigmoid units saturate (zero gradient) and activations or gradients explode.
"""

from __future__ import annotations

import math

from aelog.diagnosis import measures as m
from aelog.diagnosis import model_info as info
from aelog.diagnosis.causes.base import Cause, Evidence
from aelog.diagnosis.outcome import shortfall
from aelog.logfile import format as fmt
from aelog.logfile.run_data import RunData

LARGE = 2.5
"""a layer initialised above 2.5x PyTorch's default std counts as growing the signal."""


def _manifest(run: RunData, facts: list[str]) -> float:
    """How visibly the oversized signal shows at the start of training (0..1)."""
    shown = 0.0
    saturated = m.layer_head_medians(run, fmt.LAYER_SATURATED_FRACTION)
    if saturated:
        name, worst = max(saturated.items(), key=lambda kv: kv[1])
        if worst > 0.1:
            facts.append(f"layer {name}: {m.fmt_num(100 * worst)}% of units saturated at the start")
            shown = max(shown, m.ramp(worst, 0.1, 0.5))
    spread = m.head_median(run, fmt.OUTPUT_VARIANCE_RATIO)
    if spread is not None and spread > 3:
        facts.append(f"outputs vary {m.fmt_num(spread)}x as much as the targets at the start")
        shown = max(shown, m.log_ramp(spread, 3, 30))
    for name in (fmt.NONFINITE_OUTPUT_FRACTION, fmt.NONFINITE_GRAD_FRACTION):
        series = run.signal(name)
        if series is not None and float(series.values.max(initial=0)) > 0:
            facts.append(f"{name.replace('_', ' ')} above 0 during training")
            shown = 1.0
    return shown


def _score(run: RunData) -> Evidence | None:
    large = []
    for layer in info.layers(run):
        ratio = info.number(layer.get("weight_std_over_default"))
        if ratio is not None and ratio > LARGE:
            large.append((str(layer.get("name")), ratio))
    if not large:
        return None
    growth = math.prod(r for _, r in large)
    facts = [
        "weights initialised far above the default std: "
        + ", ".join(f"{n} {m.fmt_num(r)}x" for n, r in large[:4])
        + f" (signal scaled by about {m.fmt_num(growth)} end to end)"
    ]
    strength = m.log_ramp(growth, LARGE, 25)
    shown = max(_manifest(run, facts), shortfall(run))
    names = ", ".join(n for n, _ in large[:4])
    fix = (f"drop the oversized init of {names}: keep PyTorch's default or use "
           "nn.init.xavier_uniform_(w) (tanh/sigmoid) / nn.init.kaiming_uniform_(w) (ReLU)")
    return Evidence(strength * (0.2 + 0.8 * shown), 0, facts, fix)


CAUSE = Cause(
    id="init_too_large",
    needs=(fmt.LAYER_SATURATED_FRACTION, fmt.OUTPUT_VARIANCE_RATIO, fmt.NONFINITE_GRAD_FRACTION),
    fix="use PyTorch's default init or nn.init.xavier_uniform_ instead of a large scale",
    score=_score,
)
