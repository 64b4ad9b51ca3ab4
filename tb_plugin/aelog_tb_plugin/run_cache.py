"""Per-run RunData and diagnosis, recomputed only when a run receives new data.

The run list diagnoses every run; with 100+ runs that is only fast if a run that did not
change since the last request costs nothing. The key is the run's fingerprint from the
data provider's listing (last step, last wall time, number of series), which is cheap.

A finished run carries the verdict ``close()`` wrote (see :mod:`aelog.diagnosis.stored`).
While it holds, the run list reads no series at all: its row comes from the verdict, which
carries it (runs written before verdicts did: from the metadata, records and verdict), and
the series are read when the run is opened or compared.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from tensorboard import errors
from tensorboard.data import provider

from aelog.diagnosis.stored import stored_diagnosis
from aelog.diagnosis.types import Diagnosis
from aelog.logfile.run_data import RunData
from aelog.logfile.verdict_row import run_from_verdict
from aelog_tb_plugin.provider_runs import RunListing, list_aelog_runs, read_runs, read_verdicts

UNKNOWN = "unknown"
"""status shown when the engine could not diagnose a run (the error is in its notes)."""
READ_BATCH = 16
"""runs read per provider call: bounds memory while keeping calls few."""


@dataclass(frozen=True)
class CachedRun:
    fingerprint: tuple
    run: RunData
    diagnosis: Diagnosis
    series_read: bool = True
    """False for a finished run listed from its stored verdict: ``run`` has no series yet."""
    last_step: int | None = None
    """the run's last logged step (known from the listing even when no series is read)."""

    @property
    def last_values(self) -> dict:
        """Each headline signal's last value: from the series, or the stored verdict."""
        if self.series_read:
            return {name: series.last() for name, series in self.run.signals.items()}
        stored = (self.run.verdict or {}).get("last_values")
        return stored if isinstance(stored, dict) else {}


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
        self._listings: dict[tuple[str, str], RunListing] = {}
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
            unexplained = self._from_verdicts(data, ctx, experiment_id, stale)
            for start in range(0, len(unexplained), READ_BATCH):
                self._update(data, ctx, experiment_id, unexplained[start : start + READ_BATCH])
            names = {listing.name for listing in listings}
            for key in [k for k in self._entries if k[0] == experiment_id and k[1] not in names]:
                del self._entries[key]
                self._listings.pop(key, None)
            return {name: self._entries[(experiment_id, name)] for name in sorted(names)}

    def get(self, data: provider.DataProvider, ctx, experiment_id: str, run: str) -> CachedRun:
        """One run, fresh and with its series; ``NotFoundError`` (404) when the experiment
        has no such aelog run."""
        return self.with_series(data, ctx, experiment_id, [run])[run]

    def with_series(self, data: provider.DataProvider, ctx, experiment_id: str,
                    runs: list[str]) -> dict[str, CachedRun]:
        """The named runs, fresh, each with its series read (opened, or compared)."""
        entries = self.refresh(data, ctx, experiment_id)
        unknown = [name for name in runs if name not in entries]
        if unknown:
            raise errors.NotFoundError(f"no aelog run named {unknown[0]!r}")
        with self._lock:
            unread = [name for name in runs if not entries[name].series_read]
            if unread:
                listings = [self._listings[(experiment_id, name)] for name in unread]
                read = read_runs(data, ctx, experiment_id, listings)
                for name in unread:
                    cached = entries[name]
                    entries[name] = CachedRun(cached.fingerprint, read[name], cached.diagnosis,
                                              True, cached.last_step)
                    self._entries[(experiment_id, name)] = entries[name]
        return {name: entries[name] for name in runs}

    def _from_verdicts(self, data, ctx, experiment_id: str,
                       listings: list[RunListing]) -> list[RunListing]:
        """Cache the finished runs whose stored verdict holds, from the verdict alone (one
        tensor a run, in one provider call), or where it carries no row from the metadata,
        records and verdict (a second call, no series: they are small); returns the runs
        that need their series read and diagnosed."""
        for listing in listings:
            self._listings[(experiment_id, listing.name)] = listing
        verdicts = read_verdicts(data, ctx, experiment_id, listings)
        rowless = []
        for listing in listings:
            run = run_from_verdict(listing.name, verdicts.get(listing.name),
                                   listing.last_scalar_step)
            if run is None or not self._cache_stored(experiment_id, listing, run):
                rowless.append(listing)
        light = read_runs(data, ctx, experiment_id, rowless, with_series=False)
        return [listing for listing in rowless
                if not self._cache_stored(experiment_id, listing, light[listing.name])]

    def _cache_stored(self, experiment_id: str, listing: RunListing, run: RunData) -> bool:
        """Cache ``run`` under its stored verdict if that holds; whether it did."""
        stored = stored_diagnosis(run, last_step=listing.last_scalar_step)
        if stored is None:
            return False
        self._entries[(experiment_id, listing.name)] = CachedRun(
            listing.fingerprint, run, stored, False, listing.last_scalar_step)
        return True

    def _update(self, data, ctx, experiment_id: str, listings: list[RunListing]) -> None:
        runs = read_runs(data, ctx, experiment_id, listings)
        for listing in listings:
            run = runs[listing.name]
            self._entries[(experiment_id, listing.name)] = CachedRun(
                listing.fingerprint, run, safe_diagnose(self._diagnose, run), True,
                run.last_step)
