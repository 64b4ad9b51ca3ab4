"""over_regularized: weight decay, an L1/L2 term or heavy dropout pulls harder than the
reconstruction loss, so weights shrink and outputs drift to the mean.
"""

from __future__ import annotations

import numpy as np

from aelog.diagnosis import measures as m
from aelog.diagnosis import model_info as info
from aelog.diagnosis.causes.base import Cause, Evidence
from aelog.diagnosis.outcome import shortfall
from aelog.logfile import format as fmt
from aelog.logfile.run_data import RunData, Series

WARMUP = 20
"""steps before the gradient's direction says anything about a penalty."""


def _pull(run: RunData, facts: list[str]) -> float:
    strength = 0.0
    pull = max(m.tail_median(run, fmt.REGULARIZATION_PULL) or 0.0,
               m.median(run.signal(fmt.REGULARIZATION_PULL)) or 0.0)
    if pull > 0.5:
        facts.append(f"weight decay pulls {m.fmt_num(pull)}x as hard as the loss gradient")
        # where decay and loss balance (the weights stop shrinking) the pull is 1: as
        # strong as the evidence gets, not a third of the way
        strength = max(strength, m.log_ramp(pull, 0.5, 1.0))
    # a pure loss gradient is nearly orthogonal to the weights (cosine ~0); an L2 penalty's
    # gradient is the weights themselves (cosine 1), an L1 penalty's their signs (~0.8)
    # (not in the first WARMUP steps: a fresh network's outputs are off in scale and the
    # loss itself pulls the weights along themselves for a while)
    series = run.signal(fmt.GRAD_WEIGHT_COSINE)
    if series is not None:
        settled = series.since(int(series.steps[0]) + WARMUP)
        late, overall = m.median(m.tail(settled)), m.median(settled)
        cosine = max(late or 0.0, overall or 0.0)
        if cosine > 0.15:
            facts.append(f"gradient points along the weights (cosine {m.fmt_num(cosine)}, ~0 "
                         "for a pure reconstruction loss): a penalty on the weights dominates")
            # with no decay configured, a loss can also pull along the weights while it
            # removes what a random init put there: only count it once weights shrink
            configured = (info.number(info.setting(run, "weight_decay")) or 0.0) > 0
            shrunk = _shrunk_share(run)
            weight = 1.0 if configured else m.ramp(shrunk, 0.2, 0.45)
            if not configured and _steady_pull(settled, run):
                # a loss that only clears init noise pulls along the weights for a while;
                # a penalty does it at every step while the norm falls at every step
                weight = max(weight, m.ramp(shrunk, 0.05, 0.2))
            strength = max(strength, m.ramp(cosine, 0.15, 0.45) * weight)
    return strength


STEADY_SHARE = 0.9
"""share of the points after the warm-up that must show the pull (and the norm falling)."""
STEADY_STEPS = 20
"""steps after the warm-up the pull must have lasted."""


def _steady_pull(cosine: Series, run: RunData) -> bool:
    """The gradient has pointed along the weights at (nearly) every logged step since the
    warm-up, for STEADY_STEPS steps or more, and the weight norm fell between (nearly)
    every two logged steps: what a penalty does, and a loss settling from its init does not."""
    cosine = m.finite(cosine)
    norm = run.signal(fmt.WEIGHT_NORM)
    if len(cosine) < 5 or norm is None:
        return False
    if int(cosine.steps[-1] - cosine.steps[0]) < STEADY_STEPS:
        return False
    norm = m.finite(norm).since(int(cosine.steps[0]))
    if len(norm) < 5:
        return False
    falling = np.diff(norm.values) < 0
    return (m.fraction_true(cosine.values > 0.2) >= STEADY_SHARE
            and m.fraction_true(falling) >= STEADY_SHARE)


def _shrunk_share(run: RunData) -> float:
    """How much of its peak norm the weights have lost (0..1)."""
    norm = run.signal(fmt.WEIGHT_NORM)
    if norm is None or len(norm) < 3:
        return 0.0
    norm = m.finite(norm)
    peak, end = float(norm.values.max(initial=0)), m.median(m.tail(norm))
    return 0.0 if not peak or end is None else max(0.0, 1 - end / peak)


def _shrink(run: RunData, facts: list[str]) -> float:
    norm = run.signal(fmt.WEIGHT_NORM)
    if norm is None or len(norm) < 3:
        return 0.0
    norm = m.finite(norm)
    peak, end = float(norm.values.max(initial=0)), m.median(m.tail(norm))
    if not peak or end is None or end > 0.8 * peak:
        return 0.0
    facts.append(f"weight norm shrank from {m.fmt_num(peak)} to {m.fmt_num(end)}")
    return m.ramp(1 - end / peak, 0.2, 0.7)


def _score(run: RunData) -> Evidence | None:
    facts: list[str] = []
    pull = _pull(run, facts)
    shrink = _shrink(run, facts)
    dropout = info.max_dropout(run)
    drop_strength = m.ramp(dropout, 0.4, 0.8)
    if dropout >= 0.4:
        facts.append(f"dropout p={m.fmt_num(dropout)}")
    # weights shrinking to a small share of their peak while outputs go to the mean is the
    # signature of a penalty even when the penalty itself is hidden in the loss
    strength = max(pull * (0.6 + 0.4 * shrink), drop_strength, 0.8 * m.ramp(shrink, 0.8, 1.0))
    if strength <= 0:
        return None
    bad = shortfall(run)
    if bad <= 0:
        return None
    wd = info.number(info.setting(run, "weight_decay"))
    if wd:
        facts.append(f"weight_decay {m.fmt_num(wd)}")
    spread = m.tail_median(run, fmt.OUTPUT_VARIANCE_RATIO)
    if spread is not None:
        facts.append(f"outputs keep {m.fmt_num(100 * spread)}% of the targets' variance")
    fix_parts = []
    if wd:
        fix_parts.append(f"lower weight_decay 10-100x (weight_decay={m.fmt_num(wd / 100)})")
    if dropout >= 0.4:
        fix_parts.append("use dropout p<=0.2")
    if not fix_parts:
        fix_parts.append("lower the L1/L2 penalty in the loss 10-100x")
    since = None
    cosine = run.signal(fmt.REGULARIZATION_PULL) or run.signal(fmt.GRAD_WEIGHT_COSINE)
    if cosine is not None:
        since = int(cosine.steps[0])
    return Evidence(strength * bad, since, facts, "; ".join(fix_parts))


CAUSE = Cause(
    id="over_regularized",
    needs=(fmt.REGULARIZATION_PULL, fmt.GRAD_WEIGHT_COSINE, fmt.WEIGHT_NORM),
    fix="lower weight decay / the L1-L2 penalty 10-100x, or dropout to p<=0.2",
    score=_score,
    consequence_of=("init_constant", "init_too_large"),
)
