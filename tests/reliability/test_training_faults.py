"""Training side: faults injected into a real training loop. In every case the loop goes
on (or stops by the user's own interrupt), at most one aelog warning is printed, and what
was logged before the fault is still readable from disk."""

from __future__ import annotations

import errno
import os
import shutil
import warnings

import pytest
import torch

import aelog
from aelog.diagnosis.engine import diagnose_run
from aelog.diagnosis.types import STATUSES
from aelog.logfile import event_writer
from aelog.logfile import format as fmt
from aelog.logfile.runs import load_runs
from aelog.probes import symptom as symptom_probe
from aelog.sdk.probe_guard import AelogWarning

from .training import TinyAE, digits, train

STEPS = 12
FAULT_AT = 6


class FaultyOS:
    """``os`` for the event writer, whose ``write`` fails once armed (optionally after
    writing part of the record, as a filling disk does)."""

    def __init__(self, error_number: int, partial: bool = False) -> None:
        self.armed = False
        self.error_number = error_number
        self.partial = partial

    def __getattr__(self, name: str):
        return getattr(os, name)

    def write(self, fd: int, data) -> int:
        if not self.armed:
            return os.write(fd, data)
        if self.partial and len(data) > 8:
            self.partial = False
            return os.write(fd, bytes(data[: len(data) // 2]))
        raise OSError(self.error_number, os.strerror(self.error_number))


def _run(tmp_path, inject, on_collapse=None, model=None):
    """Train STEPS steps with a logging step each; ``inject(step, x, monitor)`` at every step."""
    torch.manual_seed(0)
    model = model or TinyAE()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        monitor = aelog.watch(model, optimizer, logdir=tmp_path, run_name="run", log_every=1,
                              on_collapse=on_collapse)
        steps = train(model, optimizer, digits(), STEPS, lambda s, x: inject(s, x, monitor))
        monitor.close()
    messages = [str(w.message) for w in caught if issubclass(w.category, AelogWarning)]
    return monitor, steps, messages


def _assert_readable_before_fault(tmp_path):
    (run,) = load_runs(str(tmp_path))
    series = run.signal(fmt.INPUT_STD)
    assert series is not None and list(series.steps[:FAULT_AT]) == list(range(FAULT_AT))
    assert diagnose_run(run).status in STATUSES
    return run


def test_a_raising_probe(tmp_path, monkeypatch):
    real = symptom_probe.symptom_stats

    def symptom_stats(*args, **kwargs):
        if monitor_step[0] >= FAULT_AT:
            raise RuntimeError("probe bug")
        return real(*args, **kwargs)

    monitor_step = [0]
    monkeypatch.setattr(symptom_probe, "symptom_stats", symptom_stats)

    def inject(step, x, monitor):
        monitor_step[0] = step
        return x

    monitor, steps, messages = _run(tmp_path, inject)
    assert steps == STEPS and len(messages) == 1 and "symptom probe failed" in messages[0]
    run = _assert_readable_before_fault(tmp_path)
    assert len(run.signal(fmt.RELATIVE_ERROR)) == FAULT_AT
    assert len(run.signal(fmt.INPUT_STD)) == STEPS + 1  # and the end, measured at close


@pytest.mark.parametrize("where", ["inputs", "outputs", "gradients", "weights"])
@pytest.mark.parametrize("value", [float("nan"), float("inf")], ids=["nan", "inf"])
def test_non_finite_values(tmp_path, where, value):
    model = TinyAE()
    if where == "outputs":
        model.decoder[2].register_forward_hook(
            lambda m, a, out: out.masked_fill(torch.zeros_like(out, dtype=torch.bool)
                                              .index_fill_(1, torch.tensor([0]), hit[0]), value))
    hit = [False]

    def inject(step, x, monitor):
        hit[0] = step >= FAULT_AT
        if step == FAULT_AT and where == "inputs":
            x = x.clone()
            x[0, 0] = value
        if step == FAULT_AT and where == "gradients":
            model.encoder[0].weight.register_hook(lambda grad: grad * value)
        if step == FAULT_AT and where == "weights":
            with torch.no_grad():
                model.encoder[0].weight[0, 0] = value
        return x

    monitor, steps, messages = _run(tmp_path, inject, on_collapse="warn", model=model)
    assert steps == STEPS and messages == []
    run = _assert_readable_before_fault(tmp_path)
    counted = [run.signal(name) for name in (fmt.NONFINITE_OUTPUT_FRACTION,
                                             fmt.NONFINITE_GRAD_FRACTION,
                                             fmt.NONFINITE_WEIGHT_FRACTION)]
    assert all(series is not None for series in counted)
    assert all(series.values[0] == 0 for series in counted)
    assert any(series.values[-1] > 0 for series in counted), where
    assert len(run.signal(fmt.INPUT_STD)) == STEPS + 1  # and the end, measured at close


class Reconstruction:
    def __init__(self, tensor):
        self.tensor = tensor


class SometimesOddAE(TinyAE):
    odd = False

    def forward(self, x):
        out = super().forward(x)
        return Reconstruction(out) if self.odd else out


def test_an_output_of_an_unexpected_type(tmp_path):
    model = SometimesOddAE()

    def loss_of(out, x):
        return ((getattr(out, "tensor", out) - x) ** 2).mean()

    torch.manual_seed(0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    data = digits()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with aelog.watch(model, optimizer, logdir=tmp_path, run_name="run", log_every=1,
                         on_collapse=None):
            for step in range(STEPS):
                model.odd = step >= FAULT_AT
                x = data[step * 8 : step * 8 + 32]
                optimizer.zero_grad()
                loss_of(model(x), x).backward()
                optimizer.step()
    messages = [str(w.message) for w in caught if issubclass(w.category, AelogWarning)]
    assert len(messages) == 1 and "output probe failed" in messages[0]
    run = _assert_readable_before_fault(tmp_path)
    assert len(run.signal(fmt.RELATIVE_ERROR)) == FAULT_AT
    assert len(run.signal(fmt.GRAD_NORM)) == STEPS


def test_the_logdir_deleted_mid_run(tmp_path):
    def inject(step, x, monitor):
        if step == FAULT_AT:
            shutil.rmtree(monitor.run_dir)
        return x

    monitor, steps, messages = _run(tmp_path, inject)
    assert steps == STEPS
    assert len(messages) == 1 and "deleted" in messages[0] and "training goes on" in messages[0]
    assert len(monitor.run_data().signal(fmt.INPUT_STD)) == STEPS + 1  # all kept in memory


def test_the_logdir_made_read_only_mid_run(tmp_path):
    def inject(step, x, monitor):
        if step == FAULT_AT:
            os.chmod(monitor._log.path, 0o444)
            os.chmod(monitor.run_dir, 0o555)
        return x

    try:
        monitor, steps, messages = _run(tmp_path, inject)
    finally:
        os.chmod(tmp_path / "run", 0o755)
    assert steps == STEPS and messages == []  # the open file stays writable
    run = _assert_readable_before_fault(tmp_path)
    assert len(run.signal(fmt.INPUT_STD)) == STEPS + 1  # and the end, measured at close


@pytest.mark.parametrize("error_number, partial", [
    (errno.ENOSPC, False), (errno.ENOSPC, True), (errno.EROFS, False), (errno.EIO, True),
], ids=["disk_full", "disk_full_mid_record", "read_only_filesystem", "io_error_mid_record"])
def test_the_writer_fails(tmp_path, monkeypatch, error_number, partial):
    faulty = FaultyOS(error_number, partial)
    monkeypatch.setattr(event_writer, "os", faulty)

    def inject(step, x, monitor):
        faulty.armed = step >= FAULT_AT
        return x

    monitor, steps, messages = _run(tmp_path, inject)
    assert steps == STEPS and len(messages) == 1
    assert os.strerror(error_number) in messages[0] and "training goes on" in messages[0]
    run = _assert_readable_before_fault(tmp_path)
    assert len(run.signal(fmt.INPUT_STD)) == FAULT_AT
    assert bool(run.problems) == partial  # a torn last record is reported, not fatal
    assert len(monitor.run_data().signal(fmt.INPUT_STD)) == STEPS + 1


def test_keyboard_interrupt_during_a_logging_step(tmp_path, monkeypatch):
    real = symptom_probe.symptom_stats
    interrupt = [False]

    def symptom_stats(*args, **kwargs):
        if interrupt[0]:
            interrupt[0] = False
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(symptom_probe, "symptom_stats", symptom_stats)
    torch.manual_seed(0)
    model = TinyAE()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    data = digits()
    hooks_before = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        monitor = aelog.watch(model, optimizer, logdir=tmp_path, run_name="run", log_every=1,
                              on_collapse=None)
        hooks_before = len(model._forward_pre_hooks)

        def inject(step, x):
            interrupt[0] = step == FAULT_AT
            return x

        with pytest.raises(KeyboardInterrupt):  # the user's Ctrl-C reaches the user
            train(model, optimizer, data, STEPS, inject)
        on_disk = load_runs(str(tmp_path))[0]
        assert list(on_disk.signal(fmt.INPUT_STD).steps) == list(range(FAULT_AT))
        # a notebook user interrupts a cell and runs it again: logging carries on
        train(model, optimizer, data, STEPS)
        monitor.close()
    assert [w for w in caught if issubclass(w.category, AelogWarning)] == []
    assert len(model._forward_pre_hooks) == hooks_before - 1  # detached at close, no leftovers
    run = _assert_readable_before_fault(tmp_path)
    assert run.signal(fmt.INPUT_STD).steps[-1] == FAULT_AT + STEPS  # counting went on; the end


def test_non_finite_weights_are_named_by_the_live_warning(tmp_path):
    from aelog.sdk.live_alert import CollapseWarning

    torch.manual_seed(0)
    model = TinyAE()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)

    def inject(step, x):
        if step == FAULT_AT:
            with torch.no_grad():
                model.encoder[0].weight[0, 0] = float("nan")
        return x

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with aelog.watch(model, optimizer, logdir=tmp_path, run_name="run", log_every=1):
            assert train(model, optimizer, digits(), 30, inject) == 30
    alerts = [str(w.message) for w in caught if issubclass(w.category, CollapseWarning)]
    assert alerts and "lr_too_high" in alerts[0]
    assert "NaN/Inf first came out of the model at step 6, on finite inputs" in alerts[0]
    assert "encoder.0" in alerts[0]
