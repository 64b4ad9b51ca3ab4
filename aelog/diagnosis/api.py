"""Offline entry points: diagnose every run under a path, and the JSON contract object."""

from __future__ import annotations

from aelog.diagnosis.engine import diagnose_run
from aelog.diagnosis.types import Diagnosis
from aelog.logfile.runs import load_runs


def diagnose(path: str) -> list[Diagnosis]:
    """One Diagnosis per aelog run under ``path`` (a logdir, a run directory or a file).

    Raises :class:`aelog.logfile.runs.NoRunsError` when there is nothing to read.
    """
    return [diagnose_run(run) for run in load_runs(path)]


def diagnoses_to_json(diagnoses: list[Diagnosis]) -> dict:
    """The ``aelog diagnose --json`` contract: ``{"runs": [...]}``."""
    return {"runs": [d.to_json() for d in diagnoses]}
