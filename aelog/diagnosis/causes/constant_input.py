"""constant_input: the pipeline feeds (nearly) the same input every time, or inputs with
~zero variance across the batch; identical inputs can only give identical outputs.
"""

from __future__ import annotations

from aelog import format as fmt
from aelog.diagnosis import measures as m
from aelog.diagnosis.causes.base import Cause, Evidence
from aelog.run_data import RunData

MOSTLY_DUPLICATES = 0.75
"""three quarters of a batch are copies of other samples in it."""
TINY_SPREAD = 1e-3
"""batch variance under 0.1% of the inputs' overall variance: the samples barely differ."""


def _score(run: RunData) -> Evidence | None:
    facts, strength, since = [], 0.0, None
    duplicates = run.signal(fmt.INPUT_DUPLICATE_FRACTION)
    if duplicates is not None:
        share = m.median(m.tail(duplicates)) or 0.0
        # sampling with replacement from a small set duplicates some samples; a broken
        # pipeline duplicates (nearly) all of them
        if share >= MOSTLY_DUPLICATES:
            facts.append(f"{m.fmt_num(100 * share)}% of each batch duplicates another sample")
            strength = m.ramp(share, MOSTLY_DUPLICATES, 0.95)
            since = m.since_step(duplicates, duplicates.values >= MOSTLY_DUPLICATES)
    spread = run.signal(fmt.INPUT_BATCH_VARIANCE)
    scale = m.tail_median(run, fmt.INPUT_STD)
    if spread is not None:
        variance = m.median(m.tail(spread)) or 0.0
        reference = max(scale**2 if scale else 0.0, 1e-12)
        relative = variance / reference if scale else variance
        if variance < 1e-10 or relative < TINY_SPREAD:
            facts.append(f"inputs vary across the batch by {m.fmt_num(variance)} (variance), "
                         f"{m.fmt_num(100 * relative)}% of their overall variance")
            strength = max(strength, m.log_ramp(relative, TINY_SPREAD, TINY_SPREAD / 100)
                           if variance >= 1e-10 else 1.0)
            tiny = spread.values < max(TINY_SPREAD * reference, 1e-10)
            since = m.since_step(spread, tiny) if since is None else since
    if strength <= 0:
        return None
    repeated = run.signal(fmt.INPUT_SAME_AS_PREVIOUS)
    if repeated is not None and float(repeated.values.mean()) > 0.5:
        facts.append(f"the same batch was fed at {m.fmt_num(100 * float(repeated.values.mean()))}% "
                     "of logged steps")
    fix = ("check the data pipeline: shuffle=True in the DataLoader, index the batch with the "
           "loop variable (x = data[i], not data[0]), and do not expand/repeat one sample")
    return Evidence(strength, since, facts, fix)


CAUSE = Cause(
    id="constant_input",
    needs=(fmt.INPUT_DUPLICATE_FRACTION, fmt.INPUT_BATCH_VARIANCE),
    fix="fix the data pipeline so each batch holds different samples",
    score=_score,
)
