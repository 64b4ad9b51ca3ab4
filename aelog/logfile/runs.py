"""Find aelog runs under a path and read them from event files into :class:`RunData`."""

from __future__ import annotations

import json
import os
from collections import defaultdict

from aelog.logfile import format as fmt
from aelog.logfile.event_reader import read_event_file
from aelog.logfile.run_data import RunData


class NoRunsError(ValueError):
    """The path exists but holds no aelog data, or does not exist at all."""


def _is_event_file(name: str) -> bool:
    return "tfevents" in name


def find_run_dirs(path: str) -> list[tuple[str, str]]:
    """``[(run_name, directory)]`` for every directory under ``path`` holding event files.

    Run names follow TensorBoard: the path relative to the logdir, ``.`` for the logdir.
    """
    if not os.path.exists(path):
        raise NoRunsError(f"{path}: no such file or directory")
    if os.path.isfile(path):
        directory = os.path.dirname(os.path.abspath(path))
        return [(os.path.basename(directory) or ".", directory)]
    found = []
    for directory, subdirs, files in os.walk(path):
        subdirs.sort()
        if any(_is_event_file(f) for f in files):
            rel = os.path.relpath(directory, path)
            found.append((rel.replace(os.sep, "/"), directory))
    return found


def _decode_json_tensor(value) -> dict | None:
    try:
        raw = value.tensor.string_val[0]
        payload = json.loads(raw.decode())
    except (IndexError, UnicodeDecodeError, ValueError, RecursionError):  # hostile nesting
        return None
    return payload if isinstance(payload, dict) else None


def load_run(directory: str, name: str | None = None) -> RunData:
    """Read every event file of one run directory (oldest first) into RunData."""
    points: dict[str, tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
    metadata: dict = {}
    records: list[dict] = []
    problems: list[str] = []
    try:
        files = sorted(f for f in os.listdir(directory) if _is_event_file(f))
    except OSError as error:  # deleted or made unreadable since it was found
        files = []
        problems.append(f"cannot list {directory}: {error.strerror or error}")
    for filename in files:
        result = read_event_file(os.path.join(directory, filename))
        if result.problem:
            problems.append(f"{filename}: {result.problem}")
        for event in result.events:
            if not event.HasField("summary"):
                continue
            for value in event.summary.value:
                if value.tag.startswith(fmt.SCALAR_PREFIX):
                    kind = value.WhichOneof("value")
                    if kind == "simple_value":
                        number = value.simple_value
                    elif kind == "tensor" and value.tensor.float_val:
                        number = value.tensor.float_val[0]
                    elif kind == "tensor" and value.tensor.double_val:
                        number = value.tensor.double_val[0]
                    else:
                        continue
                    steps, values = points[value.tag]
                    steps.append(event.step)
                    values.append(number)
                elif value.tag == fmt.METADATA_TAG:
                    payload = _decode_json_tensor(value)
                    if payload is not None and not metadata:
                        metadata = payload
                elif value.tag == fmt.RECORD_TAG:
                    payload = _decode_json_tensor(value)
                    if payload is not None:
                        records.append({"step": int(event.step), **payload})
    run_name = name if name is not None else os.path.basename(os.path.normpath(directory))
    return RunData.from_tagged_points(run_name, points, metadata, records, problems)


def is_aelog_run(run: RunData) -> bool:
    return bool(run.metadata) or bool(run.signals) or bool(run.layers)


def load_runs(path: str) -> list[RunData]:
    """Every aelog run under ``path`` (a logdir, a run directory, or one event file).

    Raises :class:`NoRunsError` with a plain message when there is nothing to read.
    """
    runs = []
    for name, directory in find_run_dirs(path):
        run = load_run(directory, name)
        if is_aelog_run(run):
            runs.append(run)
    if not runs:
        raise NoRunsError(
            f"{path}: no aelog data found (expected event files written by aelog.watch)"
        )
    return runs
