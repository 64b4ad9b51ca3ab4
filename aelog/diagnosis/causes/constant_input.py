"""constant_input: the pipeline feeds (nearly) the same input every time, or inputs with
~zero variance across the batch; identical inputs can only give identical outputs.

A batch fed again at every step is only mentioned, never blamed: full-batch training on a
small data set does exactly that on purpose.
"""

from __future__ import annotations

from aelog.diagnosis import measures as m
from aelog.diagnosis.causes.base import Cause, Evidence
from aelog.logfile import format as fmt
from aelog.logfile.run_data import RunData

MOSTLY_DUPLICATES = 0.75
"""three quarters of a batch are copies of other samples in it."""
TINY_SPREAD = 1e-3
"""batch variance under 0.1% of the inputs' overall variance: the samples barely differ."""
NORMAL_SPREAD = 0.1
"""batch variance above 10% of the overall variance: the samples do differ."""


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


def _score(run: RunData) -> Evidence | None:
    facts: list[str] = []
    dup_strength, dup_since = _duplicates(run, facts)
    spread_strength, spread_since = _tiny_spread(run, facts)
    _, relative = _relative_spread(run)
    if relative is not None and relative >= NORMAL_SPREAD:
        dup_strength *= 0.4  # copies of samples that differ: a tiny data set, not one input
    strength = max(dup_strength, spread_strength)
    if strength <= 0:
        return None
    repeated = run.signal(fmt.INPUT_SAME_AS_PREVIOUS)
    if repeated is not None and float(repeated.values.mean()) > 0.5:
        share = float(repeated.values.mean())
        facts.append(f"the same batch was fed at {m.fmt_num(100 * share)}% of logged steps")
    steps = [s for s in (dup_since, spread_since) if s is not None]
    fix = ("check the data pipeline: shuffle=True in the DataLoader, index the batch with the "
           "loop variable (x = data[i], not data[0]), and do not expand/repeat one sample")
    return Evidence(strength, min(steps) if steps else None, facts, fix)


CAUSE = Cause(
    id="constant_input",
    needs=(fmt.INPUT_DUPLICATE_FRACTION, fmt.INPUT_BATCH_VARIANCE),
    fix="fix the data pipeline so each batch holds different samples",
    score=_score,
)
