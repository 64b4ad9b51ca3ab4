"""How badly a run is doing, 0 (fine) to 1 (no better than the mean), for causes whose
mechanism can be harmless: a frozen pretrained encoder or strong weight decay only matter
when the reconstruction suffers.
"""

from __future__ import annotations

import math

from aelog.diagnosis import measures as m
from aelog.diagnosis.context import error_still_falling, outputs_look_like_logits
from aelog.logfile import format as fmt
from aelog.logfile.run_data import RunData, Series

UNKNOWN = 0.5
"""shortfall assumed when neither output spread nor error was logged."""


def shortfall(run: RunData) -> float:
    """Worst of: little output spread left, error far above what the bottleneck allows."""
    parts = []
    if outputs_look_like_logits(run):
        spread = m.tail_median(run, fmt.OUTPUT_VARIANCE_RATIO)
        return UNKNOWN if spread is None else m.log_ramp(spread, 0.3, 0.05)
    error_series = run.signal(fmt.RELATIVE_ERROR)
    if error_series is not None and len(error_series):
        last = float(error_series.values[-1])
        if not math.isfinite(last):
            return 1.0
    # while the error is still falling the tail median lags (a plateau that just broke):
    # where the run stands now is its latest points
    falling, _, latest_error = error_still_falling(run)
    spread = m.tail_median(run, fmt.OUTPUT_VARIANCE_RATIO)
    if spread is not None:
        if falling:
            spread = max(spread, _latest(run.signal(fmt.OUTPUT_VARIANCE_RATIO)))
        parts.append(m.log_ramp(spread, 0.3, 0.05))
    error = m.tail_median(run, fmt.RELATIVE_ERROR)
    if error is not None:
        if falling and latest_error is not None:
            error = min(error, latest_error)
        best = m.tail_median(run, fmt.RANK_K_ERROR) or 0.0
        parts.append(m.ramp(error - best, 0.1, 0.4))
    return max(parts) if parts else UNKNOWN


def _latest(series: Series) -> float:
    """Median of the last two finite points (one noisy batch does not decide)."""
    values = m.finite(series).values[-2:]
    return m.middle(values) if values.size else 0.0
