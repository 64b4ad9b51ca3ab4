"""Faults from real filesystems, not a patched ``os``: a disk that fills up mid-run (a
64 KB tmpfs) and a logdir on a read-only mount. Root in CI writes anywhere, so file
permissions prove nothing here; mounts do. Skipped where mounting is not allowed."""

from __future__ import annotations

import os
import subprocess
import warnings

import pytest
import torch

import aelog
from aelog.diagnosis.engine import diagnose_run
from aelog.logfile import format as fmt
from aelog.logfile.runs import load_runs
from aelog.sdk.probe_guard import AelogWarning

from .training import TinyAE, digits, train


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@pytest.fixture
def small_disk(tmp_path):
    point = tmp_path / "small"
    point.mkdir()
    if not _mount("-t", "tmpfs", "-o", "size=64k", "tmpfs", str(point)):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield point
    subprocess.run(["umount", "-l", str(point)], check=True)


@pytest.fixture
def read_only_dir(tmp_path):
    source, point = tmp_path / "source", tmp_path / "read_only"
    source.mkdir()
    point.mkdir()
    if not (_mount("--bind", str(source), str(point))
            and _mount("-o", "remount,ro,bind", str(point))):
        subprocess.run(["umount", str(point)], capture_output=True)
        pytest.skip("cannot make a read-only bind mount here (needs root)")
    yield point
    subprocess.run(["umount", "-l", str(point)], check=True)


def test_a_disk_filling_up_mid_run_costs_the_file_not_the_training(small_disk):
    torch.manual_seed(0)
    model = TinyAE()
    reference = TinyAE()
    reference.load_state_dict(model.state_dict())
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        monitor = aelog.watch(model, optimizer, logdir=small_disk, run_name="run", log_every=1)
        steps = train(model, optimizer, digits(), 200)
        monitor.close()
    assert steps == 200
    messages = [str(w.message) for w in caught if issubclass(w.category, AelogWarning)]
    assert len(messages) == 1 and "No space left on device" in messages[0], messages
    (run,) = load_runs(str(small_disk))  # what reached the disk reads back
    on_disk = run.signal(fmt.RELATIVE_ERROR)
    assert 5 < len(on_disk) < 200 and list(on_disk.steps) == list(range(len(on_disk)))
    assert diagnose_run(run).status in ("healthy", "at_risk", "collapsed")
    assert len(monitor.run_data().signal(fmt.RELATIVE_ERROR)) == 201  # memory kept it all


def test_a_read_only_logdir_fails_at_watch_before_training(read_only_dir):
    model = TinyAE()
    with pytest.raises(ValueError, match="cannot create the run directory") as error:
        aelog.watch(model, torch.optim.Adam(model.parameters()), logdir=read_only_dir / "runs")
    assert "Read-only file system" in str(error.value) and "logdir=" in str(error.value)
    assert not model._forward_pre_hooks and not os.listdir(read_only_dir)
