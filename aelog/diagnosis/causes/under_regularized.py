"""under_regularized: the model memorises its training batches: training reconstruction
far better than validation (forwards made in eval mode), and validation stops improving.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aelog.diagnosis import measures as m
from aelog.diagnosis.causes.base import Cause, Evidence
from aelog.logfile import format as fmt
from aelog.logfile.run_data import RunData, Series

GAP = 1.5
"""validation error 1.5x the training error or more: memorisation, not noise."""
FULL_GAP = 3.0
"""... and 3x is memorisation beyond doubt."""


@dataclass
class Memorisation:
    validation: float
    """validation relative error at the end."""
    training: float
    """training relative error at the validation steps, at the end."""
    since: int
    best: float
    """the best validation error so far."""

    @property
    def ratio(self) -> float:
        return self.validation / max(self.training, 1e-12)

    @property
    def gap(self) -> float:
        return self.validation - self.training


def memorisation(run: RunData) -> Memorisation | None:
    """Validation error 1.5x the training error or more, for two validation points or
    more at the end; None otherwise (or without validation)."""
    val = run.signal(fmt.VAL_RELATIVE_ERROR)
    train = run.signal(fmt.RELATIVE_ERROR)
    if val is None or train is None or len(val) < 3:
        return None
    val_end = m.median(m.tail(m.finite(val)))
    # training error at the validation steps (nearest logged step at or before)
    train = m.finite(train)
    if val_end is None or not len(train):
        return None
    # A validation point averages the eval batches since the previous logging step, when
    # the model was worse: compare it with the worse of the training errors at both ends.
    index = np.clip(np.searchsorted(train.steps, val.steps, side="right") - 1, 0, len(train) - 1)
    before = np.clip(np.searchsorted(train.steps, np.r_[val.steps[0], val.steps[:-1]],
                                     side="right") - 1, 0, len(train) - 1)
    train_at_val = np.maximum(train.values[index], train.values[before])
    train_end = m.median(m.tail(Series(val.steps, train_at_val)))
    if train_end is None:
        return None
    found = Memorisation(val_end, train_end, 0,
                         float(np.min(val.values[np.isfinite(val.values)])))
    if found.ratio < GAP or found.gap < 0.05:
        return None
    holds = val.values > GAP * np.maximum(train_at_val, 1e-12)
    since = m.since_step(val, holds)
    if since is None or int(np.count_nonzero(holds[val.steps >= since])) < 2:
        return None  # one validation point is not a trend
    found.since = since
    return found


def memorisation_strength(found: Memorisation) -> float:
    # twice the training error on unseen inputs is memorisation whether or not validation
    # has started to rise yet; a rise only makes it surer
    rising = m.ramp(found.validation / max(found.best, 1e-12), 1.0, 1.5)
    return (m.log_ramp(found.ratio, GAP, FULL_GAP) * m.ramp(found.gap, 0.05, 0.2)
            * (0.8 + 0.2 * rising))


def _score(run: RunData) -> Evidence | None:
    found = memorisation(run)
    if found is None:
        return None
    facts = [f"validation relative error {m.fmt_num(found.validation)} vs training "
             f"{m.fmt_num(found.training)} ({m.fmt_num(found.ratio)}x)"]
    if found.validation > 1.1 * found.best:
        facts.append(f"validation error rose from its best {m.fmt_num(found.best)}")
    fix = ("add weight_decay=1e-4 (torch.optim.AdamW) or nn.Dropout(0.1) before the bottleneck, "
           "train on more data, or stop at the best validation step")
    return Evidence(memorisation_strength(found), found.since, facts, fix)


CAUSE = Cause(
    id="under_regularized",
    needs=(fmt.VAL_RELATIVE_ERROR,),
    fix="add weight decay or dropout, more data, or early stopping",
    score=_score,
    consequence_of=("constant_input", "latent_too_large", "lr_too_high"),
)
