"""constant_input: the pipeline feeds (nearly) the same input every time, or inputs with
~zero variance across the batch; identical inputs can only give identical outputs.

A batch fed again at every step is blamed only when the model memorises it (validation
far worse than training): ``x = next(iter(loader))`` above the loop where it belongs
inside. Full-batch training on a small data set does the same on purpose, and says so in
the evidence; without validation it is only mentioned.
"""

from __future__ import annotations

from aelog.diagnosis import measures as m
from aelog.diagnosis.causes.base import Cause, Evidence
from aelog.diagnosis.causes.under_regularized import memorisation, memorisation_strength
from aelog.logfile import format as fmt
from aelog.logfile.run_data import RunData

MOSTLY_DUPLICATES = 0.75
"""three quarters of a batch are copies of other samples in it."""
TINY_SPREAD = 1e-3
"""batch variance under 0.1% of the inputs' overall variance: the samples barely differ."""
NORMAL_SPREAD = 0.1
"""batch variance above 10% of the overall variance: the samples do differ."""
ONE_BATCH = 0.9
"""the same batch at nine logged steps in ten or more: one batch, drawn once."""


def _duplicates(run: RunData, facts: list[str]) -> tuple[float, int | None]:
    """Sampling with replacement from a small set duplicates some samples; a broken
    pipeline duplicates (nearly) all of them."""
    series = run.signal(fmt.INPUT_DUPLICATE_FRACTION)
    share = m.median(m.tail(series)) if series is not None else None
    if share is None or share < MOSTLY_DUPLICATES:
        return 0.0, None
    facts.append(f"{m.fmt_num(100 * share)}% of each batch duplicates another sample")
    since = m.since_step(series, series.values >= MOSTLY_DUPLICATES)
    return m.ramp(share, MOSTLY_DUPLICATES, 0.98), since


def _relative_spread(run: RunData) -> tuple[float | None, float | None]:
    """(batch variance, batch variance / overall variance of the inputs)."""
    variance = m.tail_median(run, fmt.INPUT_BATCH_VARIANCE)
    scale = m.tail_median(run, fmt.INPUT_STD)
    if variance is None:
        return None, None
    if not scale:
        return variance, None
    return variance, variance / max(scale**2, 1e-12)


def _tiny_spread(run: RunData, facts: list[str]) -> tuple[float, int | None]:
    variance, relative = _relative_spread(run)
    if variance is None:
        return 0.0, None
    if variance >= 1e-10 and (relative is None or relative >= TINY_SPREAD):
        return 0.0, None
    shown = "" if relative is None else f", {m.fmt_num(100 * relative)}% of their overall variance"
    facts.append(f"inputs vary across the batch by {m.fmt_num(variance)} (variance){shown}")
    strength = 1.0 if variance < 1e-10 else m.log_ramp(relative, TINY_SPREAD, TINY_SPREAD / 100)
    series = run.signal(fmt.INPUT_BATCH_VARIANCE)
    scale = m.tail_median(run, fmt.INPUT_STD) or 0.0
    tiny = series.values < max(TINY_SPREAD * scale**2, 1e-10)
    return strength, m.since_step(series, tiny)


def _one_batch(run: RunData, facts: list[str]) -> tuple[float, int | None]:
    """One batch fed at (nearly) every step, and memorised: validation error far above
    the training error on it."""
    repeated = run.signal(fmt.INPUT_SAME_AS_PREVIOUS)
    if repeated is None or len(repeated) < m.MIN_VERDICT_POINTS:
        return 0.0, None
    share = float(repeated.values.mean())
    if share < ONE_BATCH:
        return 0.0, None
    found = memorisation(run)
    if found is None:
        return 0.0, None
    facts.append(f"the model memorises the one batch it is fed: validation relative error "
                 f"{m.fmt_num(found.validation)} vs {m.fmt_num(found.training)} on it "
                 f"({m.fmt_num(found.ratio)}x)")
    return memorisation_strength(found), int(repeated.steps[0])


def _score(run: RunData) -> Evidence | None:
    facts: list[str] = []
    dup_strength, dup_since = _duplicates(run, facts)
    spread_strength, spread_since = _tiny_spread(run, facts)
    _, relative = _relative_spread(run)
    if relative is not None and relative >= NORMAL_SPREAD:
        dup_strength *= 0.4  # copies of samples that differ: a tiny data set, not one input
    repeated = run.signal(fmt.INPUT_SAME_AS_PREVIOUS)
    if repeated is not None and float(repeated.values.mean()) > 0.5:
        share = float(repeated.values.mean())
        facts.append(f"the same batch was fed at {m.fmt_num(100 * share)}% of logged steps")
    batch_strength, batch_since = _one_batch(run, facts)
    strength = max(dup_strength, spread_strength, batch_strength)
    if strength <= 0:
        return None
    steps = [s for s in (dup_since, spread_since, batch_since) if s is not None]
    fix = ("check the data pipeline: shuffle=True in the DataLoader, index the batch with the "
           "loop variable (x = data[i], not data[0]), and do not expand/repeat one sample")
    if batch_strength > max(dup_strength, spread_strength):
        fix = ("draw a new batch at every step (for x in loader: ..., not x = next(iter(loader)) "
               "once before the loop); if one batch is all the data on purpose, add data, "
               "weight decay or early stopping")
    return Evidence(strength, min(steps) if steps else None, facts, fix)


CAUSE = Cause(
    id="constant_input",
    needs=(fmt.INPUT_DUPLICATE_FRACTION, fmt.INPUT_BATCH_VARIANCE),
    fix="fix the data pipeline so each batch holds different samples",
    score=_score,
)
