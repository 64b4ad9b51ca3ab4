"""lr_too_high: steps so large that the loss diverges (NaN/Inf), jumps above its start,
or swings wildly; weights change by a large share of their size every step.
"""

from __future__ import annotations

import bisect

import numpy as np

from aelog.diagnosis import measures as m
from aelog.diagnosis import model_info as info
from aelog.diagnosis.causes.base import Cause, Evidence
from aelog.diagnosis.causes.dead_relu import narrowed_weight
from aelog.diagnosis.context import outputs_look_like_logits
from aelog.diagnosis.nonfinite import nonfinite_origin
from aelog.diagnosis.outcome import shortfall
from aelog.logfile import format as fmt
from aelog.logfile.run_data import RunData

STEPS_THAT_MATTER = 0.01
"""weights moved by under 1% in all between two logged points cannot have made the error
jump between them."""
BIG_UPDATE = 0.05
"""weights moving by 5% of their norm per step: far past a stable step (~1e-3)."""
HUGE_UPDATE = 1.0
"""a step the size of the weights themselves: the step size alone is then the fault.
Between BIG_UPDATE and this, big steps alone count little: Adam's first updates are lr
over the weights' scale (~10% for lr=1e-2 on a small GRU) in runs that train well."""
UNSEEN_BATCHES = 0.6
"""NaN out of the model on a span of steps whose batches were not all checked: a bad batch
could explain it as well as the step size, so it alone does not make this certain."""
EARLY_POINTS = 10
"""the first logged steps, where Adam's sign-like first updates show the step size bare."""

LEVEL_QUANTILE = 0.2
"""the error level reached so far, robust to a few lucky batches (a per-batch error of 4
samples swings by 2x from sampling alone)."""


def _nonfinite(run: RunData, facts: list[str]) -> tuple[float, int | None]:
    origin = nonfinite_origin(run)
    if origin is not None:
        if origin.from_inputs:
            return 0.0, None  # the data brought it: no step size explains that
        if origin.first_step == 0:
            return 0.0, None  # out of the first forward, before any update: not a step size
        facts.extend(origin.facts())
        return (1.0 if origin.exact else UNSEEN_BATCHES), origin.first_step
    for name in (fmt.NONFINITE_GRAD_FRACTION, fmt.NONFINITE_WEIGHT_FRACTION,
                 fmt.NONFINITE_OUTPUT_FRACTION):
        series = run.signal(name)
        if series is None:
            continue
        hit = np.flatnonzero(series.values > 0)
        if hit.size and int(series.steps[hit[0]]) == 0 and name != fmt.NONFINITE_GRAD_FRACTION:
            return 0.0, None  # NaN/Inf before any update: the initialisation or the data
        if hit.size:
            step = int(series.steps[hit[0]])
            facts.append(f"{name.replace('_', ' ')} first above 0 at step {step}")
            return 1.0, step
    skipped = run.signal(fmt.SKIPPED_STEPS)
    if (skipped is not None and float(skipped.values[-1]) > 0
            and not _loss_scale_calibration(run, skipped)):
        facts.append(f"{int(skipped.values[-1])} optimizer steps skipped on inf/NaN")
        return 0.7, int(skipped.steps[np.flatnonzero(skipped.values > 0)[0]])
    return 0.0, None


def _loss_scale_calibration(run: RunData, skipped) -> bool:
    """A GradScaler skips a few steps while it finds its scale: that is not divergence.

    It is when the scale has collapsed below 1 (the gradients overflow even unscaled) or
    when a fifth of all steps were skipped.
    """
    scale = run.signal(fmt.LOSS_SCALE)
    if scale is None:
        return False  # no scaler: the loop itself skipped steps on a NaN loss
    count = float(skipped.values[-1])
    steps = int(skipped.steps[-1]) + 1 + count
    return float(scale.values[-1]) >= 1.0 and count <= 0.2 * steps


def _divergence(run: RunData, facts: list[str]) -> tuple[float, int | None]:
    error = run.signal(fmt.RELATIVE_ERROR)
    if error is None or len(error) < 4:
        return 0.0, None
    # relative error is 0/0 on constant targets: judge blow-ups on the plain MSE
    mse = run.signal(fmt.RECON_MSE)
    if mse is not None and not np.all(np.isfinite(mse.values)):
        first = int(mse.steps[np.flatnonzero(~np.isfinite(mse.values))[0]])
        facts.append(f"reconstruction error becomes NaN/Inf at step {first}")
        return 1.0, first
    error = m.finite(error)
    if len(error) < 4 or outputs_look_like_logits(run):
        return 0.0, None
    values = error.values
    start = float(values[0])
    peak_index = int(np.argmax(values[1:])) + 1
    peak = float(values[peak_index])
    strength, since = 0.0, None
    if peak > max(2 * start, 1.5) and _could_move(run, 0, int(error.steps[peak_index])):
        facts.append(f"relative error jumps from {m.fmt_num(start)} to {m.fmt_num(peak)} at "
                     f"step {int(error.steps[peak_index])}")
        strength, since = m.log_ramp(peak / max(start, 1e-12), 2, 10), int(error.steps[peak_index])
    # wild oscillation: late points repeatedly jump to twice the level the run has reached.
    # The level is a low quantile of the errors so far, not their minimum: on small batches
    # the per-batch error is noisy, and one lucky batch must not make every later one a jump.
    late = m.tail(error, 0.5)
    if len(late) >= 5:
        reached = _running_low_quantile(values, LEVEL_QUANTILE)
        best = reached[np.searchsorted(error.steps, late.steps)]
        jumps = float(np.mean(late.values > 2 * best))
        if jumps >= 0.3 and m.middle(late.values) > 0.2 and \
                _could_move(run, int(late.steps[0]), int(late.steps[-1])):
            facts.append(f"relative error jumps above twice its best at "
                         f"{m.fmt_num(100 * jumps)}% of logged steps in the second half")
            strength = max(strength, m.ramp(jumps, 0.3, 0.7))
            since = since if since is not None else int(late.steps[0])
    return strength, since


def _could_move(run: RunData, first: int, last: int) -> bool:
    """Whether the steps between two logged steps were big enough to move the weights by
    STEPS_THAT_MATTER in all (median update ratio x steps): an error jump over steps of a
    millionth of the weights comes from the batches or a VAE's sampling, not the step size."""
    updates = run.signal(fmt.UPDATE_RATIO)
    if updates is None:
        return True
    window = m.finite(updates)
    window = window.values[(window.steps >= first) & (window.steps <= last)]
    if window.size == 0:
        return True
    return float(np.median(window)) * max(1, last - first) >= STEPS_THAT_MATTER


def _running_low_quantile(values: np.ndarray, quantile: float) -> np.ndarray:
    """For each point, the ``quantile`` of all values up to and including it."""
    seen: list[float] = []
    levels = np.empty(values.size)
    for index, value in enumerate(values):
        bisect.insort(seen, float(value))
        levels[index] = seen[int(quantile * (len(seen) - 1))]
    return levels


def _big_updates(run: RunData, facts: list[str]) -> tuple[float, int | None]:
    updates = run.signal(fmt.UPDATE_RATIO)
    if updates is None:
        return 0.0, None
    updates = m.finite(updates)
    first = updates.values[: EARLY_POINTS]
    early_peak = float(first.max()) if first.size else 0.0
    late = m.median(m.tail(updates)) or 0.0
    size = max(early_peak, late)
    if size < BIG_UPDATE:
        return 0.0, None
    if _weight_decay_at_work(run):
        return 0.0, None
    facts.append(f"steps move the weights by up to {m.fmt_num(100 * size)}% of their norm "
                 "(stable training: ~0.1-1%)")
    # large steps alone are no fault: Adam's first steps are sign-like, lr over the weights'
    # size. They are one when the error does not come down under them.
    strength = (m.log_ramp(size, 2 * BIG_UPDATE, HUGE_UPDATE) * shortfall(run)
                * (1 - _improvement(run)))
    return strength, int(updates.steps[0])


def _weight_decay_at_work(run: RunData) -> bool:
    """Big steps that shrink the weights are weight decay at work, not the learning rate."""
    pull = m.median(run.signal(fmt.REGULARIZATION_PULL)) or 0.0
    norm = run.signal(fmt.WEIGHT_NORM)
    shrinking = norm is not None and len(norm) > 2 and \
        (m.median(m.tail(m.finite(norm))) or 0.0) < 0.5 * float(np.nanmax(norm.values))
    return pull > 0.5 or shrinking


def _improvement(run: RunData) -> float:
    """0 while the relative error stays near its start, 1 once it has fallen by half or more
    (its level now: a low quantile of the latest points, robust to one noisy batch)."""
    error = run.signal(fmt.RELATIVE_ERROR)
    if error is None:
        return 0.0
    values = m.finite(error).values
    if values.size < 4 or values[0] <= 0:
        return 0.0
    now = float(np.quantile(values[-5:], LEVEL_QUANTILE))
    gained = (float(values[0]) - now) / float(values[0])
    return m.ramp(gained, 0.2, 0.5)


KILLED = 0.5
"""a ReLU layer with half its units dead on every input: dead_relu's own threshold."""


def _units_killed(run: RunData, facts: list[str]) -> tuple[float, int | None]:
    """Damage that outlives a burst of big steps (10% of the weights or more): a ReLU layer
    alive at the start, dead from a step taken while the steps were big, and still dead at
    the end. The run may
    train on with what is left (its error even recovers), but those units never come
    back: the step size is the cause, the dead units its lasting consequence."""
    updates = run.signal(fmt.UPDATE_RATIO)
    if updates is None:
        return 0.0, None
    updates = m.finite(updates)
    # steps past where _big_updates starts to count them: Adam's own first steps at a
    # sound lr (2e-3 on a conv VAE) move weights by ~3%, and ReLUs may die under them too
    big = updates.steps[updates.values >= 2 * BIG_UPDATE]
    if big.size == 0 or _weight_decay_at_work(run):
        return 0.0, None
    for name in info.activation_layers(run, info.RELU_TYPES):
        series = run.layer_signal(name, fmt.LAYER_DEAD_FRACTION)
        if series is None or len(series) < 3 or series.values[0] >= KILLED:
            continue
        since = m.since_step(series, series.values >= KILLED, persist=0.9)
        end = m.median(m.tail(series))
        if since is None or since <= int(series.steps[0]) or end is None or end < KILLED:
            continue
        # units start dying under the big steps and cross half a few steps later
        rising = series.steps[series.values >= float(series.values[0]) + 0.1]
        onset = int(rising[0]) if rising.size else since
        later = updates.steps[updates.steps > big[-1]]
        if onset > (int(later[0]) if later.size else int(big[-1])):
            continue  # began dying after the big steps were over: not their doing
        facts.append(f"ReLU units in {name} died during the big steps (dead since step "
                     f"{since}; {m.fmt_num(100 * end)}% still dead at the end)")
        # as much as the dead units cost the run: what dead_relu itself weighs them by
        weight = narrowed_weight(run, name, end, facts)
        return (m.ramp(end, KILLED, 0.8) * 0.2 + 0.8) * (0.3 + 0.7 * shortfall(run)) * weight, \
            since
    return 0.0, None


RECOVERED_SHARE = 0.25
"""what a blow-up the run has since recovered from keeps of its strength: below the
engine's floor, so a run that trains well now is not flagged for its past."""


def _recovered(run: RunData, since: int) -> str | None:
    """The run is finite again and its error is now below where it was before the blow-up
    at ``since`` (and below the mean's): the verdict is about now (a loop that skips
    NaN steps, a warm-up spike)."""
    for name in (fmt.NONFINITE_OUTPUT_FRACTION, fmt.NONFINITE_GRAD_FRACTION,
                 fmt.NONFINITE_WEIGHT_FRACTION, fmt.RECON_MSE):
        series = run.signal(name)
        if series is not None and len(series) and not (
                np.isfinite(series.values[-1]) and (name == fmt.RECON_MSE
                                                    or series.values[-1] == 0)):
            return None
    error = run.signal(fmt.RELATIVE_ERROR)
    if error is None:
        return None
    error = m.finite(error)
    before = error.values[error.steps < since]
    if before.size == 0 or error.values.size < 5 or int(error.steps[-1]) <= since:
        return None
    now = float(np.quantile(error.values[-5:], LEVEL_QUANTILE))
    then = float(before[-1])
    if now > min(then, 0.9):
        return None
    return (f"recovered since: relative error {m.fmt_num(now)} now, {m.fmt_num(then)} before "
            f"step {since}")


def _score(run: RunData) -> Evidence | None:
    facts: list[str] = []
    parts = [_nonfinite(run, facts), _divergence(run, facts), _big_updates(run, facts)]
    strength = max(p[0] for p in parts)
    lasting: list[str] = []
    killed = _units_killed(run, lasting)
    if max(strength, killed[0]) <= 0:
        return None
    steps = [s for p in parts if p[0] > 0 and p[1] is not None for s in [p[1]]]
    recovered = _recovered(run, min(steps)) if steps else None
    if recovered is not None:
        facts.append(recovered)
        strength *= RECOVERED_SHARE
    facts.extend(lasting)
    strength = max(strength, killed[0])  # what the big steps broke for good stays broken
    if killed[1] is not None:
        steps.append(killed[1])
    lr = info.number(info.setting(run, "lr"))
    if lr is not None:
        facts.append(f"learning rate {m.fmt_num(lr)}")
    fix = "lower the learning rate 10x" + (f" (lr={m.fmt_num(lr / 10)})" if lr else "") + \
        "; add gradient clipping: torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)"
    return Evidence(strength, min(steps) if steps else None, facts, fix)


CAUSE = Cause(
    id="lr_too_high",
    needs=(fmt.RELATIVE_ERROR, fmt.UPDATE_RATIO, fmt.NONFINITE_GRAD_FRACTION),
    fix="lower the learning rate 10x and clip gradients",
    score=_score,
    # weights started tiny: any step is a large share of their norm (update ratio inflated)
    consequence_of=("init_too_large", "init_too_small"),
)
