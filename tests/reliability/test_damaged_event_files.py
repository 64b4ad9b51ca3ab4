"""Reading side: damaged, empty, foreign and hostile event files never crash a reader.

Each case goes through the CLI's adapter (``load_run`` / ``load_runs``) and the engine;
the diagnosis either carries a verdict or says "not enough data" with the reason.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest

from aelog.cli.main import main as cli_main
from aelog.diagnosis.engine import diagnose_run
from aelog.diagnosis.types import STATUSES
from aelog.logfile.runs import NoRunsError, load_run, load_runs

from .event_files import record_ends, write_small_run

FIRST_SCALAR_RECORD = 2
"""records of a small run: file version, metadata, 8 scalar events, one JSON record."""


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> bytes:
    path = write_small_run(str(tmp_path_factory.mktemp("pristine") / "run"))
    with open(path, "rb") as handle:
        return handle.read()


def _install(run_dir, data: bytes) -> None:
    os.makedirs(run_dir, exist_ok=True)
    with open(os.path.join(run_dir, "events.out.tfevents.1.host.1.aelog"), "wb") as handle:
        handle.write(data)


def test_a_file_cut_at_every_byte_reads_up_to_its_last_complete_record(tmp_path, pristine):
    ends = record_ends(pristine)
    run_dir = tmp_path / "run"
    tried = 0
    for cut in range(len(pristine) + 1):
        _install(run_dir, pristine[:cut])
        run = load_run(str(run_dir), "run")
        diagnosis = diagnose_run(run)
        complete = sum(end <= cut for end in ends)
        expected_steps = min(8, max(0, complete - FIRST_SCALAR_RECORD))
        assert (run.last_step is None) == (expected_steps == 0), cut
        if expected_steps:
            assert run.last_step == 10 * (expected_steps - 1), cut
        assert bool(run.problems) == (cut not in (0, *ends)), cut
        assert diagnosis.status in STATUSES
        if run.problems:
            assert any("truncated" in note for note in diagnosis.notes), cut
        if expected_steps < 3:
            assert any(note.startswith("not enough data") for note in diagnosis.notes), cut
        tried += 1
    assert tried == len(pristine) + 1


def test_every_flipped_byte_is_survived(tmp_path, pristine):
    run_dir = tmp_path / "run"
    for position in range(0, len(pristine), 2):
        damaged = bytearray(pristine)
        damaged[position] ^= 0xFF
        _install(run_dir, bytes(damaged))
        run = load_run(str(run_dir), "run")
        assert diagnose_run(run).status in STATUSES, position


def _cli_json(capsys, path: str) -> tuple[int, dict | None, str]:
    code = cli_main(["diagnose", path, "--json"])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, (json.loads(out) if code == 0 else None), err


def test_cli_on_damaged_runs_answers_json_or_one_line(tmp_path, pristine, capsys):
    cases = {
        "empty": b"",
        "header_only": pristine[:5],
        "metadata_only": pristine[: record_ends(pristine)[1]],
        "cut_mid_record": pristine[:-7],
        "random": os.urandom(4096),
        "text": b"this is not an event file\n" * 20,
        "zeros": bytes(65536),
        "huge_length_field": b"\xff" * 8 + pristine[8:],
    }
    for name, data in cases.items():
        _install(tmp_path / name / "run", data)
        code, result, err = _cli_json(capsys, str(tmp_path / name))
        if code == 0:
            (row,) = result["runs"]
            assert row["status"] in STATUSES and row["notes"], name
        else:
            assert code == 2 and err.startswith("aelog: error:") and err.count("\n") == 1, name
    code, result, _ = _cli_json(capsys, str(tmp_path))  # all of them at once
    assert code == 0 and {row["run"] for row in result["runs"]} == {
        "metadata_only/run", "cut_mid_record/run"
    }


def test_a_logdir_with_only_foreign_event_files_is_a_plain_error(tmp_path, capsys):
    torch_tb = pytest.importorskip("torch.utils.tensorboard")
    import numpy as np

    writer = torch_tb.SummaryWriter(str(tmp_path / "someone_elses_run"))
    for step in range(5):
        writer.add_scalar("loss", 1.0 / (step + 1), step)
        writer.add_histogram("collapse/weights", np.arange(10.0) * step, step)
        writer.add_text("collapse/notes", "<script>x</script>", step)
    writer.close()
    with pytest.raises(NoRunsError, match="no aelog data"):
        load_runs(str(tmp_path))
    code, _, err = _cli_json(capsys, str(tmp_path))
    assert code == 2 and "no aelog data" in err


def test_foreign_values_under_our_prefix_are_ignored_beside_real_data(tmp_path):
    torch_tb = pytest.importorskip("torch.utils.tensorboard")
    import numpy as np

    run_dir = tmp_path / "shared_run"
    write_small_run(str(run_dir))
    writer = torch_tb.SummaryWriter(str(run_dir))  # a second tool writing into our run
    for step in range(5):
        writer.add_histogram("collapse/output_variance_ratio", np.arange(4.0), step)
        writer.add_image("collapse/layer/encoder.0/dead_fraction",
                         np.zeros((3, 2, 2), dtype=np.uint8), step)
        writer.add_scalar("collapse/layer//", 3.0, step)
        writer.add_scalar("collapse/layer/x", 3.0, step)
    writer.close()
    (run,) = load_runs(str(tmp_path))
    assert len(run.signal("output_variance_ratio")) == 8
    assert set(run.layers) == {"encoder.0"}
    assert diagnose_run(run).status == "collapsed"


def test_odd_directory_entries_named_like_event_files(tmp_path, capsys):
    """A shared logdir can hold anything: none of it may hang, crash or fill memory."""
    good = tmp_path / "good"
    write_small_run(str(good))
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "events.out.tfevents.1.dir").mkdir()
    os.symlink(str(tmp_path / "nowhere"), str(odd / "events.out.tfevents.2.dangling"))
    os.symlink(str(odd / "events.out.tfevents.3.loop"), str(odd / "events.out.tfevents.3.loop"))
    os.mkfifo(str(odd / "events.out.tfevents.4.fifo"))
    os.symlink("/dev/zero", str(odd / "events.out.tfevents.5.zero"))
    with open(odd / "events.out.tfevents.6.sparse", "wb") as handle:
        handle.truncate(4 << 30)  # 4 GiB of holes: must not be read into memory
    runs = load_runs(str(tmp_path))
    assert [run.name for run in runs] == ["good"]
    code, result, _ = _cli_json(capsys, str(tmp_path))
    assert code == 0 and [row["run"] for row in result["runs"]] == ["good"]


def test_a_run_directory_that_vanishes_while_read(tmp_path, monkeypatch):
    from aelog.logfile import runs as runs_module

    for name in ("a", "b"):
        write_small_run(str(tmp_path / name))
    real_load_run = runs_module.load_run

    def load_then_delete_the_next(directory, name=None, light_when=None):
        if name == "a":
            shutil.rmtree(tmp_path / "b")
        return real_load_run(directory, name, light_when)

    monkeypatch.setattr(runs_module, "load_run", load_then_delete_the_next)
    assert [run.name for run in load_runs(str(tmp_path))] == ["a"]
