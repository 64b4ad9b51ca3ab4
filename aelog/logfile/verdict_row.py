"""A finished run's row, carried in its stored verdict, and the run read back from it.

A run list of thousands of finished runs needs per run only the verdict and a few
fields of its metadata and closed record. ``close()`` copies those fields into the
verdict (``format.VERDICT_ROW_FIELDS``), so readers fetch the verdict alone: TensorBoard's
data provider one tensor a run instead of three, the CLI a file's last kilobytes.
"""

from __future__ import annotations

from aelog.logfile import format as fmt
from aelog.logfile.run_data import RunData


def row_fields(run: RunData) -> dict:
    """The fields of ``run`` a run list shows, for the stored verdict."""
    config = run.metadata.get("config")
    return {"tags": run.tags, "config": config if isinstance(config, dict) else {},
            "trained": run.trained}


def run_from_verdict(name: str, verdict: dict | None, logged_to: int | None,
                     records: list[dict] | None = None) -> RunData | None:
    """The run as its stored verdict's row describes it (no series: ``logged_to`` is its
    last step), or None when the verdict carries no row (written before rows were)."""
    row = verdict.get("row") if isinstance(verdict, dict) else None
    if not isinstance(row, dict) or not all(key in row for key in fmt.VERDICT_ROW_FIELDS):
        return None
    tags, config, trained = (row[key] for key in fmt.VERDICT_ROW_FIELDS)
    if not isinstance(tags, dict) or not isinstance(config, dict):
        return None
    records = list(records or [])
    if isinstance(trained, dict) and not any(
            record.get("kind") == fmt.CLOSED_RECORD for record in records):
        records.append({"step": logged_to, **trained, "kind": fmt.CLOSED_RECORD})
    return RunData(name, {"tags": tags, "config": config}, records=records,
                   verdict=verdict, logged_to=logged_to)
