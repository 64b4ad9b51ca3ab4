"""Promise: a run is written inside its logdir, in a directory no other process writes.

Run names come from configs and command lines; two launches of one script share a name."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings

import pytest
import torch
from sdk_fixtures import MLPAE, digits, train

import aelog
from aelog.logfile import format as fmt
from aelog.logfile.run_dir import RunNameError
from aelog.logfile.runs import load_run, load_runs
from aelog.sdk.probe_guard import AelogWarning


def _files_under(path) -> set[str]:
    return {os.path.relpath(os.path.join(d, f), path) for d, _, fs in os.walk(path) for f in fs}


@pytest.mark.parametrize("name, complaint", [
    ("../outside", "'..'"),
    ("a/../../b", "'..'"),
    ("sub/..", "'..'"),
    ("..\\outside", "'..'"),
    ("/abs/path/run", "absolute path"),
    (".", "names no directory"),
    ("bad\nname", "control characters"),
    ("esc\x1b[31mred", "control characters"),
    ("nul\x00", "control characters"),
])
def test_a_run_name_leaving_the_logdir_is_refused_before_anything_is_written(
        tmp_path, name, complaint):
    logdir = tmp_path / "D" / "logs"
    model = MLPAE()
    with pytest.raises(RunNameError, match=complaint) as error:
        aelog.watch(model, logdir=logdir, run_name=name)
    assert "run_name" in str(error.value)
    assert not any(tmp_path.iterdir())  # nothing created, inside or outside
    assert not model._forward_pre_hooks  # nothing attached


def test_sub_directories_stay_inside_the_logdir(tmp_path):
    monitor = aelog.watch(MLPAE(), logdir=tmp_path, run_name="sweep/./lr3e-4/")
    monitor.close()
    assert monitor.run_name == "sweep/lr3e-4"
    (run,) = load_runs(str(tmp_path))
    assert run.name == "sweep/lr3e-4"


def test_an_empty_run_name_gets_the_default_one(tmp_path):
    monitor = aelog.watch(MLPAE(), logdir=tmp_path, run_name="")
    monitor.close()
    assert monitor.run_name and os.path.dirname(monitor.run_dir) == str(tmp_path)


def _train_watched(logdir, name, steps, seed):
    torch.manual_seed(seed)
    model = MLPAE()
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    monitor = aelog.watch(model, optimizer, logdir=logdir, run_name=name, log_every=1)
    train(model, optimizer, digits(), steps)
    monitor.close()
    return monitor


def test_a_second_run_with_the_same_name_gets_its_own_directory(tmp_path):
    first = _train_watched(tmp_path, "exp1", 5, seed=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        second = _train_watched(tmp_path, "exp1", 8, seed=1)
    messages = [str(w.message) for w in caught if issubclass(w.category, AelogWarning)]
    assert second.run_name == "exp1-2" and first.run_dir != second.run_dir
    assert messages == [f"aelog: run 'exp1' already exists in {tmp_path} (another process, "
                        "or an earlier run); this run is written as 'exp1-2'."]
    runs = {run.name: run for run in load_runs(str(tmp_path))}
    assert set(runs) == {"exp1", "exp1-2"}
    assert list(runs["exp1"].signal(fmt.RELATIVE_ERROR).steps) == [0, 1, 2, 3, 4, 5]
    assert list(runs["exp1-2"].signal(fmt.RELATIVE_ERROR).steps) == list(range(9))


def test_a_run_directory_of_an_older_version_is_not_written_into(tmp_path):
    first = _train_watched(tmp_path, "old", 3, seed=0)
    os.remove(os.path.join(first.run_dir, ".aelog-run"))  # written before claims existed
    with pytest.warns(AelogWarning, match="already exists"):
        second = _train_watched(tmp_path, "old", 3, seed=0)
    assert second.run_name == "old-2"


def test_tensorboards_own_files_in_the_directory_do_not_take_the_name(tmp_path):
    run_dir = tmp_path / "version_0"
    run_dir.mkdir()
    (run_dir / "events.out.tfevents.1.host.1").write_bytes(b"")  # Lightning's TB logger
    with warnings.catch_warnings():
        warnings.simplefilter("error", AelogWarning)
        monitor = _train_watched(tmp_path, "version_0", 2, seed=0)
    assert monitor.run_name == "version_0"


WRITER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {tests!r})
    import torch
    torch.set_num_threads(1)
    from sdk_fixtures import MLPAE, digits, train
    import aelog
    start = float(sys.argv[2])
    while time.time() < start:
        pass
    torch.manual_seed(int(sys.argv[1]))
    model = MLPAE()
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    monitor = aelog.watch(model, optimizer, logdir={logdir!r}, run_name="shared", log_every=1)
    train(model, optimizer, digits(), 30)
    monitor.close()
    print(monitor.run_name)
""")


def test_two_processes_started_at_once_with_one_run_name_write_two_runs(tmp_path):
    logdir = tmp_path / "logs"
    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(tests=os.path.dirname(__file__), logdir=str(logdir)))
    import time
    start = time.time() + 8  # both past their imports, then watch() in the same instant
    procs = [subprocess.Popen([sys.executable, str(script), str(seed), str(start)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for seed in (0, 1)]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs), [err for _, err in outputs]
    names = sorted(out.strip() for out, _ in outputs)
    assert names == ["shared", "shared-2"]
    for name in names:
        run_dir = logdir / name
        assert len([f for f in os.listdir(run_dir) if "tfevents" in f]) == 1
        run = load_run(str(run_dir), name)
        assert not run.problems
        assert list(run.signal(fmt.RELATIVE_ERROR).steps) == list(range(31))  # one run's steps
