"""Small real aelog runs written with aelog's EventWriter, and ways to damage them."""

from __future__ import annotations

import os

from aelog.logfile import format as fmt
from aelog.logfile.event_reader import iter_records
from aelog.logfile.event_writer import EventWriter


def write_small_run(run_dir: str, steps: int = 8, metadata: dict | None = None) -> str:
    """A collapsing run of ``steps`` logging steps; returns the event file's path."""
    writer = EventWriter(run_dir)
    writer.write_metadata(metadata if metadata is not None else {
        "format_version": fmt.FORMAT_VERSION,
        "run_name": os.path.basename(run_dir),
        "tags": {"team": "vision"},
        "config": {"optimizer": "Adam", "lr": 0.5, "latent_size": 4},
    })
    for index in range(steps):
        collapsed = index >= steps // 2
        writer.write_scalars(index * 10, {
            fmt.scalar_tag(fmt.OUTPUT_VARIANCE_RATIO): 0.01 if collapsed else 0.8,
            fmt.scalar_tag(fmt.RELATIVE_ERROR): 0.99 if collapsed else 0.3,
            fmt.scalar_tag(fmt.CODE_EFFECTIVE_RANK): 1.0 if collapsed else 3.5,
            fmt.layer_tag("encoder.0", fmt.LAYER_DEAD_FRACTION): 1.0 if collapsed else 0.1,
        })
    writer.write_record(steps * 10, {"kind": "warning", "message": "end"})
    writer.close()
    return writer.path


def record_ends(data: bytes) -> list[int]:
    """Byte offset just past each complete record of an event file's contents."""
    ends, offset = [], 0
    for record, _ in iter_records(data):
        if record is None:
            break
        offset += 12 + len(record) + 4
        ends.append(offset)
    return ends


def write_damaged_runs(logdir: str) -> list[str]:
    """Runs a crash or a stranger left behind: cut mid-record, random bytes, empty, text.
    Returns the names of those that still hold aelog data (the cut one)."""
    cut = write_small_run(os.path.join(logdir, "damaged", "cut"))
    with open(cut, "r+b") as handle:
        handle.truncate(os.path.getsize(cut) - 7)
    for name, data in (("random", os.urandom(5000)), ("empty", b""),
                       ("text", b"not an event file\n" * 100)):
        os.makedirs(os.path.join(logdir, "damaged", name))
        with open(os.path.join(logdir, "damaged", name, "events.out.tfevents.1.x"), "wb") as out:
            out.write(data)
    return ["damaged/cut"]
