"""Compare two runs: what differs in their configuration, and where their signals part.

Used by ``aelog compare`` and by the TensorBoard plugin's diff view. Numpy only: a
collapsed run and a healthy one are compared from their logged series, no torch needed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from aelog.logfile import format as fmt
from aelog.logfile.run_data import RunData, Series


@dataclass(frozen=True)
class Tolerance:
    """Two values differ when ``|a - b| > max(absolute, relative * max(|a|, |b|))``."""

    absolute: float
    relative: float = 0.25


HEADLINE_TOLERANCES: dict[str, Tolerance] = {
    fmt.RELATIVE_ERROR: Tolerance(0.1),
    fmt.OUTPUT_VARIANCE_RATIO: Tolerance(0.1),
    fmt.CODE_EFFECTIVE_RANK: Tolerance(1.0),
    fmt.CODE_DEAD_FRACTION: Tolerance(0.1),
    fmt.CODE_UNIT_SIMILARITY: Tolerance(0.1),
    fmt.ACTIVE_UNITS_FRACTION: Tolerance(0.1),
    fmt.KL_PER_DIM: Tolerance(0.05),
    fmt.VAL_RELATIVE_ERROR: Tolerance(0.1),
}
"""The signals whose parting we report, with how far apart counts as "different".
Absolute floors sit well above batch-to-batch noise of a healthy run."""

PERSISTENCE = 2
"""A difference counts only when it holds on this many consecutive compared steps
(or to the last one), so a single noisy batch does not mark the parting point."""


def config_differences(a: RunData, b: RunData) -> list[dict]:
    """``[{key, a, b}]`` for config keys (as named) and tags (``tags.<name>``) that differ.

    A key present in only one run shows ``None`` on the other side.
    """
    differences = []
    for prefix, left, right in (
        ("", _as_dict(a.metadata.get("config")), _as_dict(b.metadata.get("config"))),
        ("tags.", a.tags, b.tags),
    ):
        for key in sorted(set(left) | set(right), key=str):
            va, vb = left.get(key), right.get(key)
            if not _same_value(va, vb):
                differences.append({"key": f"{prefix}{key}", "a": va, "b": vb})
    return differences


def first_parting_step(a: Series, b: Series, tolerance: Tolerance) -> dict | None:
    """The first compared step where ``a`` and ``b`` differ beyond ``tolerance`` and keep
    differing for :data:`PERSISTENCE` steps: ``{step, a, b}``, or None.

    Compared steps are those both runs logged. When the runs logged on different
    schedules (an adaptive cadence) and share fewer than half of their steps, the sparser
    run's steps inside the common range are used, the other run linearly interpolated.
    """
    steps, va, vb = _aligned(a, b)
    if steps.size == 0:
        return None
    differs = _differs(va, vb, tolerance)
    for i in np.flatnonzero(differs):
        window = differs[i : i + PERSISTENCE]
        if window.all():
            return {"step": int(steps[i]), "a": _number(va[i]), "b": _number(vb[i])}
    return None


def compare_runs(a: RunData, b: RunData) -> dict:
    """Configuration differences and where the headline signals of two runs part.

    Returns ``{runs: [a, b], config_differences: [{key, a, b}], signals_part_at_step:
    int | None, diverging_signals: [{signal, step, a, b}], compared_signals: [str]}``;
    ``diverging_signals`` is sorted by step, and ``signals_part_at_step`` is its first step.
    """
    diverging, compared = [], []
    for signal, tolerance in HEADLINE_TOLERANCES.items():
        sa, sb = a.signal(signal), b.signal(signal)
        if sa is None or sb is None:
            continue
        compared.append(signal)
        parting = first_parting_step(sa, sb, tolerance)
        if parting is not None:
            diverging.append({"signal": signal, **parting})
    diverging.sort(key=lambda d: d["step"])
    return {
        "runs": [a.name, b.name],
        "config_differences": config_differences(a, b),
        "signals_part_at_step": diverging[0]["step"] if diverging else None,
        "diverging_signals": diverging,
        "compared_signals": compared,
    }


def _as_dict(value) -> dict:
    return dict(value) if isinstance(value, dict) else {}


def _same_value(x, y) -> bool:
    if isinstance(x, (int, float)) and isinstance(y, (int, float)):
        if isinstance(x, bool) or isinstance(y, bool):
            return x is y
        return x == y or (math.isnan(x) and math.isnan(y)) or math.isclose(x, y, rel_tol=1e-9)
    return x == y


def _aligned(a: Series, b: Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    common, ia, ib = np.intersect1d(a.steps, b.steps, return_indices=True)
    if common.size and common.size * 2 >= min(len(a), len(b)):
        return common, a.values[ia], b.values[ib]
    start, end = max(a.steps[0], b.steps[0]), min(a.steps[-1], b.steps[-1])
    if start > end:
        return common, a.values[ia], b.values[ib]
    sparse, dense = (a, b) if len(a) <= len(b) else (b, a)
    mask = (sparse.steps >= start) & (sparse.steps <= end)
    steps = sparse.steps[mask]
    on_sparse = sparse.values[mask]
    on_dense = _interpolate(dense, steps)
    return (steps, on_sparse, on_dense) if sparse is a else (steps, on_dense, on_sparse)


def _interpolate(series: Series, steps: np.ndarray) -> np.ndarray:
    """Linear interpolation that keeps non-finite values visible (NaN stays NaN)."""
    values = np.interp(steps, series.steps, np.where(np.isfinite(series.values),
                                                     series.values, 0.0))
    bad = ~np.isfinite(series.values)
    if bad.any():
        nearest = np.clip(np.searchsorted(series.steps, steps), 0, len(series) - 1)
        values = np.where(bad[nearest], np.nan, values)
    return values


def _differs(va: np.ndarray, vb: np.ndarray, tolerance: Tolerance) -> np.ndarray:
    finite_a, finite_b = np.isfinite(va), np.isfinite(vb)
    both = finite_a & finite_b
    with np.errstate(invalid="ignore"):
        gap = np.abs(va - vb)
        allowed = np.maximum(tolerance.absolute,
                             tolerance.relative * np.maximum(np.abs(va), np.abs(vb)))
        numeric = both & (gap > allowed)
    # one side finite and the other NaN/Inf is a difference; both non-finite is not
    return numeric | (finite_a != finite_b)


def _number(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None
