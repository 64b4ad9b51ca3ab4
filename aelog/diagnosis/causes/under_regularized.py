"""under_regularized: the model memorises its training batches: training reconstruction
far better than validation (forwards made in eval mode), and validation stops improving.
"""

from __future__ import annotations

import numpy as np

from aelog.diagnosis import measures as m
from aelog.diagnosis.causes.base import Cause, Evidence
from aelog.logfile import format as fmt
from aelog.logfile.run_data import RunData, Series

GAP = 1.5
"""validation error 1.5x the training error or more: memorisation, not noise."""
FULL_GAP = 3.0
"""... and 3x is memorisation beyond doubt."""


def _score(run: RunData) -> Evidence | None:
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
    ratio = val_end / max(train_end, 1e-12)
    gap = val_end - train_end
    if ratio < GAP or gap < 0.05:
        return None
    facts = [f"validation relative error {m.fmt_num(val_end)} vs training {m.fmt_num(train_end)} "
             f"({m.fmt_num(ratio)}x)"]
    best = float(np.min(val.values[np.isfinite(val.values)]))
    rising = m.ramp(val_end / max(best, 1e-12), 1.0, 1.5)
    if val_end > 1.1 * best:
        facts.append(f"validation error rose from its best {m.fmt_num(best)}")
    holds = val.values > GAP * np.maximum(train_at_val, 1e-12)
    since = m.since_step(val, holds)
    if since is None or int(np.count_nonzero(holds[val.steps >= since])) < 2:
        return None  # one validation point is not a trend
    # twice the training error on unseen inputs is memorisation whether or not validation
    # has started to rise yet; a rise only makes it surer
    strength = m.log_ramp(ratio, GAP, FULL_GAP) * m.ramp(gap, 0.05, 0.2) * (0.8 + 0.2 * rising)
    fix = ("add weight_decay=1e-4 (torch.optim.AdamW) or nn.Dropout(0.1) before the bottleneck, "
           "train on more data, or stop at the best validation step")
    return Evidence(strength, since, facts, fix)


CAUSE = Cause(
    id="under_regularized",
    needs=(fmt.VAL_RELATIVE_ERROR,),
    fix="add weight decay or dropout, more data, or early stopping",
    score=_score,
    consequence_of=("constant_input", "latent_too_large", "lr_too_high"),
)
