"""frozen_parameters: part of the model never changes (not given to the optimizer,
requires_grad off, or a detached latent that blocks the encoder's gradient).
"""

from __future__ import annotations

from aelog.diagnosis import measures as m
from aelog.diagnosis import model_info as info
from aelog.diagnosis.causes.base import Cause, Evidence
from aelog.diagnosis.outcome import shortfall
from aelog.logfile import format as fmt
from aelog.logfile.run_data import RunData


def _declared(run: RunData, facts: list[str]) -> float:
    """Share of parameters the metadata says cannot train (0..1), with the layer names."""
    layers = info.layers(run)
    total = sum(info.number(layer.get("parameters")) or 0 for layer in layers)
    stuck = [layer for layer in layers
             if layer.get("trainable") is False or layer.get("in_optimizer") is False]
    if stuck and total:
        share = sum(info.number(layer.get("parameters")) or 0 for layer in stuck) / total
        names = ", ".join(str(layer.get("name")) for layer in stuck[:4])
        why = {(False, True): "requires_grad off", (True, False): "not in the optimizer"}
        reasons = {why.get((bool(layer.get("trainable")), bool(layer.get("in_optimizer"))),
                           "not trained") for layer in stuck}
        facts.append(f"{len(stuck)} layer(s) cannot train ({'; '.join(sorted(reasons))}): "
                     f"{names}, {m.fmt_num(100 * share)}% of the weights")
        return share
    return 0.0


def _score(run: RunData) -> Evidence | None:
    facts: list[str] = []
    declared = _declared(run, facts)
    frozen = run.signal(fmt.FROZEN_FRACTION)
    measured = 0.0
    since = None
    if frozen is not None and len(frozen) >= 2:
        measured = m.median(m.tail(m.finite(frozen.since(int(frozen.steps[1]))))) or 0.0
        if measured > 0.01:
            facts.append(f"{m.fmt_num(100 * measured)}% of parameters did not change between "
                         "logging steps")
            since = int(frozen.steps[0])
    no_grad = [name for name, v in m.layer_tail_medians(run, fmt.LAYER_GRAD_NORM).items() if v == 0]
    if no_grad:
        facts.append("no gradient reaches " + ", ".join(no_grad[:4])
                     + " (a detach() or no_grad around the code?)")
        measured = max(measured, 0.3)
    # zero updates without a declared freeze may be dead units passing no gradient
    share = max(declared, 0.8 * measured)
    if share < 0.05:
        return None
    fix = ("train every part: pass model.parameters() to the optimizer, set requires_grad_(True) "
           "on frozen layers, and remove .detach() / torch.no_grad() around the encoder's output")
    strength = m.ramp(share, 0.05, 0.3) * (0.2 + 0.8 * shortfall(run))
    return Evidence(strength, since if since is not None else 0, facts, fix)


CAUSE = Cause(
    id="frozen_parameters",
    needs=(fmt.FROZEN_FRACTION, fmt.LAYER_GRAD_NORM, fmt.LAYER_UPDATE_RATIO),
    fix="give every parameter to the optimizer, requires_grad on, no detach() on the code",
    score=_score,
    # lr_too_low: a step under float32's resolution of the weights rounds away, so weights
    # that train stay as they were between logging steps
    # saturated_activation: units pinned at a limit pass no gradient back, so the layers
    # before them stop moving
    # over_regularized: weights decayed to nothing have vanishing gradients and stop moving
    consequence_of=("dead_relu", "init_too_small", "init_constant", "lr_too_high",
                    "constant_input", "lr_too_low", "saturated_activation", "over_regularized"),
)
