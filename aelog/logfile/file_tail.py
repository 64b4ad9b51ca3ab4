"""The last events of an event file, read from its last bytes alone.

A finished run ends with its last logged step, the closed record and the verdict
``close()`` stored, which carries the run's row (tags, configuration, what was trained):
the few kilobytes a reader that only wants the verdict needs. Reading them instead of
the whole file makes ``aelog diagnose`` on thousands of finished runs cost a small read a
run, and no decoding of their series.

TFRecord has no index, so the first record boundary in the tail is found by trying
offsets: a record starts where the 8-byte length is followed by its masked CRC and the
records from there chain, each checked, exactly to the end of the file.
"""

from __future__ import annotations

import os

from tensorboard.compat.proto import event_pb2

from aelog.logfile.event_reader import iter_records

TAIL_BYTES = 32 * 1024
"""bytes read from a file's end: the verdict and the last step take a few kilobytes."""
_HIGH_LENGTH_BYTES = b"\0" * 5
"""bytes 3-7 of a record's little-endian length: zero for any record under 16 MiB, so only
offsets followed by them are tried."""


def tail_events(data: bytes) -> list[event_pb2.Event] | None:
    """The events of the whole records in ``data`` (a file's last bytes), from the first
    offset whose records chain exactly to its end; None when no offset does (a file cut
    short, still being written, or not an event file)."""
    search = 0
    while True:
        found = data.find(_HIGH_LENGTH_BYTES, search + 3)
        if found < 0:
            return None
        offset = found - 3
        search = offset + 1
        events = _events_to_end(data, offset)
        if events is not None:
            return events


def _events_to_end(data: bytes, offset: int) -> list[event_pb2.Event] | None:
    events = []
    for record, problem in iter_records(memoryview(data)[offset:]):
        if problem is not None:
            return None
        event = event_pb2.Event()
        try:
            event.ParseFromString(bytes(record))
        except Exception:  # noqa: BLE001 - protobuf raises several kinds on garbage
            return None
        events.append(event)
    return events or None


def read_tail(path: str) -> tuple[bytes, bool]:
    """The last ``TAIL_BYTES`` of a local file and whether they are the whole file."""
    with open(path, "rb") as handle:
        start = max(0, os.fstat(handle.fileno()).st_size - TAIL_BYTES)
        handle.seek(start)
        return handle.read(TAIL_BYTES), start == 0
