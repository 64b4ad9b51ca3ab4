"""Small numpy helpers the causes share: windows of a series, persistence, layer views.

Every cause reads the run through these, so "the end of the run" and "since when" mean
the same thing in every verdict.
"""

from __future__ import annotations

import math
import re

import numpy as np

from aelog.logfile.run_data import RunData, Series

TAIL_FRACTION = 0.25
"""the end of a run: the last quarter of its logged step range."""
MIN_TAIL_POINTS = 1
"""logging grows sparse late in a run: the last point alone may stand for its end."""
MIN_VERDICT_POINTS = 3
"""points a series needs before its level is judged at all."""


def finite(series: Series) -> Series:
    keep = np.isfinite(series.values)
    return Series(series.steps[keep], series.values[keep])


def tail(series: Series, fraction: float = TAIL_FRACTION) -> Series:
    """Points in the last ``fraction`` of the logged step range (at least MIN_TAIL_POINTS).
    Step-based, not point-based: logging is dense early and sparse late."""
    n = len(series)
    if n <= MIN_TAIL_POINTS:
        return series
    first, last = int(series.steps[0]), int(series.steps[-1])
    start = last - fraction * (last - first)
    count = max(MIN_TAIL_POINTS, int(np.count_nonzero(series.steps >= start)))
    return Series(series.steps[n - count :], series.values[n - count :])


def tail_of_at_least(series: Series, count: int = MIN_VERDICT_POINTS) -> Series:
    """The tail, or the last ``count`` points where a thinned schedule left it fewer: a
    property of the whole run (what the loss compares) can be read from its last points."""
    last = tail(series)
    if len(last) >= count:
        return last
    return Series(series.steps[-count:], series.values[-count:])


def head(series: Series, fraction: float = TAIL_FRACTION) -> Series:
    """Points in the first ``fraction`` of the logged step range (at least MIN_TAIL_POINTS)."""
    n = len(series)
    if n <= MIN_TAIL_POINTS:
        return series
    first, last = int(series.steps[0]), int(series.steps[-1])
    end = first + fraction * (last - first)
    count = max(MIN_TAIL_POINTS, int(np.count_nonzero(series.steps <= end)))
    return Series(series.steps[:count], series.values[:count])


def median(series: Series | None) -> float | None:
    """Median of the finite values, None when there are none."""
    if series is None:
        return None
    values = series.values[np.isfinite(series.values)]
    return middle(values) if values.size else None


def middle(values: np.ndarray) -> float:
    """``np.median`` of a non-empty 1-d array, the same number, in a sort and an index.

    The causes take a few hundred medians of short series per diagnosis, and the live
    diagnosis runs inside training's logging steps: ``np.median``'s general machinery
    (axes, partitioning, a mean of the middle pair) costs ~10 us a call there, this ~1.
    A NaN anywhere gives NaN, as it does there."""
    ordered = np.sort(np.asarray(values, dtype=np.float64).reshape(-1))
    count = ordered.size
    if count == 0:
        raise ValueError("the median of no values is undefined")
    if np.isnan(ordered[-1]):  # NaN sorts last
        return math.nan
    half = count // 2
    if count % 2:
        return float(ordered[half])
    low, high = float(ordered[half - 1]), float(ordered[half])
    if low == -math.inf and high == math.inf:
        return math.nan  # numpy's answer, without its warning
    return (low + high) / 2


def tail_median(run: RunData, signal: str) -> float | None:
    series = run.signal(signal)
    return None if series is None else median(tail(finite(series)))


def head_median(run: RunData, signal: str) -> float | None:
    series = run.signal(signal)
    return None if series is None else median(head(finite(series)))


RECOVERY_POINTS = 3
"""consecutive logged points where a condition no longer holds: the run recovered, and a
later return of the condition is a new episode, dated from its own start."""


def since_step(series: Series, holds: np.ndarray, persist: float = 0.8) -> int | None:
    """First step of the current episode from which ``holds`` is true at that point and at
    >= ``persist`` of the rest.

    Persistence rather than "first time ever" keeps a brief dip at step 0 (every fresh
    network has small outputs) from dating a collapse that only set in later; episodes keep
    a run that recovered and fell again from being dated to its first fall.
    """
    holds = np.asarray(holds, dtype=bool)
    if holds.size == 0:
        return None
    start = episode_start(holds)
    holds = holds[start:]
    # fraction of points from i to the end that hold
    rest = np.cumsum(holds[::-1])[::-1] / np.arange(holds.size, 0, -1)
    ok = holds & (rest >= persist)
    index = np.flatnonzero(ok)
    return int(series.steps[start + index[0]]) if index.size else None


def episode_start(holds: np.ndarray, recovery: int = RECOVERY_POINTS) -> int:
    """Index after the last recovery (``recovery`` or more points in a row where ``holds``
    is false) that comes before the last point where it holds; 0 when there is none."""
    true_at = np.flatnonzero(holds)
    if true_at.size == 0:
        return 0
    last_true = int(true_at[-1])
    run = 0
    for index in range(last_true - 1, -1, -1):
        run = 0 if holds[index] else run + 1
        if run >= recovery:
            return index + run
    return 0


def fraction_true(values: np.ndarray) -> float:
    return float(np.mean(values)) if np.size(values) else 0.0


def ramp(x: float, low: float, high: float) -> float:
    """0 at ``low``, 1 at ``high``, linear between (works for falling ramps, low > high)."""
    if high == low:
        return 1.0 if x >= high else 0.0
    return float(min(1.0, max(0.0, (x - low) / (high - low))))


def log_ramp(x: float, low: float, high: float) -> float:
    """:func:`ramp` on a log scale, for ratios spanning decades; x <= 0 counts as tiny."""
    tiny = 1e-30
    return ramp(math.log10(max(x, tiny)), math.log10(max(low, tiny)), math.log10(max(high, tiny)))


def layer_names(run: RunData) -> list[str]:
    """Per-layer series' names in model order (``encoder.2`` before ``encoder.10``), the
    same whichever loader built the run, so ties and listings never depend on tag order."""
    def key(name: str) -> list:
        return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]

    return sorted(run.layers, key=key)


def layer_tail_medians(run: RunData, signal: str, layers: list[str] | None = None) -> dict:
    """``{layer: tail median}`` of one per-layer signal, in logged (model) order."""
    names = layers if layers is not None else layer_names(run)
    out = {}
    for name in names:
        series = run.layer_signal(name, signal)
        value = None if series is None else median(tail(finite(series)))
        if value is not None:
            out[name] = value
    return out


def layer_head_medians(run: RunData, signal: str, layers: list[str] | None = None) -> dict:
    names = layers if layers is not None else layer_names(run)
    out = {}
    for name in names:
        series = run.layer_signal(name, signal)
        value = None if series is None else median(head(finite(series)))
        if value is not None:
            out[name] = value
    return out


def logged_steps(run: RunData) -> int:
    """How many training steps the logged series span (0 for an empty run)."""
    starts = [int(s.steps[0]) for s in run.signals.values() if len(s)]
    ends = [int(s.steps[-1]) for s in run.signals.values() if len(s)]
    return (max(ends) - min(starts)) if starts else 0


def fmt_num(x: float | None) -> str:
    """Numbers in evidence: 3 significant digits, scientific only when needed."""
    if x is None:
        return "n/a"
    if not math.isfinite(x):
        return str(x)
    if x == 0:
        return "0"
    if abs(x) >= 1e4 or abs(x) < 1e-3:
        return f"{x:.2e}"
    return f"{x:.3g}"
