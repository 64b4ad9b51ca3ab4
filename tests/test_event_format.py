"""The on-disk format: our writer's files read back by our reader and by stock TensorBoard."""

from __future__ import annotations

import os

import pytest

from aelog.logfile import format as fmt
from aelog.logfile.event_reader import read_event_file
from aelog.logfile.event_writer import EventWriter
from aelog.logfile.runs import NoRunsError, load_runs


def _write_run(run_dir: str, steps: int = 5) -> str:
    writer = EventWriter(run_dir)
    writer.write_metadata({"format_version": fmt.FORMAT_VERSION, "tags": {"team": "vision"}})
    for step in range(steps):
        writer.write_scalars(
            step,
            {
                fmt.scalar_tag(fmt.RELATIVE_ERROR): 1.0 / (step + 1),
                fmt.layer_tag("encoder.0", fmt.LAYER_DEAD_FRACTION): 0.25,
            },
        )
    writer.write_record(3, {"kind": "probe_failed", "probe": "code"})
    writer.close()
    return writer.path


def test_round_trip(tmp_path):
    _write_run(str(tmp_path / "team_a" / "run1"))
    (run,) = load_runs(str(tmp_path))
    assert run.name == "team_a/run1"
    assert run.tags == {"team": "vision"}
    rel = run.signal(fmt.RELATIVE_ERROR)
    assert rel.steps.tolist() == [0, 1, 2, 3, 4]
    assert rel.values[1] == pytest.approx(0.5)
    assert run.layer_signal("encoder.0", fmt.LAYER_DEAD_FRACTION).values.tolist() == [0.25] * 5
    assert run.records == [{"step": 3, "kind": "probe_failed", "probe": "code"}]
    assert run.problems == []


def test_truncated_file_reads_up_to_last_complete_record(tmp_path):
    path = _write_run(str(tmp_path / "run"), steps=10)
    size = os.path.getsize(path)
    with open(path, "r+b") as handle:
        handle.truncate(size - 7)
    result = read_event_file(path)
    assert result.problem and "truncated" in result.problem
    (run,) = load_runs(str(tmp_path))
    assert len(run.signal(fmt.RELATIVE_ERROR)) == 10  # only the trailing record was cut
    assert run.problems


def test_foreign_and_missing_paths(tmp_path):
    with pytest.raises(NoRunsError, match="no such file"):
        load_runs(str(tmp_path / "nope"))
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "events.out.tfevents.1.garbage").write_bytes(b"not an event file at all")
    with pytest.raises(NoRunsError, match="no aelog data"):
        load_runs(str(tmp_path))


def test_stock_tensorboard_reads_our_files(tmp_path):
    from tensorboard.backend.event_processing import event_accumulator

    _write_run(str(tmp_path / "run"))
    acc = event_accumulator.EventAccumulator(str(tmp_path / "run"))
    acc.Reload()
    tags = acc.Tags()
    assert fmt.scalar_tag(fmt.RELATIVE_ERROR) in tags["scalars"]
    assert [e.step for e in acc.Scalars(fmt.scalar_tag(fmt.RELATIVE_ERROR))] == list(range(5))
    assert fmt.METADATA_TAG in tags["tensors"]
    content = acc.PluginTagToContent(fmt.PLUGIN_NAME)
    assert fmt.parse_plugin_content(content[fmt.METADATA_TAG])["kind"] == "run_metadata"


def test_series_are_sorted_by_step_and_a_step_written_twice_keeps_its_last_value():
    from aelog.logfile.run_data import Series

    rising = Series.from_points([0, 1, 5], [1.0, 2.0, 3.0])
    assert rising.steps.tolist() == [0, 1, 5] and rising.values.tolist() == [1.0, 2.0, 3.0]
    resumed = Series.from_points([0, 5, 10, 5, 6], [1.0, 2.0, 3.0, 9.0, 8.0])
    assert resumed.steps.tolist() == [0, 5, 6, 10]
    assert resumed.values.tolist() == [1.0, 9.0, 8.0, 3.0]
    assert len(Series.from_points([], [])) == 0
