"""Read runs and diagnose them for a command, turning every reading problem into a CliError."""

from __future__ import annotations

import os

from aelog.cli.errors import CliError
from aelog.diagnosis.types import AT_RISK, Diagnosis
from aelog.logfile import storage
from aelog.logfile.event_reader import read_event_file
from aelog.logfile.run_data import RunData
from aelog.logfile.runs import LightWhen, NoRunsError, find_run_dirs, load_runs
from aelog.logfile.storage import StorageError


def load_path(path: str, light_when: LightWhen = None) -> list[RunData]:
    """Every aelog run under ``path`` (logdir, run directory or event file); see
    :data:`~aelog.logfile.runs.LightWhen` for ``light_when``."""
    try:
        runs = load_runs(path, light_when)
    except NoRunsError as error:
        problem = _first_reading_problem(path)
        raise CliError(f"{error} ({problem})" if problem else str(error)) from None
    except StorageError as error:
        raise CliError(str(error)) from None
    except OSError as error:
        raise CliError(f"{path}: cannot read: {error.strerror or error}") from None
    except Exception as error:  # noqa: BLE001 - a store's client error (credentials, network)
        if not storage.is_remote(path):
            raise
        raise CliError(f"{path}: cannot read: {type(error).__name__}: {error}; check the "
                       "store's credentials and endpoint (its standard environment variables "
                       "or config file)") from None
    for run in runs:
        if run.name == ".":  # a run directory given directly: name it as the user sees it
            run.name = _directory_name(path)
    return runs


def _directory_name(path: str) -> str:
    """The last component of the run directory ``path`` names (or holds, for a file)."""
    if storage.is_remote(path):
        parts = [part for part in path.split("://", 1)[1].split("/") if part]
        return parts[-2] if "tfevents" in parts[-1] and len(parts) > 1 else parts[-1]
    path = storage.local_path(path)
    directory = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    return os.path.basename(os.path.normpath(os.path.abspath(directory)))


def load_single_run(path: str) -> RunData:
    """One run: a run directory or one of its event files; a logdir with several runs is
    refused, naming them, so the user can pick."""
    runs = load_path(path)
    if len(runs) > 1:
        names = ", ".join(r.name for r in runs[:5]) + (", ..." if len(runs) > 5 else "")
        raise CliError(f"{path} holds {len(runs)} runs ({names}); give one run directory")
    return runs[0]


def diagnose_runs(runs: list[RunData]) -> list[Diagnosis]:
    """The engine's verdict per run. An engine failure on one run does not hide the others:
    that run is reported at risk, with a note saying the verdict is unknown."""
    from aelog.diagnosis.engine import diagnose_run
    from aelog.diagnosis.stored import stored_diagnosis

    diagnoses = []
    for run in runs:
        try:
            diagnosis = stored_diagnosis(run) or diagnose_run(run)
        except Exception as error:  # noqa: BLE001 - one run's engine bug must not hide the rest
            diagnosis = Diagnosis(
                run=run.name,
                status=AT_RISK,
                notes=[f"verdict unknown: the diagnosis engine failed on this run "
                       f"({type(error).__name__}: {error}); please report it"],
            )
        if not diagnosis.tags:
            diagnosis.tags = run.tags
        diagnoses.append(diagnosis)
    return diagnoses



def _first_reading_problem(path: str) -> str | None:
    """Why the event files under ``path`` gave nothing, e.g. one is unreadable or foreign."""
    if storage.is_remote(path):
        return None
    try:
        directories = find_run_dirs(path)
    except (NoRunsError, OSError):
        return None
    for _, directory in directories:
        for name in sorted(os.listdir(directory)):
            if "tfevents" in name:
                problem = read_event_file(os.path.join(directory, name)).problem
                if problem:
                    return problem if problem.startswith("cannot read") else f"{name}: {problem}"
    return None
