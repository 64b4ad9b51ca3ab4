"""Runs logged to a bucket: written from a real training loop to a real S3-compatible server
on 127.0.0.1, read back by the CLI and by a real TensorBoard from the same URL, with the
server killed mid-run and at close. Nothing the run wrote may be lost, and training never
waits on the network."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time
import warnings

import pytest
import torch
from cli.cli_runs import healthy_signals, run_aelog, write_run
from plugin.tensorboard_process import TensorBoard
from reliability.test_crash_consistency import TRAINING_CHILD
from reliability.training import TinyAE, digits, train

import aelog
from aelog.diagnosis.engine import diagnose_run
from aelog.logfile import remote_run, storage, upload
from aelog.logfile.runs import load_runs
from aelog.logfile.storage import StorageError
from remote.s3_server import S3Server, fresh_s3fs

pytest.importorskip("s3fs")
pytest.importorskip("moto")

STEPS = 300


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    server = S3Server(str(tmp_path_factory.mktemp("s3") / "moto.log"))
    server.start()
    saved = {name: os.environ.get(name) for name in server.environment()}
    os.environ.update(server.environment())
    fresh_s3fs()
    yield server
    server.stop()
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    fresh_s3fs()


@pytest.fixture
def staging(tmp_path, monkeypatch):
    """Where runs bound for the store are staged: inside the test's own directory."""
    path = tmp_path / "staging"
    monkeypatch.setenv("AELOG_STAGING", str(path))
    monkeypatch.setattr(upload, "UPLOAD_EVERY", 0.5)
    return path


def _staged_files(staging) -> list[str]:
    return [os.path.join(d, f) for d, _, files in os.walk(staging) for f in files]


def _aelog_messages(caught) -> list[str]:
    return [str(w.message) for w in caught if type(w.message).__name__ == "AelogWarning"]


def _wait_for(condition, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _trained(logdir: str, run_name: str, steps: int = STEPS, seed: int = 0):
    torch.manual_seed(seed)
    model = TinyAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    with aelog.watch(model, optimizer, logdir=logdir, run_name=run_name,
                     on_collapse=None) as monitor:
        train(model, optimizer, digits(), steps)
    return monitor


def test_a_run_logged_to_a_bucket_is_read_by_the_cli_as_a_local_one_is(store, staging, tmp_path):
    store.make_bucket("team-logs")
    remote = _trained("s3://team-logs/team-a", "exp1")
    _trained(str(tmp_path / "local"), "exp1")

    assert remote.run_dir == "s3://team-logs/team-a/exp1"
    assert _staged_files(staging) == []  # uploaded, so the staged copy is gone
    (from_store,) = load_runs("s3://team-logs/team-a")
    (from_disk,) = load_runs(str(tmp_path / "local"))
    assert from_store.name == "exp1" and not from_store.problems
    assert from_store.last_step == from_disk.last_step == STEPS  # the end was measured
    assert sorted(from_store.signals) == sorted(from_disk.signals)

    result = run_aelog("diagnose", "s3://team-logs/team-a", "--json")
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)["runs"]
    local_result = json.loads(run_aelog("diagnose", str(tmp_path / "local"), "--json").stdout)
    assert row["run"] == "exp1"
    assert row["status"] == local_result["runs"][0]["status"]

    one = run_aelog("diagnose", "s3://team-logs/team-a/exp1")  # one run directory
    assert one.returncode == 0 and "exp1" in one.stdout, one.stderr
    report = tmp_path / "report.html"
    made = run_aelog("report", "s3://team-logs/team-a", "--out", str(report))
    assert made.returncode == 0 and "exp1" in report.read_text(), made.stderr


def test_stock_tensorboard_reads_the_run_from_the_same_url(store, staging, tmp_path):
    store.make_bucket("tb-logs")
    _trained("s3://tb-logs/vision", "baseline")
    board = TensorBoard("s3://tb-logs/vision", load_fast=False, log_path=str(tmp_path / "tb.log"))
    try:
        (row,) = board.wait_for_runs(1, {"baseline": STEPS})
        assert row["run"] == "baseline"
        scalars = board.get_json("/data/plugins_listing")
        assert "scalars" in scalars and "aelog" in scalars
        detail = board.get_json("/data/plugin/aelog/run?run=baseline")
        assert detail["run"]["status"] == "healthy"
        assert detail["signals"]["relative_error"]["steps"][-1] == STEPS
    finally:
        board.stop()


def test_the_store_going_away_mid_run_loses_nothing_and_never_stalls_training(store, staging):
    store.make_bucket("flaky")
    torch.manual_seed(0)
    model = TinyAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    data = digits()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        monitor = aelog.watch(model, optimizer, logdir="s3://flaky/team-b", run_name="exp",
                              on_collapse=None)
        uploader = monitor._remote.uploader
        uploading_threads = set()
        put = uploader._fs.pipe_file

        def recorded_put(*args, **kwargs):
            uploading_threads.add(threading.current_thread().name)
            return put(*args, **kwargs)

        uploader._fs.pipe_file = recorded_put
        try:
            train(model, optimizer, data, 100)
            _wait_for(lambda: uploader.in_sync)
            store.stop()
            started = time.perf_counter()
            train(model, optimizer, data, 100)
            _wait_for(lambda: uploader.failures >= 2)
            train(model, optimizer, data, STEPS - 200)
            seconds_down = time.perf_counter() - started
            store.start()  # the store comes back, empty (moto keeps nothing): as after an outage
            store.make_bucket("flaky")
            monitor.close()
        finally:
            del uploader._fs.pipe_file
            if store.process is None:
                store.start()

    assert uploading_threads == {"aelog-upload"}  # the training thread never touched the store
    messages = _aelog_messages(caught)
    assert len([m for m in messages if "cannot upload to s3://flaky/team-b/exp" in m]) == 1
    assert "Nothing is lost" in messages[0] and seconds_down > 0
    (run,) = load_runs("s3://flaky/team-b")
    assert run.last_step == STEPS and not run.problems  # the whole run, uploaded after all
    assert _staged_files(staging) == []


def test_a_store_still_away_at_close_keeps_the_run_on_local_disk(store, staging, monkeypatch):
    store.make_bucket("gone")
    monkeypatch.setattr(remote_run, "CLOSE_TIMEOUT", 2.0)
    torch.manual_seed(0)
    model = TinyAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        monitor = aelog.watch(model, optimizer, logdir="s3://gone/team-c", run_name="exp",
                              on_collapse=None)
        train(model, optimizer, digits(), 100)
        store.stop()
        try:
            monitor.close()
        finally:
            store.start()

    kept = monitor._remote.local_dir
    (message,) = [m for m in _aelog_messages(caught) if "could not be uploaded" in m]
    assert kept in message and "s3://gone/team-c/exp" in message
    (run,) = load_runs(kept)  # everything, up to the end's measurement
    assert run.last_step == 100 and not run.problems
    result = run_aelog("diagnose", kept, "--json")
    assert result.returncode == 0 and json.loads(result.stdout)["runs"][0]["run"] == "exp"

    # while the process lives the upload goes on: the store back, the run reaches it
    store.make_bucket("gone")
    uploader = monitor._remote.uploader
    _wait_for(lambda: not uploader._thread.is_alive())
    (uploaded,) = load_runs("s3://gone/team-c")
    assert uploaded.last_step == 100 and not uploaded.problems


def test_a_bucket_that_does_not_exist_fails_at_watch(store, staging):
    model = TinyAE()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(PermissionError, match="check that the bucket exists"):
        aelog.watch(model, optimizer, logdir="s3://no-such-bucket/x", run_name="exp")
    # the user's model is left as it was: no hooks, training goes on without aelog
    assert not model._forward_hooks and not model.encoder[0]._forward_hooks
    train(model, optimizer, digits(), 2)


def test_two_runs_given_one_name_in_one_bucket_get_distinct_directories(store, staging):
    store.make_bucket("shared")
    first = _trained("s3://shared/team-d", "same", steps=20)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        second = _trained("s3://shared/team-d", "same", steps=20)
    assert (first.run_name, second.run_name) == ("same", "same-2")
    assert any("written as 'same-2'" in m for m in _aelog_messages(caught))
    assert sorted(run.name for run in load_runs("s3://shared/team-d")) == ["same", "same-2"]


def test_a_url_whose_store_package_is_missing_names_the_extra(tmp_path):
    if importlib.util.find_spec("gcsfs") is not None:
        pytest.skip("gcsfs is installed here")
    model = TinyAE()
    with pytest.raises(StorageError, match=r'pip install "aelog\[gcs\]"'):
        aelog.watch(model, torch.optim.SGD(model.parameters(), lr=0.1), logdir="gs://b/x")
    result = run_aelog("diagnose", "gs://b/x")
    assert result.returncode == 2 and 'pip install "aelog[gcs]"' in result.stderr
    unknown = run_aelog("diagnose", "nosuch://b/x")
    assert unknown.returncode == 2 and "unknown storage protocol" in unknown.stderr


KILLED_CHILD = TRAINING_CHILD.replace(  # the crash test's loop, uploading every 0.2 s
    "torch.set_num_threads(1)\n",
    "torch.set_num_threads(1)\nfrom aelog.logfile import upload\nupload.UPLOAD_EVERY = 0.2\n")


def test_a_run_killed_mid_write_leaves_a_readable_run_in_the_store(store, staging):
    store.make_bucket("killed")
    tests = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = KILLED_CHILD.format(tests=tests, logdir="s3://killed/team-e")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        import s3fs

        fs = s3fs.S3FileSystem()

        def uploaded_twice() -> bool:
            fs.invalidate_cache()
            events = [p for p in fs.find("killed/team-e") if "tfevents" in p]
            return bool(events) and fs.size(events[0]) > 4000

        for _ in range(200):  # steps logged, and more than one upload made
            assert child.stdout.readline(), child.stderr.read()
        _wait_for(uploaded_twice)
        child.send_signal(signal.SIGKILL)
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
        child.stderr.close()

    (in_store,) = load_runs("s3://killed/team-e")
    assert in_store.last_step is not None and not in_store.problems  # whole uploads only
    (staged,) = load_runs(str(staging))  # the rest is on local disk, named in no warning yet
    assert staged.last_step >= in_store.last_step


EXITING_CHILD = TRAINING_CHILD.replace("range(100000)", "range(60)")


def test_a_script_that_ends_without_close_still_uploads_the_whole_run(store, staging):
    store.make_bucket("exiting")
    tests = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = EXITING_CHILD.format(tests=tests, logdir="s3://exiting/team-f")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    (run,) = load_runs("s3://exiting/team-f")  # closed at interpreter exit, then uploaded
    assert run.last_step == 60 and run.trained is not None and not run.problems
    assert _staged_files(staging) == []


def test_a_bucket_of_finished_runs_is_diagnosed_from_their_last_kilobytes(
        store, staging, tmp_path, monkeypatch):
    """A finished run's verdict, last step and row are in its file's last kilobytes: one
    ranged read a run; only a run they do not settle (here: never closed) is fetched whole."""
    store.make_bucket("tail-logs")
    _trained("s3://tail-logs/team", "finished")
    unfinished = str(tmp_path / "local" / "unfinished")
    write_run(unfinished, healthy_signals(600), steps=list(range(600)))
    fs, _ = storage.filesystem("s3://tail-logs")
    fs.put(unfinished + "/", "tail-logs/team/unfinished", recursive=True)
    expected = {run.name: diagnose_run(run).to_json()
                for run in load_runs("s3://tail-logs/team")}  # every file read whole
    fetched_whole, fetched_tails = [], []
    cat, cat_ranges = fs.cat, fs.cat_ranges  # fsspec's cached instance: the one read with
    monkeypatch.setattr(fs, "cat", lambda paths, **k: (
        fetched_whole.extend(paths) or cat(paths, **k)))
    monkeypatch.setattr(fs, "cat_ranges", lambda paths, *a, **k: (
        fetched_tails.extend(paths) or cat_ranges(paths, *a, **k)))

    read = {d.run: d for d in aelog.diagnose("s3://tail-logs/team")}
    assert sorted(read) == ["finished", "unfinished"]
    assert len(fetched_tails) == 2 and len(fetched_whole) == 1
    assert "/unfinished/" in fetched_whole[0]
    assert {name: d.to_json() for name, d in read.items()} == expected
