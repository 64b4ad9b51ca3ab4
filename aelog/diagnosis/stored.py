"""The verdict ``close()`` wrote into the run, taken instead of running the engine again.

A team's logdir holds thousands of finished runs; the CLI and the tab would otherwise
re-diagnose each one on every read. The stored verdict holds while it describes the run
as read: made by this engine (:func:`~aelog.diagnosis.version.engine_version`), at the
run's last step, from a run read without problems. Otherwise the engine runs, so an
improved engine still re-diagnoses old runs.
"""

from __future__ import annotations

import math

from aelog.diagnosis.types import CAUSE_IDS, STATUSES, CauseFinding, Diagnosis
from aelog.diagnosis.version import engine_version
from aelog.logfile.run_data import RunData
from aelog.logfile.verdict_row import row_fields


def verdict_payload(diagnosis: Diagnosis, run: RunData) -> dict:
    """What ``close()`` writes at ``format.VERDICT_TAG``: the verdict, each headline
    signal's last value and the run's row (tags, configuration, what was trained), so a
    run list can show a finished run from this alone."""
    last_values = {}
    for name, series in sorted(run.signals.items()):
        value = series.last()
        last_values[name] = value if value is not None and math.isfinite(value) else None
    return {"engine": engine_version(), "step": run.last_step,
            "diagnosis": diagnosis.to_json(), "last_values": last_values,
            "row": row_fields(run)}


def stored_diagnosis(run: RunData, last_step: int | None = None) -> Diagnosis | None:
    """The run's stored verdict when it still holds, named and tagged as the reader sees
    the run; None when the engine must run. ``last_step``: the run's last step, where the
    reader knows it without the series (TensorBoard's listing)."""
    verdict = run.verdict
    if not isinstance(verdict, dict) or run.problems:
        return None
    step = run.last_step if last_step is None else last_step
    if verdict.get("engine") != engine_version() or verdict.get("step") != step:
        return None
    try:
        diagnosis = _from_json(verdict["diagnosis"])
    except (KeyError, TypeError, ValueError):
        return None
    diagnosis.run = run.name
    diagnosis.tags = run.tags
    return diagnosis


def verdict_holds(run: RunData) -> bool:
    """For readers that need only the verdict: the run's series need not be built."""
    return stored_diagnosis(run) is not None


def _from_json(data: dict) -> Diagnosis:
    """``Diagnosis.to_json()`` read back, refusing anything the engine could not have said."""
    status = data["status"]
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    causes = []
    for cause in data["causes"]:
        if cause["id"] not in CAUSE_IDS:
            raise ValueError(f"unknown cause {cause['id']!r}")
        causes.append(CauseFinding(
            id=cause["id"], confidence=float(cause["confidence"]),
            since_step=_optional_int(cause["since_step"]),
            evidence=[str(e) for e in cause["evidence"]], fix=str(cause["fix"])))
    return Diagnosis(
        run=str(data["run"]), status=status, since_step=_optional_int(data["since_step"]),
        causes=causes, symptom=[str(s) for s in data["symptom"]],
        notes=[str(n) for n in data["notes"]])


def _optional_int(value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"not a step: {value!r}")
    return value
