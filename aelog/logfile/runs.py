"""Find aelog runs under a path or a URL and read them from event files into :class:`RunData`.

A local logdir is walked and its files mapped; a logdir in an object store (``s3://``,
``gs://``) is listed once, recursively, and its event files fetched together, so a bucket
of many runs costs one listing and concurrent reads rather than a round trip per run.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Callable, Iterable

from aelog.logfile import format as fmt
from aelog.logfile import storage
from aelog.logfile.event_reader import ReadResult, read_event_bytes, read_event_file
from aelog.logfile.file_tail import TAIL_BYTES, read_tail, tail_events
from aelog.logfile.run_data import RunData
from aelog.logfile.verdict_row import run_from_verdict

LightWhen = Callable[[RunData], bool] | None
"""Given a run read without its series (metadata, records, verdict, last step), whether
that is all the caller needs: then the series are not built. ``aelog diagnose`` passes
"its stored verdict holds"; building the series is most of the cost of reading a run.
A run of one event file is first read from that file's last kilobytes (see
:mod:`aelog.logfile.file_tail`): a finished run's verdict carries its row, and where that
is enough the rest of the file is never read."""


class NoRunsError(ValueError):
    """The path exists but holds no aelog data, or does not exist at all."""


def _is_event_file(name: str) -> bool:
    return "tfevents" in name


def find_run_dirs(path: str) -> list[tuple[str, str]]:
    """``[(run_name, directory)]`` for every directory under ``path`` holding event files.

    Run names follow TensorBoard: the path relative to the logdir, ``.`` for the logdir.
    """
    if storage.is_remote(path):
        return [(name, directory) for name, directory, _, _ in _find_remote_runs(path)]
    path = storage.local_path(path)
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


def load_run(directory: str, name: str | None = None, light_when: LightWhen = None) -> RunData:
    """Read every event file of one run directory (oldest first) into RunData."""
    if storage.is_remote(directory):
        fs, root = storage.filesystem(directory)
        listed = {info["name"]: info for info in fs.ls(root, detail=True)}
        files = sorted(path for path in listed if _is_event_file(path))
        run_name = name if name is not None else os.path.basename(root)
        found = (run_name, directory, files, [_size(listed[path]) for path in files])
        return _remote_runs(fs, [found], light_when)[0]
    problems: list[str] = []
    try:
        files = sorted(f for f in os.listdir(directory) if _is_event_file(f))
    except OSError as error:  # deleted or made unreadable since it was found
        files = []
        problems.append(f"cannot list {directory}: {error.strerror or error}")
    run_name = name if name is not None else os.path.basename(os.path.normpath(directory))
    if light_when is not None and len(files) == 1 and not problems:
        try:
            tail, whole = read_tail(os.path.join(directory, files[0]))
        except OSError:
            tail, whole = b"", True  # the full read below names the problem
        run = None if whole else _tail_run(run_name, tail)
        if run is not None and light_when(run):
            return run
    read = [(filename, read_event_file(os.path.join(directory, filename))) for filename in files]
    return _run_from_events(run_name, read, problems, light_when)


def _tail_run(run_name: str, tail: bytes) -> RunData | None:
    """The run as the last bytes of its one event file tell it: None unless they hold a
    verdict that carries the run's row (see :mod:`aelog.logfile.verdict_row`)."""
    events = tail_events(tail)
    if events is None:
        return None
    parts, last_step = _parts_and_last_step(events)
    return run_from_verdict(run_name, parts.verdict, last_step, parts.records)


def _run_from_events(run_name: str, files: list[tuple[str, ReadResult]],
                     problems: list[str], light_when: LightWhen = None) -> RunData:
    """One run from its event files' events, oldest file first."""
    for filename, result in files:
        if result.problem:
            problems.append(f"{filename}: {result.problem}")
    if light_when is not None:
        light = _light_run(run_name, files, problems)
        if light_when(light):
            return light
    return _full_run(run_name, files, problems)


class _JsonParts:
    """What a run's JSON tensors hold: metadata (the first), records, the last verdict."""

    def __init__(self) -> None:
        self.metadata: dict = {}
        self.records: list[dict] = []
        self.verdict: dict | None = None

    def take(self, step: int, value) -> None:
        if value.tag == fmt.METADATA_TAG:
            payload = _decode_json_tensor(value)
            if payload is not None and not self.metadata:
                self.metadata = payload
        elif value.tag == fmt.RECORD_TAG:
            payload = _decode_json_tensor(value)
            if payload is not None:
                self.records.append({"step": int(step), **payload})
        elif value.tag == fmt.VERDICT_TAG:
            self.verdict = _decode_json_tensor(value) or self.verdict


def _light_run(run_name: str, files: Iterable[tuple[str, ReadResult]],
               problems: list[str]) -> RunData:
    """The run without its series: metadata, records, verdict and the last step logged.
    Each scalar event holds every value of its step, so its first value's tag tells it."""
    parts, last_step = _parts_and_last_step(
        event for _, result in files for event in result.events)
    return RunData(run_name, parts.metadata, records=parts.records, problems=list(problems),
                   verdict=parts.verdict, logged_to=last_step)


def _parts_and_last_step(events: Iterable) -> tuple[_JsonParts, int | None]:
    """The JSON tensors of ``events`` and the last step their scalars were logged at."""
    parts = _JsonParts()
    last_step: int | None = None
    for event in events:
        if not event.HasField("summary") or not event.summary.value:
            continue
        value = event.summary.value[0]
        if value.tag.startswith(fmt.SCALAR_PREFIX):
            last_step = event.step if last_step is None else max(last_step, event.step)
        else:
            parts.take(event.step, value)
    return parts, last_step


def _full_run(run_name: str, files: Iterable[tuple[str, ReadResult]],
              problems: list[str]) -> RunData:
    points: dict[str, tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
    parts = _JsonParts()
    for _, result in files:
        for event in result.events:
            if not event.HasField("summary"):
                continue
            for value in event.summary.value:
                if not value.tag.startswith(fmt.SCALAR_PREFIX):
                    parts.take(event.step, value)
                    continue
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
    run = RunData.from_tagged_points(run_name, points, parts.metadata, parts.records, problems)
    run.verdict = parts.verdict
    return run


def _find_remote_runs(url: str) -> list[tuple[str, str, list[str], list[int | None]]]:
    """``[(run_name, directory URL, event file paths, their sizes)]`` under a URL, from one
    listing."""
    fs, root = storage.filesystem(url)
    try:
        if fs.isfile(root):
            directory = root.rsplit("/", 1)[0]
            return [(directory.rsplit("/", 1)[-1] or ".", fs.unstrip_protocol(directory),
                     [root], [_size(fs.info(root))])]
        listed = fs.find(root, detail=True)
    except FileNotFoundError:
        listed = {}
    if not listed:
        raise NoRunsError(f"{url}: no such file or directory, or nothing in it")
    by_directory: dict[str, list[str]] = defaultdict(list)
    for path in sorted(listed):
        if _is_event_file(path.rsplit("/", 1)[-1]):
            by_directory[path.rsplit("/", 1)[0]].append(path)
    found = []
    for directory in sorted(by_directory):
        relative = directory[len(root):].strip("/") or "."
        paths = by_directory[directory]
        found.append((relative, fs.unstrip_protocol(directory), paths,
                      [_size(listed[path]) for path in paths]))
    return found


def _size(info: dict) -> int | None:
    size = info.get("size") if isinstance(info, dict) else None
    return size if isinstance(size, int) else None


def _remote_runs(fs, found: list[tuple[str, str, list[str], list[int | None]]],
                 light_when: LightWhen = None) -> list[RunData]:
    """The runs found in a store, their event files fetched in one concurrent batch; with
    ``light_when``, runs of one event file are first read from its last kilobytes, in
    one batch too, and fetched whole only where those do not do."""
    done: dict[int, RunData] = {}
    if light_when is not None:
        done = _remote_tail_runs(fs, found, light_when)
    wanted = [path for index, (_, _, paths, _) in enumerate(found) if index not in done
              for path in paths]
    contents = fs.cat(wanted, on_error="return") if wanted else {}
    if len(wanted) == 1 and not isinstance(contents, dict):  # cat of one path: its bytes
        contents = {wanted[0]: contents}
    runs = []
    for index, (name, _, paths, _) in enumerate(found):
        if index in done:
            runs.append(done[index])
            continue
        read = []
        for path in paths:
            data = contents.get(path)
            if isinstance(data, (bytes, bytearray)):
                read.append((path.rsplit("/", 1)[-1], read_event_bytes(bytes(data))))
            else:
                read.append((path.rsplit("/", 1)[-1], ReadResult(
                    problem=f"cannot read {fs.unstrip_protocol(path)}: {data}")))
        runs.append(_run_from_events(name, read, [], light_when))
    return runs


def _remote_tail_runs(fs, found: list[tuple[str, str, list[str], list[int | None]]],
                      light_when: Callable[[RunData], bool]) -> dict[int, RunData]:
    """The runs (by their index in ``found``) whose one event file's last kilobytes are
    all ``light_when`` needs."""
    tried = [(index, paths[0], sizes[0]) for index, (_, _, paths, sizes) in enumerate(found)
             if len(paths) == 1 and sizes[0] is not None and sizes[0] > TAIL_BYTES]
    if not tried:
        return {}
    tails = fs.cat_ranges([path for _, path, _ in tried],
                          [size - TAIL_BYTES for _, _, size in tried],
                          [size for _, _, size in tried], on_error="return")
    done = {}
    for (index, _, _), tail in zip(tried, tails, strict=True):
        if not isinstance(tail, (bytes, bytearray)) or len(tail) != TAIL_BYTES:
            continue  # an error, or the object changed since the listing: read it whole
        run = _tail_run(found[index][0], bytes(tail))
        if run is not None and light_when(run):
            done[index] = run
    return done


def is_aelog_run(run: RunData) -> bool:
    return bool(run.metadata) or bool(run.signals) or bool(run.layers) or bool(run.verdict)


def load_runs(path: str, light_when: LightWhen = None) -> list[RunData]:
    """Every aelog run under ``path`` (a logdir, a run directory, or one event file);
    ``light_when``: see :data:`LightWhen`.

    Raises :class:`NoRunsError` with a plain message when there is nothing to read.
    """
    if storage.is_remote(path):
        fs, _ = storage.filesystem(path)
        loaded = _remote_runs(fs, _find_remote_runs(path), light_when)
    else:
        loaded = [load_run(directory, name, light_when)
                  for name, directory in find_run_dirs(path)]
    runs = [run for run in loaded if is_aelog_run(run)]
    if not runs:
        raise NoRunsError(
            f"{path}: no aelog data found (expected event files written by aelog.watch)"
        )
    return runs
