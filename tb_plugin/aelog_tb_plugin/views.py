"""The JSON the routes answer, built from cached runs (see http_api.md for each shape).

Numbers leave as plain floats; a non-finite value becomes ``null`` (a gap in a chart) so
the front end never has to parse "NaN" strings.
"""

from __future__ import annotations

import math

import numpy as np

from aelog.diagnosis.compare import compare_runs
from aelog.logfile import format as fmt
from aelog.logfile.run_data import RunData, Series
from aelog_tb_plugin.bands import healthy_bands
from aelog_tb_plugin.run_cache import CachedRun

KEY_SIGNALS = (
    fmt.OUTPUT_VARIANCE_RATIO,
    fmt.RELATIVE_ERROR,
    fmt.RANK_K_ERROR,
    fmt.CODE_EFFECTIVE_RANK,
)
"""the last values shown in the comparison table."""
CONFIG_KEYS = ("optimizer", "lr", "weight_decay", "latent_size", "init")
"""configuration shown in the comparison table (the diff shows every key that differs)."""
GROUP_TAG = "team"
"""runs are grouped by this tag, or by the logdir's first path level."""


def run_row(cached: CachedRun) -> dict:
    """One run in the run list: its diagnosis, tags, grouping and key numbers."""
    run, diagnosis, last_values = cached.run, cached.diagnosis, cached.last_values
    config = run.metadata.get("config")
    config = config if isinstance(config, dict) else {}
    return {
        **diagnosis.to_json(),
        "tags": run.tags,
        "team": run.tags.get(GROUP_TAG),
        "path_group": run.name.split("/", 1)[0] if "/" in run.name else ".",
        "last_step": cached.last_step,
        "trained": run.trained,
        "key_signals": {name: _plain(last_values.get(name)) for name in KEY_SIGNALS},
        "config": {key: _plain(config.get(key)) for key in CONFIG_KEYS},
        "problems": list(run.problems),
    }


def run_detail(cached: CachedRun) -> dict:
    """One run's signal series, per-layer series and healthy bands, plus its row."""
    run = cached.run
    return {
        "run": run_row(cached),
        "signals": {name: _series(series) for name, series in sorted(run.signals.items())},
        "layers": [
            {"name": layer, "signals": {n: _series(s) for n, s in sorted(signals.items())}}
            for layer, signals in _ordered_layers(run)
        ],
        "bands": healthy_bands(run),
        "records": run.records,
        "metadata": {
            key: run.metadata.get(key) for key in ("config", "optimizer", "tags", "start_time")
        },
    }


def comparison(runs: list[RunData]) -> dict:
    """The first run against each other one: configuration differences, where signals part."""
    base, others = runs[0], runs[1:]
    return {
        "runs": [run.name for run in runs],
        "pairs": [_plain_tree(compare_runs(base, other)) for other in others],
    }


def _ordered_layers(run: RunData) -> list[tuple[str, dict[str, Series]]]:
    """Layers in model order: top-level modules as the metadata first lists them, then
    module paths in natural order (``encoder.2`` before ``encoder.10``)."""
    model = run.metadata.get("model")
    model = model if isinstance(model, dict) else {}
    tops: dict[str, int] = {}
    for key in ("layers", "activations"):
        listed = model.get(key)
        for entry in listed if isinstance(listed, list) else []:
            name = entry.get("name") if isinstance(entry, dict) else None
            if isinstance(name, str):
                tops.setdefault(name.split(".", 1)[0], len(tops))

    def key(item: tuple[str, dict]) -> tuple:
        name = item[0]
        parts = [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in name.split(".")]
        return (tops.get(name.split(".", 1)[0], len(tops)), parts)

    return sorted(run.layers.items(), key=key)


def _series(series: Series) -> dict:
    values = series.values
    finite = np.isfinite(values)
    listed = values.tolist()
    if not finite.all():
        listed = [v if ok else None for v, ok in zip(listed, finite.tolist(), strict=True)]
    return {"steps": series.steps.tolist(), "values": listed}


def _plain(value):
    """JSON-safe scalar: numpy scalars to Python, non-finite floats to None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _plain_tree(value):
    if isinstance(value, dict):
        return {str(k): _plain_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_tree(v) for v in value]
    return _plain(value)
