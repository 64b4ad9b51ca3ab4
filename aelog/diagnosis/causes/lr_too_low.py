"""lr_too_low: every step moves the parameters by a tiny share of their size, so over
the whole run they barely change and the loss stays flat.
"""

from __future__ import annotations

from aelog.diagnosis import measures as m
from aelog.diagnosis import model_info as info
from aelog.diagnosis.causes.base import Cause, Evidence
from aelog.diagnosis.outcome import shortfall
from aelog.logfile import format as fmt
from aelog.logfile.run_data import RunData

BARELY_MOVED = 0.1
"""parameters moved by under 10% of their norm over the whole run (an estimate: the
median step's update ratio times the number of steps)."""
HORIZON = 1000
"""the shortest training run the estimate assumes."""
FLAT_STEPS = 20
"""steps of a flat loss before a merely small step counts as too small."""
FLAT_GAIN = 0.3
"""a relative error that gained under this share since the start (fully under a third of
it) is flat."""


def _score(run: RunData) -> Evidence | None:
    updates = run.signal(fmt.UPDATE_RATIO)
    if updates is None:
        return None
    per_step = m.median(m.finite(updates))
    steps = max(m.logged_steps(run), 1)
    if per_step is None:
        return None
    frozen = m.tail_median(run, fmt.FROZEN_FRACTION) or 0.0
    if frozen >= 0.9:
        return None  # nothing moves at all: frozen_parameters, not a small step
    # judged over at least HORIZON steps: a few early steps say nothing about a whole run
    horizon = max(steps, HORIZON)
    moved = per_step * horizon
    strength = m.log_ramp(moved, BARELY_MOVED, BARELY_MOVED / 20)
    facts = [f"median update moves the weights by {m.fmt_num(per_step)} of their norm per step: "
             f"about {m.fmt_num(100 * moved)}% over {horizon} steps"]
    start = m.head_median(run, fmt.RELATIVE_ERROR)
    end = m.tail_median(run, fmt.RELATIVE_ERROR)
    flat = 1.0
    if start is not None and end is not None and start > 0:
        gained = (start - end) / start
        flat = m.ramp(gained, 0.3, 0.05)
        facts.append(f"relative error {m.fmt_num(start)} at the start, {m.fmt_num(end)} at the end")
        if steps >= FLAT_STEPS:
            # the error has gained under a tenth: steps that small explain it even if the
            # run is too short for the weights to have barely moved overall
            flat_loss = m.ramp(gained, FLAT_GAIN, FLAT_GAIN / 3)
            strength = max(strength, 0.7 * flat_loss * m.log_ramp(per_step, 1e-3, 1e-4))
    strength *= flat
    if strength <= 0:
        return None
    lr = info.number(info.setting(run, "lr"))
    if lr is not None:
        facts.append(f"learning rate {m.fmt_num(lr)}")
    fix = "raise the learning rate 10x" + (f" (lr={m.fmt_num(lr * 10)})" if lr else "") + \
        " or use torch.optim.Adam(model.parameters(), lr=1e-3)"
    return Evidence(strength * (0.3 + 0.7 * shortfall(run)), int(updates.steps[0]),
                    facts, fix)


CAUSE = Cause(
    id="lr_too_low",
    needs=(fmt.UPDATE_RATIO,),
    fix="raise the learning rate 10x (Adam: lr=1e-3 is a good start)",
    score=_score,
    consequence_of=("init_too_small", "init_constant", "frozen_parameters", "constant_input",
                    "dead_relu", "saturated_activation", "loss_mismatch"),
    # not posterior_collapse: a decoder that ignores z leaves the rest of the loss to
    # learn, so steps stay their size; tiny steps come first
)
