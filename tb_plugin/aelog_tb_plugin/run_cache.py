"""Per-run RunData and diagnosis, recomputed only when a run receives new data.

The run list diagnoses every run; with 100+ runs that is only fast if a run that did not
change since the last request costs nothing. The key is the run's fingerprint from the
data provider's listing (last step, last wall time, number of series), which is cheap.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from tensorboard import errors
from tensorboard.data import provider

from aelog.diagnosis.types import Diagnosis
from aelog.logfile.run_data import RunData
from aelog_tb_plugin.provider_runs import RunListing, list_aelog_runs, read_runs

UNKNOWN = "unknown"
"""status shown when the engine could not diagnose a run (the error is in its notes)."""
READ_BATCH = 16
"""runs read per provider call: bounds memory while keeping calls few."""


@dataclass(frozen=True)
class CachedRun:
    fingerprint: tuple
    run: RunData
    diagnosis: Diagnosis


def _default_diagnose(run: RunData) -> Diagnosis:
    from aelog.diagnosis.engine import diagnose_run

    return diagnose_run(run)


def safe_diagnose(diagnose: Callable[[RunData], Diagnosis], run: RunData) -> Diagnosis:
    """The engine's verdict, or an ``unknown`` one that says why: never a server error."""
    try:
        return diagnose(run)
    except Exception as error:  # an engine bug on one run must not hide the other runs
        return Diagnosis(
            run=run.name,
            status=UNKNOWN,
            notes=[f"the diagnosis failed on this run: {type(error).__name__}: {error}"],
            tags=run.tags,
        )


class RunCache:
    def __init__(self, diagnose: Callable[[RunData], Diagnosis] = _default_diagnose) -> None:
        self._diagnose = diagnose
        self._entries: dict[tuple[str, str], CachedRun] = {}
        self._lock = threading.Lock()

    def refresh(
        self, data: provider.DataProvider, ctx, experiment_id: str
    ) -> dict[str, CachedRun]:
        """Every aelog run of the experiment, re-read and re-diagnosed where it changed."""
        with self._lock:
            listings = list_aelog_runs(data, ctx, experiment_id)
            stale = [
                listing
                for listing in listings
                if (cached := self._entries.get((experiment_id, listing.name))) is None
                or cached.fingerprint != listing.fingerprint
            ]
            for start in range(0, len(stale), READ_BATCH):
                self._update(data, ctx, experiment_id, stale[start : start + READ_BATCH])
            names = {listing.name for listing in listings}
            for key in [k for k in self._entries if k[0] == experiment_id and k[1] not in names]:
                del self._entries[key]
            return {name: self._entries[(experiment_id, name)] for name in sorted(names)}

    def get(self, data: provider.DataProvider, ctx, experiment_id: str, run: str) -> CachedRun:
        """One run, fresh; ``NotFoundError`` (404) when the experiment has no such aelog run."""
        entries = self.refresh(data, ctx, experiment_id)
        if run not in entries:
            raise errors.NotFoundError(f"no aelog run named {run!r}")
        return entries[run]

    def _update(self, data, ctx, experiment_id: str, listings: list[RunListing]) -> None:
        runs = read_runs(data, ctx, experiment_id, listings)
        for listing in listings:
            run = runs[listing.name]
            self._entries[(experiment_id, listing.name)] = CachedRun(
                listing.fingerprint, run, safe_diagnose(self._diagnose, run)
            )
