"""saturated_activation: tanh/sigmoid units pinned at their limits have ~zero gradient, so
they stop learning and pass (nearly) the same value for every input.
"""

from __future__ import annotations

from aelog.diagnosis import measures as m
from aelog.diagnosis import model_info as info
from aelog.diagnosis.causes.base import Cause, Evidence
from aelog.diagnosis.outcome import shortfall
from aelog.logfile import format as fmt
from aelog.logfile.run_data import RunData

SATURATED = 0.3
"""a third of a layer's units pinned at a limit for almost the whole batch."""
SYMMETRIC_TYPES = ("Tanh", "Softsign")
"""activations with values in [-1, 1] and gradient at most 1 - h^2."""
GAIN_LOW = 0.2
"""a tanh layer passing back at most a fifth of the gradient (mean |h| ~0.9) starts to count."""
GAIN_NONE = 0.05
"""... and at most 5% (mean |h| ~0.975) is fully saturated; N(0, 1) inputs pass ~60%."""
VALUES_LOW = 0.5
"""half of a layer's values at a limit, each passing back under 8% of the gradient, starts
to count (N(0, 1) pre-activations put ~4% of a tanh's there) ..."""
VALUES_HIGH = 0.9
"""... and nine in ten is fully saturated."""


def _last_activation(run: RunData) -> str | None:
    acts = [a for a in info.model(run).get("activations") or [] if isinstance(a, dict)]
    return str(acts[-1].get("name")) if acts else None


def _gain_bounds(run: RunData, names: list[str]) -> dict[str, float]:
    """``{layer: bound}`` on the mean gradient a tanh-like layer passes back.

    For a unit with values in [-1, 1] the local gradient is 1 - h^2 (tanh) or less
    (softsign), and E[1 - h^2] <= 1 - E[|h|]^2 (Jensen), so the logged mean |h| bounds how
    much gradient gets through. Unlike the pinned-unit count it does not miss units that sit
    at a limit for 90% of the batch rather than 95%.
    """
    symmetric = set(info.activation_layers(run, SYMMETRIC_TYPES))
    mean_abs = m.layer_tail_medians(run, fmt.LAYER_ACTIVATION_MEAN_ABS,
                                    [n for n in names if n in symmetric])
    return {name: 1.0 - min(1.0, value) ** 2 for name, value in mean_abs.items()}


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
    gains = _gain_bounds(run, list(saturated))
    at_limit = m.layer_tail_medians(run, fmt.LAYER_SATURATED_VALUES, list(saturated))

    def layer_strength(name: str) -> float:
        pinned = m.ramp(saturated[name], SATURATED, 0.8)
        gain = gains.get(name)
        if gain is not None:
            pinned = max(pinned, m.ramp(gain, GAIN_LOW, GAIN_NONE))
        return max(pinned, m.ramp(at_limit.get(name, 0.0), VALUES_LOW, VALUES_HIGH))

    worst_name = max(saturated, key=layer_strength)
    strength = layer_strength(worst_name)
    if strength <= 0:
        return None
    worst = saturated[worst_name]
    series = run.layer_signal(worst_name, fmt.LAYER_SATURATED_FRACTION)
    since = m.since_step(series, series.values >= SATURATED)
    mean_abs_series = run.layer_signal(worst_name, fmt.LAYER_ACTIVATION_MEAN_ABS)
    if since is None and worst_name in gains and mean_abs_series is not None:
        since = m.since_step(mean_abs_series, 1 - mean_abs_series.values ** 2 <= GAIN_LOW)
    values_series = run.layer_signal(worst_name, fmt.LAYER_SATURATED_VALUES)
    if since is None and values_series is not None:
        since = m.since_step(values_series, values_series.values >= VALUES_LOW)
    when = f" since step {since}" if since is not None else ""
    pinned_fact = (f"layer {worst_name}: {m.fmt_num(100 * worst)}% of units pinned at a limit "
                   "for >95% of the batch")
    share = at_limit.get(worst_name, 0.0)
    if share >= VALUES_LOW:  # units swinging between limits: the values say more than units
        facts = [f"layer {worst_name}: {m.fmt_num(100 * share)}% of its values within 2% of a "
                 f"limit{when}, each passing back under 8% of the gradient"]
        if worst > 0:
            facts.append(pinned_fact)
    else:
        facts = [pinned_fact + when]
    if worst_name in gains:
        mean_abs = (1 - gains[worst_name]) ** 0.5
        facts.append(f"layer {worst_name}: mean |value| {m.fmt_num(mean_abs)}, so it passes "
                     f"back at most {m.fmt_num(100 * gains[worst_name])}% of the gradient")
    scale = m.tail_median(run, fmt.INPUT_STD)
    fix = f"keep {worst_name} in its linear range: "
    if scale is not None and scale > 3:
        facts.append(f"input std {m.fmt_num(scale)}: inputs are not normalised")
        fix += "standardise the inputs ((x - mean) / std), "
    fix += "use nn.init.xavier_uniform_ for tanh/sigmoid layers, or switch to nn.ReLU / nn.GELU"
    return Evidence(strength * (0.3 + 0.7 * shortfall(run)), since, facts, fix)

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
