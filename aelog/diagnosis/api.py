"""Offline entry points: diagnose every run under a path, and the JSON contract object."""

from __future__ import annotations

from aelog.diagnosis.engine import diagnose_run
from aelog.diagnosis.stored import stored_diagnosis, verdict_holds
from aelog.diagnosis.types import Diagnosis
from aelog.logfile.runs import load_runs


def diagnose(path: str) -> list[Diagnosis]:
    """One Diagnosis per aelog run under ``path`` (a logdir, a run directory or a file).

    A finished run's stored verdict is taken while it holds (see
    :mod:`aelog.diagnosis.stored`). Raises :class:`aelog.logfile.runs.NoRunsError` when
    there is nothing to read.
    """
    return [stored_diagnosis(run) or diagnose_run(run)
            for run in load_runs(path, light_when=verdict_holds)]


def diagnoses_to_json(diagnoses: list[Diagnosis]) -> dict:
    """The ``aelog diagnose --json`` contract: ``{"runs": [...]}``."""
    return {"runs": [d.to_json() for d in diagnoses]}
