"""The verdict travels with the run: ``close()`` writes the engine's verdict into the event
file, and the CLI, ``aelog.diagnose`` and the tab take it while it holds (same engine,
same last step, a run read without problems), and run the engine otherwise."""

from __future__ import annotations

import json
import os

import pytest
import torch
from cli.cli_runs import STEPS, healthy_signals, run_aelog
from plugin.conftest import InProcessTensorBoard
from reliability.training import TinyAE, digits, train

import aelog
from aelog.diagnosis.engine import diagnose_run
from aelog.diagnosis.stored import stored_diagnosis, verdict_holds, verdict_payload
from aelog.diagnosis.types import CauseFinding, Diagnosis
from aelog.diagnosis.version import engine_version
from aelog.logfile import format as fmt
from aelog.logfile import runs
from aelog.logfile.event_writer import EventWriter
from aelog.logfile.file_tail import TAIL_BYTES
from aelog.logfile.run_data import RunData
from aelog.logfile.runs import load_runs


def _watched_run(logdir: str, steps: int = 200):
    torch.manual_seed(0)
    model = TinyAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    with aelog.watch(model, optimizer, logdir=logdir, run_name="run", on_collapse=None):
        train(model, optimizer, digits(), steps)
    (run,) = load_runs(logdir)
    return run


def test_close_writes_the_verdict_the_engine_gives_on_the_file(tmp_path):
    run = _watched_run(str(tmp_path))
    assert run.verdict is not None
    assert run.verdict["engine"] == engine_version()
    assert run.verdict["step"] == run.last_step == 200
    # made from exactly what the file holds: the same as diagnosing the file afresh
    assert stored_diagnosis(run).to_json() == diagnose_run(run).to_json()
    # and the API, which then reads no series, gives that same verdict
    (light,) = load_runs(str(tmp_path), light_when=verdict_holds)
    assert not light.signals and light.last_step == 200
    (read,) = aelog.diagnose(str(tmp_path))
    assert read.to_json() == diagnose_run(run).to_json()


def _run_claiming(run_dir: str, verdict: dict | None, *, steps=STEPS) -> None:
    """A run whose signals are healthy, with a stored verdict that says otherwise."""
    writer = EventWriter(run_dir)
    writer.write_metadata({"format_version": fmt.FORMAT_VERSION, "run_name": "r", "tags": {},
                           "config": {}})
    for i, step in enumerate(steps):
        writer.write_scalars(step, {fmt.scalar_tag(name): values[i]
                                    for name, values in healthy_signals(len(steps)).items()})
    if verdict is not None:
        writer.write_verdict(steps[-1], verdict)
    writer.close()


CLAIMED = Diagnosis(run="as the SDK named it", status="collapsed", since_step=30, causes=[
    CauseFinding("init_constant", 0.9, 30, ["units 1.00 similar"], "init weights randomly")])


def _claimed_payload() -> dict:
    return {**verdict_payload(CLAIMED, RunData("r")), "step": STEPS[-1]}


def _status_read(path: str) -> tuple:
    result = run_aelog("diagnose", path, "--json")
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)["runs"]
    return row["status"], [c["id"] for c in row["causes"]], row["run"]


def test_the_cli_and_the_api_take_a_verdict_that_holds(tmp_path):
    _run_claiming(str(tmp_path / "claimed"), _claimed_payload())
    assert _status_read(str(tmp_path)) == ("collapsed", ["init_constant"], "claimed")
    (diagnosis,) = aelog.diagnose(str(tmp_path))
    assert diagnosis.status == "collapsed" and diagnosis.run == "claimed"


@pytest.mark.parametrize("stale", [
    pytest.param({"engine": "0.0.1+000000000000"}, id="another engine"),
    pytest.param({"step": STEPS[-2]}, id="the run went on after it"),
    pytest.param({"diagnosis": {**CLAIMED.to_json(), "status": "fine"}}, id="unknown status"),
    pytest.param({"diagnosis": {**CLAIMED.to_json(), "causes": [
        {**CLAIMED.causes[0].to_json(), "id": "bad_luck"}]}}, id="unknown cause id"),
    pytest.param({"diagnosis": "collapsed"}, id="not an object"),
])
def test_a_verdict_that_no_longer_holds_is_diagnosed_again(tmp_path, stale):
    _run_claiming(str(tmp_path / "claimed"), {**_claimed_payload(), **stale})
    assert _status_read(str(tmp_path)) == ("healthy", [], "claimed")


def test_a_run_read_with_problems_is_diagnosed_again(tmp_path):
    run_dir = str(tmp_path / "claimed")
    _run_claiming(run_dir, _claimed_payload())
    (name,) = os.listdir(run_dir)
    with open(os.path.join(run_dir, name), "ab") as handle:
        handle.write(b"\x00\x01garbage")  # a torn record after the verdict
    (run,) = load_runs(run_dir)
    assert run.problems and stored_diagnosis(run) is None


def test_the_tab_takes_the_stored_verdict_too(tmp_path):
    _run_claiming(str(tmp_path / "claimed"), _claimed_payload())
    _run_claiming(str(tmp_path / "stale"), {**_claimed_payload(),
                                            "engine": "old"})
    rowless = {key: value for key, value in _claimed_payload().items() if key != "row"}
    _run_claiming(str(tmp_path / "rowless"), rowless)  # closed before verdicts carried rows
    board = InProcessTensorBoard(str(tmp_path))
    rows = {row["run"]: row for row in board.get_json("/runs")["runs"]}
    for claimed in ("claimed", "rowless"):
        assert rows[claimed]["status"] == "collapsed"
        assert rows[claimed]["causes"][0]["id"] == "init_constant"
    assert rows["stale"]["status"] == "healthy"


def test_the_tab_lists_a_finished_run_without_reading_its_series(tmp_path):
    _watched_run(str(tmp_path / "finished"))
    board = InProcessTensorBoard(str(tmp_path / "finished"))
    provider = board.plugin._data
    scalar_reads, tensor_reads = [], []
    read_scalars, read_tensors = provider.read_scalars, provider.read_tensors
    provider.read_scalars = lambda *a, **k: scalar_reads.append(k) or read_scalars(*a, **k)
    provider.read_tensors = lambda *a, **k: tensor_reads.append(k) or read_tensors(*a, **k)

    (light,) = board.get_json("/runs")["runs"]
    assert scalar_reads == []  # the row came from the stored verdict alone
    assert [read["run_tag_filter"].tags for read in tensor_reads] == [
        frozenset({fmt.VERDICT_TAG})]  # one tensor a run: the verdict carries the row
    detail = board.get_json("/run", run="run")  # opening the run reads its series
    assert len(scalar_reads) == 1 and detail["signals"]
    assert light == detail["run"]  # the row from the verdict is the row from the series
    assert light["last_step"] == 200 and light["key_signals"]["relative_error"] is not None


def test_a_finished_run_is_read_from_its_last_kilobytes(tmp_path, monkeypatch):
    logdir = str(tmp_path / "logs")
    full = _watched_run(logdir)
    (name,) = [n for n in os.listdir(os.path.join(logdir, "run")) if "tfevents" in n]
    assert os.path.getsize(os.path.join(logdir, "run", name)) > 2 * TAIL_BYTES
    whole_reads = []
    read_event_file = runs.read_event_file
    monkeypatch.setattr(runs, "read_event_file",
                        lambda path: whole_reads.append(path) or read_event_file(path))

    (light,) = load_runs(logdir, light_when=verdict_holds)
    assert whole_reads == []  # the verdict, the last step and the row: all in the tail
    assert light.last_step == full.last_step == 200 and not light.signals
    assert light.tags == full.tags and light.trained == full.trained
    assert light.metadata["config"] == full.metadata["config"]
    (read,) = aelog.diagnose(logdir)
    assert read.to_json() == diagnose_run(full).to_json()
    assert whole_reads == []


def test_a_verdict_without_its_row_is_read_whole(tmp_path, monkeypatch):
    """A run closed before verdicts carried their row (or a tail that holds no verdict)."""
    run_dir = str(tmp_path / "claimed")
    steps = list(range(0, 2000, 5))
    payload = {key: value for key, value in _claimed_payload().items() if key != "row"}
    _run_claiming(run_dir, {**payload, "step": steps[-1]}, steps=steps)
    (name,) = os.listdir(run_dir)
    assert os.path.getsize(os.path.join(run_dir, name)) > TAIL_BYTES
    whole_reads = []
    read_event_file = runs.read_event_file
    monkeypatch.setattr(runs, "read_event_file",
                        lambda path: whole_reads.append(path) or read_event_file(path))
    (diagnosis,) = aelog.diagnose(str(tmp_path))
    assert len(whole_reads) == 1
    assert diagnosis.status == "collapsed" and diagnosis.run == "claimed"
