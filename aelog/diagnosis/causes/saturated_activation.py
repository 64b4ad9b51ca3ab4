"""saturated_activation: tanh/sigmoid units pinned at their limits have ~zero gradient, so
they stop learning and pass (nearly) the same value for every input.
"""

from __future__ import annotations

from aelog import format as fmt
from aelog.diagnosis import measures as m
from aelog.diagnosis import model_info as info
from aelog.diagnosis.causes.base import Cause, Evidence
from aelog.diagnosis.outcome import shortfall
from aelog.run_data import RunData

SATURATED = 0.3
"""a third of a layer's units pinned at a limit for almost the whole batch."""


def _last_activation(run: RunData) -> str | None:
    acts = [a for a in info.model(run).get("activations") or [] if isinstance(a, dict)]
    return str(acts[-1].get("name")) if acts else None


def _score(run: RunData) -> Evidence | None:
    names = info.activation_layers(run, info.SATURATING_TYPES) or None
    output = info.output_activation(run)
    if names and output and names[-1] == _last_activation(run) and output in info.SATURATING_TYPES:
        # an output sigmoid pinned at 0/1 on binary targets is doing its job
        names = names[:-1] or None
        if names is None:
            return None
    saturated = m.layer_tail_medians(run, fmt.LAYER_SATURATED_FRACTION, names)
    if not saturated:
        return None
    worst_name, worst = max(saturated.items(), key=lambda kv: kv[1])
    if worst < SATURATED:
        return None
    series = run.layer_signal(worst_name, fmt.LAYER_SATURATED_FRACTION)
    since = m.since_step(series, series.values >= SATURATED)
    facts = [f"layer {worst_name}: {m.fmt_num(100 * worst)}% of units pinned at a limit for >95% "
             f"of the batch" + (f" since step {since}" if since is not None else "")]
    scale = m.tail_median(run, fmt.INPUT_STD)
    fix = f"keep {worst_name} in its linear range: "
    if scale is not None and scale > 3:
        facts.append(f"input std {m.fmt_num(scale)}: inputs are not normalised")
        fix += "standardise the inputs ((x - mean) / std), "
    fix += "use nn.init.xavier_uniform_ for tanh/sigmoid layers, or switch to nn.ReLU / nn.GELU"
    strength = m.ramp(worst, SATURATED, 0.8) * (0.3 + 0.7 * shortfall(run))
    return Evidence(strength, since, facts, fix)

_SATURATING = {"Tanh", "Sigmoid", "Hardtanh", "Hardsigmoid", "Softsign", "ReLU6"}
"""module types with limits a unit can be pinned at."""

CAUSE = Cause(
    id="saturated_activation",
    needs=(fmt.LAYER_SATURATED_FRACTION,),
    fix="normalise inputs, use xavier init for tanh/sigmoid, or switch to ReLU/GELU",
    score=_score,
    consequence_of=("init_too_large", "lr_too_high", "loss_mismatch"),
    applies=lambda run: not info.activation_types(run)
    or bool(info.activation_types(run) & _SATURATING),
)
