"""One run's log: every value goes to the event file and to an in-memory copy.

The in-memory copy is what ``Monitor.run_data()`` returns (the live diagnosis reads it),
so a full disk stops the file, never the run: one warning, and logging carries on in
memory.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterator

import numpy as np

from aelog.logfile.event_writer import EventWriter
from aelog.logfile.run_data import RunData, Series
from aelog.logfile.run_dir import claim_run_dir
from aelog.sdk.probe_guard import AelogWarning, user_stacklevel

MEMORY_POINTS = 2000
"""points per series the in-memory copy keeps at least; at twice this, every other point
goes (the event file keeps them all). Bounds the memory of a run logged at every step and
the time of the live diagnosis, which reads the in-memory copy every few logging steps."""


class RunLog:
    def __init__(self, run_dir: str, run_name: str, writer: EventWriter | None = None,
                 on_write: Callable[[], None] | None = None) -> None:
        self.run_dir = run_dir
        self.run_name = run_name
        self._on_write = on_write
        """told after each write (a run staged for a store: upload soon)."""
        # ranks other than 0 of a distributed run pass an always-closed writer
        self._writer = writer if writer is not None else open_writer(run_dir)
        self._writer_failed = False
        self._series: dict[str, _Points] = defaultdict(_Points)
        self.records: list[dict] = []
        self.metadata: dict | None = None

    @property
    def path(self) -> str:
        return self._writer.path

    def scalars(self, step: int, values: dict[str, float]) -> None:
        if not values:
            return
        for tag, value in values.items():
            self._series[tag].append(step, value)
        self._write(lambda: self._writer.write_scalars(step, values))

    def run_metadata(self, step: int, metadata: dict) -> None:
        self.metadata = metadata
        self._write(lambda: self._writer.write_metadata(metadata, step=step))

    def record(self, step: int, record: dict) -> None:
        self.records.append({"step": step, **record})
        self._write(lambda: self._writer.write_record(step, record))

    def verdict(self, step: int, verdict: dict) -> None:
        """The engine's verdict on the whole run (file only: the live copy has its own)."""
        self._write(lambda: self._writer.write_verdict(step, verdict))

    @property
    def thinned(self) -> bool:
        """Some series in memory lost points the file keeps (see MEMORY_POINTS)."""
        return any(points.thinned for points in self._series.values())

    def run_data(self, as_written: bool = False) -> RunData:
        """A copy of the series, as the engine reads them. Series whose steps only rose
        (every one, unless a step was logged twice) go as they are: the live diagnosis reads
        this every few logging steps, and sorting ~70 series that are sorted already was a
        third of its cost. ``as_written``: values rounded to float32 as the event file
        stores them, so the engine sees exactly what a reader of the file will."""
        points = {tag: Series(*p.arrays()) if p.rising else p.arrays()
                  for tag, p in self._series.items()}
        metadata, records = dict(self.metadata or {}), [dict(r) for r in self.records]
        if as_written:  # numbers as float32, metadata and records through JSON
            points = {tag: _float32(given) for tag, given in points.items()}
            metadata, records = json.loads(json.dumps([metadata, records], default=str))
        return RunData.from_tagged_points(self.run_name, points, metadata, records)

    def close(self) -> None:
        try:
            self._writer.close()
        except OSError:
            pass

    def _write(self, write: Callable[[], None]) -> None:
        if self._writer_failed or self._writer.closed:
            return
        try:
            if not os.path.exists(self._writer.path):  # writes would vanish without an error
                raise FileNotFoundError(errno.ENOENT, "the event file was deleted")
            write()
            if self._on_write is not None:
                self._on_write()
        except OSError as error:
            self._writer_failed = True
            warnings.warn(
                f"aelog: cannot write to {self.run_dir} ({error}); logging to disk stops, "
                "training goes on.",
                AelogWarning,
                stacklevel=user_stacklevel(),
            )


def _float32(points: Series | tuple[np.ndarray, np.ndarray]) -> Series | tuple:
    steps, values = (points.steps, points.values) if isinstance(points, Series) else points
    rounded = values.astype(np.float32).astype(np.float64)
    return Series(steps, rounded) if isinstance(points, Series) else (steps, rounded)


class _Points:
    """One series in memory: numpy arrays that grow by doubling, so that handing the
    live diagnosis a copy costs two array copies rather than two Python lists converted.
    New points wait in two short lists until the next copy (or thinning): a logging step
    appends 60-100 values, and a Python list append costs a tenth of writing one element
    into a numpy array."""

    __slots__ = ("steps", "values", "size", "rising", "thinned", "_new_steps", "_new_values",
                 "_last")

    def __init__(self) -> None:
        self.steps = np.empty(64, dtype=np.int64)
        self.values = np.empty(64, dtype=np.float64)
        self.size = 0
        """points in the arrays (the waiting ones not counted)."""
        self.rising = True
        """every step so far greater than the one before (as the monitor writes them)."""
        self.thinned = False
        self._new_steps: list[int] = []
        self._new_values: list[float] = []
        self._last: int | None = None

    def append(self, step: int, value: float) -> None:
        if self._last is not None and step <= self._last:
            self.rising = False
        self._last = step
        self._new_steps.append(step)
        self._new_values.append(value)
        if self.size + len(self._new_steps) >= 2 * MEMORY_POINTS:
            self._flush()
            self._thin()

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        self._flush()
        return self.steps[: self.size].copy(), self.values[: self.size].copy()

    def _flush(self) -> None:
        """The waiting points into the arrays."""
        count = len(self._new_steps)
        if not count:
            return
        end = self.size + count
        if end > self.steps.size:
            capacity = max(2 * self.steps.size, end)
            self.steps = np.resize(self.steps, capacity)
            self.values = np.resize(self.values, capacity)
        self.steps[self.size : end] = self._new_steps
        self.values[self.size : end] = self._new_values
        self.size = end
        self._new_steps, self._new_values = [], []

    def _thin(self) -> None:
        """Every other point, the newest always kept: half the points over the same span."""
        kept = np.append(np.arange(0, self.size - 1, 2), self.size - 1)
        self.thinned = True
        self.size = kept.size
        self.steps[: self.size] = self.steps[kept]
        self.values[: self.size] = self.values[kept]


def open_writer(run_dir: str) -> EventWriter:
    """The run's event file, or a clear error naming the directory and what to do."""
    with _clear_errors(run_dir):
        return EventWriter(run_dir)


def open_run(logdir: str, run_name: str) -> tuple[str, str]:
    """``(run_name, run_dir)`` claimed for this process under ``logdir`` (see
    :mod:`aelog.logfile.run_dir`), with the same clear errors as :func:`open_writer`."""
    with _clear_errors(os.path.join(logdir, run_name)):
        return claim_run_dir(logdir, run_name)


@contextlib.contextmanager
def _clear_errors(run_dir: str) -> Iterator[None]:
    try:
        yield
    except PermissionError as error:
        raise PermissionError(
            f"aelog.watch cannot write to {run_dir} ({error.strerror or error}); "
            "pass logdir= a directory you can write to."
        ) from error
    except OSError as error:
        raise ValueError(
            f"aelog.watch cannot create the run directory {run_dir} "
            f"({error.strerror or error}); pass logdir= a directory you can write to."
        ) from error
