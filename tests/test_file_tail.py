"""An event file's last events, found from its last bytes alone (no index in TFRecord)."""

from __future__ import annotations

import os
import random

from aelog.logfile import format as fmt
from aelog.logfile.event_reader import iter_records, read_event_file
from aelog.logfile.event_writer import EventWriter
from aelog.logfile.file_tail import tail_events


def _file_with_zeros(run_dir: str) -> str:
    """Steps whose values include exact zeros and whose records hold runs of zero bytes,
    so that many offsets look like the start of a record's length."""
    writer = EventWriter(run_dir)
    writer.write_metadata({"format_version": fmt.FORMAT_VERSION, "tags": {"team": "a"}})
    for step in range(300):
        writer.write_scalars(step, {fmt.scalar_tag(fmt.RELATIVE_ERROR): 0.0,
                                    fmt.scalar_tag(fmt.OUTPUT_VARIANCE_RATIO): step * 1e-3,
                                    fmt.layer_tag("encoder.0", fmt.LAYER_DEAD_FRACTION): 0.0})
    writer.write_record(299, {"kind": "closed", "padding": "\u0000" * 40})
    writer.write_verdict(299, {"engine": "x", "step": 299, "diagnosis": {}})
    writer.close()
    return writer.path


def _record_starts(data: bytes) -> list[int]:
    starts, offset = [], 0
    for record, _ in iter_records(data):
        starts.append(offset)
        offset += 16 + len(record)
    return starts


def test_the_events_from_any_cut_are_the_files_last_events(tmp_path):
    path = _file_with_zeros(str(tmp_path / "run"))
    data = open(path, "rb").read()
    events = read_event_file(path).events
    starts = _record_starts(data)
    for cut in range(len(data) - 3000, len(data) - 8):
        found = tail_events(data[cut:])
        first = next((i for i, start in enumerate(starts) if start >= cut), None)
        expected = None if first is None else events[first:]  # no whole record: nothing
        assert found == expected, f"cut at byte {cut}"


def test_a_tail_that_does_not_end_on_a_whole_record_is_refused(tmp_path):
    data = open(_file_with_zeros(str(tmp_path / "run")), "rb").read()
    assert tail_events(data[-4000:-7]) is None  # cut short: a file still being written
    assert tail_events(data[-4000:] + b"\x00" * 20) is None  # zeros after the last record
    garbage = random.Random(0).randbytes(8000) + b"\x00" * 64
    assert tail_events(garbage) is None


def test_a_small_file_is_read_whole_from_its_start(tmp_path):
    path = _file_with_zeros(str(tmp_path / "run"))
    data = open(path, "rb").read()
    assert tail_events(data) == read_event_file(path).events
    assert os.path.getsize(path) == len(data)
