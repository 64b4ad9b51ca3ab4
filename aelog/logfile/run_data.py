"""RunData: one run's series and metadata as numpy arrays, the diagnosis engine's only input.

Two adapters build it (event files in :mod:`aelog.logfile.runs`, TensorBoard's data provider in
the plugin) and one engine reads it. Imports numpy only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from aelog.logfile import format as fmt


@dataclass(frozen=True)
class Series:
    """One signal over training steps, sorted by step, one value per step."""

    steps: np.ndarray
    values: np.ndarray

    @staticmethod
    def from_points(steps: Iterable[int], values: Iterable[float]) -> Series:
        s = np.asarray(steps if isinstance(steps, np.ndarray) else list(steps), dtype=np.int64)
        v = np.asarray(values if isinstance(values, np.ndarray) else list(values),
                       dtype=np.float64)
        if s.size == 0:
            return Series(s, v)
        if s.size > 1 and not bool(np.all(s[1:] > s[:-1])):  # as written, steps only rise
            order = np.argsort(s, kind="stable")
            s, v = s[order], v[order]
            # A step written twice (a resumed run) keeps its last value.
            keep = np.append(s[1:] != s[:-1], True)
            s, v = s[keep], v[keep]
        return Series(s, v)

    def __len__(self) -> int:
        return int(self.steps.size)

    def last(self) -> float | None:
        return float(self.values[-1]) if self.values.size else None

    def since(self, step: int) -> Series:
        mask = self.steps >= step
        return Series(self.steps[mask], self.values[mask])


@dataclass
class RunData:
    name: str
    metadata: dict = field(default_factory=dict)
    signals: dict[str, Series] = field(default_factory=dict)
    """headline series by signal name (``format.RELATIVE_ERROR``, ...)."""
    layers: dict[str, dict[str, Series]] = field(default_factory=dict)
    """per-layer series: ``layers[module_name][format.LAYER_DEAD_FRACTION]``."""
    records: list[dict] = field(default_factory=list)
    """small JSON records the SDK wrote (probe failures, warnings), oldest first."""
    problems: list[str] = field(default_factory=list)
    """what could not be read (truncated file, ...), in plain words."""
    verdict: dict | None = None
    """the verdict ``close()`` wrote (``format.VERDICT_FIELDS``), if any: see
    :func:`aelog.diagnosis.stored.stored_diagnosis` for when it still holds."""
    logged_to: int | None = None
    """the last step logged, for a run read without its series (see
    ``aelog.logfile.runs.LightWhen``); with series, ``last_step`` reads them."""

    def signal(self, name: str) -> Series | None:
        series = self.signals.get(name)
        return series if series is not None and len(series) else None

    def layer_signal(self, layer: str, name: str) -> Series | None:
        series = self.layers.get(layer, {}).get(name)
        return series if series is not None and len(series) else None

    @property
    def tags(self) -> dict[str, str]:
        tags = self.metadata.get("tags") or {}
        return {str(k): str(v) for k, v in tags.items()} if isinstance(tags, dict) else {}

    @property
    def last_step(self) -> int | None:
        ends = [int(s.steps[-1]) for s in self.signals.values() if len(s)]
        return max(ends) if ends else self.logged_to

    @property
    def trained(self) -> dict[str, float] | None:
        """What ``close()`` recorded (steps trained, logging steps, logging's share of the
        run's time); None for a run still training, killed, or written before it existed."""
        for record in reversed(self.records):
            if record.get("kind") != fmt.CLOSED_RECORD:
                continue
            values = {key: record.get(key) for key in fmt.CLOSED_FIELDS}
            if all(_is_number(v) for v in values.values()):
                values.update({key: record[key] for key in fmt.CLOSED_OPTIONAL_FIELDS
                               if _is_number(record.get(key))})
                return values
        return None

    @staticmethod
    def from_tagged_points(
        name: str,
        points: Mapping[str, tuple[Iterable[int], Iterable[float]] | Series],
        metadata: dict | None = None,
        records: list[dict] | None = None,
        problems: list[str] | None = None,
    ) -> RunData:
        """Build from ``{tag: (steps, values)}`` as found on disk; foreign tags are ignored.
        A tag may bring its Series already built (sorted, one value per step), taken as is."""
        run = RunData(name, dict(metadata or {}), records=list(records or []),
                      problems=list(problems or []))
        for tag, given in points.items():
            parsed = fmt.parse_scalar_tag(tag)
            if parsed is None:
                continue
            layer, signal = parsed
            series = given if isinstance(given, Series) else Series.from_points(*given)
            if layer is None:
                run.signals[signal] = series
            else:
                run.layers.setdefault(layer, {})[signal] = series
        return run


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
