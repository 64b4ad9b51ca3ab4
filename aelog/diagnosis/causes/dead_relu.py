"""dead_relu: ReLU units whose input is negative for every sample output zero and get no
gradient, so they never recover; a dead bottleneck passes nothing to the decoder.
"""

from __future__ import annotations

from aelog.diagnosis import measures as m
from aelog.diagnosis import model_info as info
from aelog.diagnosis.causes.base import Cause, Evidence
from aelog.diagnosis.outcome import shortfall
from aelog.logfile import format as fmt
from aelog.logfile.run_data import RunData

DEAD = 0.5
"""half the units of a ReLU layer dead on every sample of a batch is no longer normal."""
WIDE_ENOUGH = 0.25
"""what dead units weigh, at most, when those left alive are twice the code's width: the
layer still passes all the code holds, so they cost the run little. Under the engine's
floor: spare width lost is not named as a cause on its own."""
PERSIST_STEPS = 20
"""units that died after the start must stay dead this long to count."""


def _relu_layers(run: RunData) -> list[str]:
    named = info.activation_layers(run, info.RELU_TYPES)
    if named:
        return [n for n in named if n in run.layers]
    if info.activation_types(run):
        return []  # the model's activations are known and none is a ReLU module
    if "activations" in info.model(run):
        return _functional_relu_layers(run)
    return [n for n in m.layer_names(run)
            if run.layer_signal(n, fmt.LAYER_DEAD_FRACTION) is not None]


def _functional_relu_layers(run: RunData) -> list[str]:
    """No activation modules: ReLUs may be functional (F.relu). A weight layer whose outputs
    are <= 0 for every input *and* which gets no gradient at all is dead behind one (a
    plain linear unit with negative outputs still gets a gradient)."""
    dead = []
    for name in m.layer_names(run):
        grad = run.layer_signal(name, fmt.LAYER_GRAD_NORM)
        share = run.layer_signal(name, fmt.LAYER_DEAD_FRACTION)
        if grad is None or share is None:
            continue
        if (m.median(m.tail(grad)) or 0.0) == 0.0 and (m.median(m.tail(share)) or 0.0) >= 0.9:
            dead.append(name)
    return dead


def narrowed_weight(run: RunData, name: str, dead: float, facts: list[str]) -> float:
    """What dead units in ``name`` weigh: 1 with fewer units alive than code dimensions,
    WIDE_ENOUGH with twice as many (the dead are spare width, said as a fact)."""
    units, code = info.activation_units(run, name), info.latent_size(run)
    if units is None or code is None:
        return 1.0
    alive = round((1 - dead) * units)
    share = m.ramp(code / max(alive, 1), 0.5, 1.0)
    if share < 1:
        facts.append(f"{alive} of {name}'s {units} units still pass values, "
                     f"{m.fmt_num(alive / code)}x the {code}-dimensional code")
    return WIDE_ENOUGH + (1 - WIDE_ENOUGH) * share


def _score(run: RunData) -> Evidence | None:
    names = _relu_layers(run)
    dead = m.layer_tail_medians(run, fmt.LAYER_DEAD_FRACTION, names)
    if not dead:
        return None
    worst_name, worst = max(dead.items(), key=lambda kv: kv[1])
    if worst < DEAD:
        return None
    facts = [f"layer {worst_name}: {m.fmt_num(100 * worst)}% of ReLU units output 0 for every "
             "input in the batch"]
    others = [f"{n} {m.fmt_num(100 * v)}%" for n, v in dead.items()
              if v >= DEAD and n != worst_name]
    if others:
        facts.append("also dead: " + ", ".join(others[:4]))
    code_dead = m.tail_median(run, fmt.CODE_DEAD_FRACTION)
    if code_dead is not None and code_dead > 0:
        k = info.latent_size(run)
        count = f" ({round(code_dead * k)} of {k})" if k else ""
        facts.append(f"{m.fmt_num(100 * code_dead)}% of code dimensions carry nothing{count}")
    series = run.layer_signal(worst_name, fmt.LAYER_DEAD_FRACTION)
    since = m.since_step(series, series.values >= DEAD)
    if since is not None and since > int(series.steps[0]) and \
            int(series.steps[-1]) - since < PERSIST_STEPS:
        return None  # units silent for a few steps (a decoder fed a still-flat code) revive
    if since is not None:
        facts[0] += f" since step {since}"
    strength = m.ramp(worst, 0.55, 0.9) * (0.3 + 0.7 * shortfall(run)) \
        * narrowed_weight(run, worst_name, worst, facts)
    fix = (f"keep units alive in {worst_name}: use nn.LeakyReLU(0.01) or nn.ELU, init biases at 0 "
           "(nn.init.zeros_(layer.bias)), and lower the learning rate if units died mid-run")
    return Evidence(strength, since, facts, fix)


CAUSE = Cause(
    id="dead_relu",
    needs=(fmt.LAYER_DEAD_FRACTION,),
    fix="use nn.LeakyReLU(0.01), zero biases at init, lower the learning rate",
    score=_score,
    consequence_of=("lr_too_high", "init_too_small", "init_too_large", "init_constant",
                    "constant_input", "loss_mismatch"),
)
