"""Replay a finished run as the live warning saw it: the engine on each logged prefix."""

from __future__ import annotations

from collections.abc import Callable

from aelog.diagnosis.types import HEALTHY, Diagnosis
from aelog.logfile.run_data import RunData, Series


def _cut(series: Series, step: int) -> Series:
    keep = series.steps <= step
    return Series(series.steps[keep], series.values[keep])


def prefix(run: RunData, step: int) -> RunData:
    """What had been logged up to and including ``step``."""
    return RunData(
        run.name,
        run.metadata,
        {name: _cut(s, step) for name, s in run.signals.items()},
        {layer: {name: _cut(s, step) for name, s in series.items()}
         for layer, series in run.layers.items()},
        [r for r in run.records if int(r.get("step", 0)) <= step],
        list(run.problems),
    )


def logged_steps(run: RunData) -> list[int]:
    return sorted({int(s) for series in run.signals.values() for s in series.steps})


def first_flagged_step(run: RunData, engine: Callable[[RunData], Diagnosis]) -> int | None:
    """First logged step at which the engine, given only the past, leaves "healthy"."""
    for step in logged_steps(run):
        if engine(prefix(run, step)).status != HEALTHY:
            return step
    return None
