"""Build :class:`aelog.logfile.run_data.RunData` from TensorBoard's data provider.

The plugin's only way to the data: it never walks event files itself, so it works with
TensorBoard's Rust data server (the default) and with ``--load_fast=false`` alike. Time
series are ordinary scalars under ``format.SCALAR_PREFIX``; run metadata and records are
JSON string tensors under our plugin name (see :mod:`aelog.logfile.format`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from tensorboard.data import provider

from aelog.logfile import format as fmt
from aelog.logfile.run_data import RunData

SCALARS_PLUGIN = "scalars"
SCALAR_POINTS = 1000
"""points kept per series: what both loaders keep for scalars, and what the charts draw."""
TENSOR_POINTS = 100
"""records kept per run: the Rust loader keeps 100 tensors per series, the Python one 10."""


LISTED_SIGNALS = (fmt.RELATIVE_ERROR, fmt.OUTPUT_VARIANCE_RATIO, fmt.GRAD_NORM,
                  fmt.CODE_EFFECTIVE_RANK)
"""the series the run list asks the provider about: written at every logging step, so
their last step and wall time change whenever a run logs. Listing all ~75 series of each
run made the listing, not the reading, the run list's cost on a logdir of finished runs
(the Python loader scans every point of each series it lists)."""


@dataclass(frozen=True)
class RunListing:
    """What the provider says about one aelog run without reading its values."""

    name: str
    has_scalars: bool
    has_tensors: bool
    fingerprint: tuple
    """changes whenever new data arrives for the run: (last step, last wall time, #series)."""
    last_scalar_step: int | None = None
    """the last step of its series: where a stored verdict must have been made to hold."""


def list_aelog_runs(data: provider.DataProvider, ctx, experiment_id: str) -> list[RunListing]:
    """Every run holding aelog scalars or metadata, sorted by name."""
    listed = provider.RunTagFilter(tags=[fmt.scalar_tag(name) for name in LISTED_SIGNALS])
    scalars = data.list_scalars(ctx, experiment_id=experiment_id, plugin_name=SCALARS_PLUGIN,
                                run_tag_filter=listed)
    tensors = data.list_tensors(ctx, experiment_id=experiment_id, plugin_name=fmt.PLUGIN_NAME)
    known = {run for run, series in scalars.items() if series} | set(tensors)
    others = [run.run_name for run in data.list_runs(ctx, experiment_id=experiment_id)
              if run.run_name not in known]
    if others:  # no headline series and no record: per-layer series only, or not ours
        every = data.list_scalars(ctx, experiment_id=experiment_id, plugin_name=SCALARS_PLUGIN,
                                  run_tag_filter=provider.RunTagFilter(runs=others))
        for run, series in every.items():
            scalars[run] = {tag: s for tag, s in series.items()
                            if fmt.parse_scalar_tag(tag) is not None}
    listings = []
    for run in sorted(set(scalars) | set(tensors)):
        ours = scalars.get(run) or {}
        own_tensors = tensors.get(run) or {}
        if not ours and not own_tensors:
            continue
        every = list(ours.values()) + list(own_tensors.values())
        fingerprint = (
            max(s.max_step for s in every),
            max(s.max_wall_time for s in every),
            len(every),
        )
        last_scalar_step = max((s.max_step for s in ours.values()), default=None)
        listings.append(RunListing(run, bool(ours), bool(own_tensors), fingerprint,
                                   last_scalar_step))
    return listings


def read_runs(
    data: provider.DataProvider, ctx, experiment_id: str, listings: Iterable[RunListing],
    with_series: bool = True,
) -> dict[str, RunData]:
    """Read the series, metadata and records of the given runs in two provider calls;
    ``with_series=False``: metadata, records and stored verdict only, in one call (a
    finished run's row needs no more)."""
    listings = list(listings)
    if not listings:
        return {}
    names = [listing.name for listing in listings]
    with_scalars = [listing.name for listing in listings if listing.has_scalars]
    scalars = (
        data.read_scalars(  # every scalar of these runs: foreign tags are dropped below
            ctx,
            experiment_id=experiment_id,
            plugin_name=SCALARS_PLUGIN,
            downsample=SCALAR_POINTS,
            run_tag_filter=provider.RunTagFilter(runs=with_scalars),
        )
        if with_series and with_scalars
        else {}
    )
    with_tensors = [listing.name for listing in listings if listing.has_tensors]
    tensors = (
        data.read_tensors(
            ctx,
            experiment_id=experiment_id,
            plugin_name=fmt.PLUGIN_NAME,
            downsample=TENSOR_POINTS,
            run_tag_filter=provider.RunTagFilter(
                runs=with_tensors, tags=[fmt.METADATA_TAG, fmt.RECORD_TAG, fmt.VERDICT_TAG]
            ),
        )
        if with_tensors
        else {}
    )
    return {name: _run_data(name, scalars.get(name) or {}, tensors.get(name) or {})
            for name in names}


def read_verdicts(data: provider.DataProvider, ctx, experiment_id: str,
                  listings: Iterable[RunListing]) -> dict[str, dict | None]:
    """Each run's stored verdict (the newest), in one provider call for the verdict tag
    alone: a finished run's verdict carries its row (see :mod:`aelog.logfile.verdict_row`)."""
    names = [listing.name for listing in listings if listing.has_tensors]
    if not names:
        return {}
    tensors = data.read_tensors(
        ctx, experiment_id=experiment_id, plugin_name=fmt.PLUGIN_NAME, downsample=1,
        run_tag_filter=provider.RunTagFilter(runs=names, tags=[fmt.VERDICT_TAG]))
    verdicts = {}
    for name in names:
        kept = (tensors.get(name) or {}).get(fmt.VERDICT_TAG) or []
        verdicts[name] = _json_payload(kept[-1].numpy) if kept else None
    return verdicts


def _run_data(name: str, scalars: dict, tensors: dict) -> RunData:
    points = {
        tag: ([d.step for d in data], [d.value for d in data]) for tag, data in scalars.items()
    }
    problems: list[str] = []
    metadata: dict = {}
    for datum in tensors.get(fmt.METADATA_TAG) or []:
        payload = _json_payload(datum.numpy)
        if payload is not None:
            metadata = payload
            break
    else:
        if fmt.METADATA_TAG in tensors:
            problems.append("the run metadata could not be decoded")
    records = []
    for datum in tensors.get(fmt.RECORD_TAG) or []:
        payload = _json_payload(datum.numpy)
        if payload is not None:
            records.append({"step": int(datum.step), **payload})
    run = RunData.from_tagged_points(name, points, metadata, records, problems)
    verdicts = tensors.get(fmt.VERDICT_TAG) or []
    run.verdict = _json_payload(verdicts[-1].numpy) if verdicts else None
    return run


def _json_payload(array) -> dict | None:
    """The JSON object in a string tensor, or None when it is not one."""
    try:
        raw = np.asarray(array, dtype=object).ravel()[0]
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        payload = json.loads(text)
    except (IndexError, UnicodeDecodeError, ValueError, TypeError, RecursionError):
        return None
    return payload if isinstance(payload, dict) else None
