"""Promise: a NaN/Inf is caught at the step it appears, wherever the cadence is, and the
verdict says when and where it came from; quiet steps still never wait on the device."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from sdk_fixtures import MLPAE, DictAE, TupleAE, digits

import aelog
from aelog.diagnosis.engine import diagnose_run
from aelog.logfile import format as fmt
from aelog.logfile.runs import load_runs
from aelog.sdk import nonfinite_watch
from aelog.sdk.live_alert import CollapseWarning
from aelog.sdk.nonfinite_watch import NonFiniteWatch


@pytest.fixture
def every_step(monkeypatch):
    """The tiny test model's steps are so cheap that the watch checks every k-th step only,
    to keep its share; tests that date a NaN to its step check them all (as on models
    whose steps take milliseconds; the budgeted stride has its own tests below)."""
    monkeypatch.setattr(nonfinite_watch, "WATCH_SHARE", 1e6)


def _train(tmp_path, steps, fault, fault_at, model=None):
    """A default-cadence run (no log_every): the fault lands between logging steps."""
    torch.manual_seed(0)
    model = model or MLPAE()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        monitor = _train_loop(tmp_path, model, steps, fault, fault_at)
    (run,) = load_runs(str(tmp_path))
    monitor.alerts = [str(w.message) for w in caught if issubclass(w.category, CollapseWarning)]
    return monitor, run


def _train_loop(tmp_path, model, steps, fault, fault_at):
    data = digits()
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    monitor = aelog.watch(model, optimizer, logdir=tmp_path, run_name="run")
    for step in range(steps):
        x = data[(step * 32) % 224:(step * 32) % 224 + 32]
        if fault == "inputs" and step == fault_at:
            x = x.clone()
            x[3, 5] = float("nan")
        if fault == "weights" and step == fault_at:
            with torch.no_grad():
                next(model.parameters()).view(-1)[0] = float("inf")
        out = model(x)
        out = out["x_hat"] if isinstance(out, dict) else out[0] if isinstance(out, tuple) else out
        loss = ((out - x) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    monitor.close()
    return monitor


def _origin(run):
    return [r for r in run.records if r.get("kind") == fmt.NONFINITE_RECORD]


@pytest.mark.usefixtures("every_step")
def test_nan_inputs_between_logging_steps_are_dated_and_blamed_on_the_data(tmp_path):
    monitor, run = _train(tmp_path, 300, "inputs", 151)
    logged = monitor.run_data().signal(fmt.RELATIVE_ERROR).steps
    assert 151 not in logged  # between logging steps: only the per-step watch saw it
    (origin,) = _origin(run)
    assert (origin["first_step"], origin["last_step"], origin["where"]) == (151, 151, "inputs")
    diagnosis = diagnose_run(run)
    assert diagnosis.status == "collapsed" and diagnosis.since_step == 151
    assert diagnosis.causes == []  # no training cause: lr_too_high and the rest are consequences
    assert any("came in with the training inputs at step 151" in f for f in diagnosis.symptom)
    (note,) = [n for n in diagnosis.notes if n.startswith("cause not among the 15")]
    assert "lr_too_high" in note and "torch.isfinite(x).all()" in note
    # the live warning says the same, once, and names no training cause
    assert len(monitor.alerts) == 1, monitor.alerts
    assert "collapsed: cause not among the 15: the training inputs held NaN/Inf at step 151" \
        in monitor.alerts[0]


@pytest.mark.usefixtures("every_step")
def test_an_inf_weight_is_dated_to_the_first_output_it_spoils_and_ranked_lr_too_high(tmp_path):
    _, run = _train(tmp_path, 300, "weights", 133)
    (origin,) = _origin(run)
    assert (origin["first_step"], origin["where"]) == (133, "outputs")
    assert origin["weights"] and origin["weights"][0] == "encoder.0"
    diagnosis = diagnose_run(run)
    assert diagnosis.status == "collapsed" and diagnosis.since_step == 133
    top = diagnosis.causes[0]
    assert top.id == "lr_too_high" and top.since_step == 133
    assert "NaN/Inf first came out of the model at step 133, on finite inputs" in top.evidence


@pytest.mark.usefixtures("every_step")
@pytest.mark.parametrize("model", [TupleAE, DictAE])
def test_outputs_in_tuples_and_dicts_are_watched(tmp_path, model):
    _, run = _train(tmp_path, 120, "weights", 47, model=model())
    (origin,) = _origin(run)
    assert (origin["first_step"], origin["where"]) == (47, "outputs")


def test_a_healthy_run_records_nothing_and_reads_the_device_only_at_logging_steps(
        tmp_path, monkeypatch):
    reads = []
    real = NonFiniteWatch.read
    monkeypatch.setattr(NonFiniteWatch, "read", lambda self: reads.append(1) or real(self))
    monitor, run = _train(tmp_path, 200, None, None)
    assert _origin(run) == []
    logged = len(monitor.run_data().signal(fmt.RELATIVE_ERROR))
    assert len(reads) == logged  # one per logging step and one at close, none between


def test_where_only_every_kth_step_is_checked_the_span_and_its_limit_are_said(
        tmp_path, monkeypatch):
    monkeypatch.setattr(nonfinite_watch, "WATCH_SHARE", 1e-6)  # every 64th step
    monitor, run = _train(tmp_path, 300, "weights", 250)
    assert monitor._nonfinite.every == nonfinite_watch.MAX_EVERY
    (origin,) = _origin(run)
    assert origin["where"] == "outputs" and 1 < origin["checked_every"] <= 64
    assert origin["first_step"] <= 250 <= origin["last_step"] < 250 + 64
    every = origin["checked_every"]
    top = diagnose_run(run).causes[0]
    assert top.id == "lr_too_high"
    assert any(f"inputs checked every {every} steps were finite" in e for e in top.evidence)


@pytest.mark.usefixtures("every_step")
def test_nan_after_the_last_logging_step_is_found_at_close(tmp_path):
    monitor, run = _train(tmp_path, 130, "inputs", 128)
    assert monitor.run_data().signal(fmt.RELATIVE_ERROR).steps[-2] < 128  # then the end
    (origin,) = _origin(run)
    assert (origin["first_step"], origin["where"]) == (128, "inputs")


@pytest.mark.usefixtures("every_step")
def test_long_gaps_share_slots_and_the_span_is_reported():
    watch = NonFiniteWatch()
    watch.plan(1000, 6000)  # 5,001 steps over 1,024 slots: 5 steps a slot
    for step in range(1000, 6001):
        value = float("nan") if step == 4003 else 1.0
        watch.outputs(step, torch.full((4, 3), value))
        watch.inputs(step, (torch.ones(4, 3),), {})
    found = watch.read()
    assert found == {"first_step": 4000, "last_step": 4004, "where": "outputs"}
    assert watch.read() is None  # read starts the buffer over


def test_integer_inputs_and_half_precision_sums_do_not_false_alarm():
    watch = NonFiniteWatch()
    watch.plan(0, 10)
    watch.inputs(0, (torch.arange(10),), {})  # token ids: nothing to check
    watch.outputs(0, torch.full((300, 300), 60000.0, dtype=torch.float16))  # sum > fp16 max
    assert watch.read() is None
    assert math.isfinite(float(torch.full((300, 300), 60000.0, dtype=torch.float16).sum(
        dtype=torch.float32)))


class FakeClock:
    """Each check "takes" 9 us; the test sets when each step starts."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        now, self.t = self.t, self.t + 9e-6
        return now


def test_output_checks_keep_to_their_budget_and_date_to_the_steps_since_the_last_one(
        monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(nonfinite_watch, "_clock", clock)
    watch = NonFiniteWatch()
    watch.plan(0, 1000)
    checked = []
    for step in range(200):
        clock.t = step * 400e-6  # 400 us steps: 9 us is 2.25% of one
        value = float("nan") if step >= 123 else 1.0
        if watch.due(step):
            watch.outputs(step, torch.full((3,), value))
            checked.append(step)
    assert watch.every == 5  # 0.5% of a step: one step in five, from the first review on
    assert checked[:32] == list(range(32)) and checked[32:40] == list(range(35, 75, 5))
    assert watch.read() == {"first_step": 121, "last_step": 125, "where": "outputs",
                            "checked_every": 5}
    for step in range(1000, 3000):
        clock.t = 1.0 + step * 1e-6  # 1 us steps: as sparse as it gets
        if watch.due(step):
            watch.outputs(step, torch.ones(3))
    assert watch.every == nonfinite_watch.MAX_EVERY


def test_the_step_the_buffer_is_read_at_is_always_checked():
    watch = NonFiniteWatch()
    watch.every = 7
    watch.plan(50, 60)
    assert watch.next_check(49) == 56 and watch.next_check(56) == 60
    watch.outputs(56, torch.tensor([1.0]))
    watch.outputs(60, torch.tensor([float("inf")]))  # not a multiple of 7: the read step
    assert watch.read() == {"first_step": 57, "last_step": 60, "where": "outputs",
                            "checked_every": 4}


def test_a_loop_that_skips_every_step_on_a_nan_loss_is_judged_on_its_first_forward(tmp_path):
    """``if not torch.isfinite(loss): continue`` around weights initialised 1,000x too large:
    the optimizer never steps. The run is still judged, on what its forwards showed, and
    no step size is blamed for what came before any update."""
    torch.manual_seed(0)
    model = MLPAE()
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() > 1:
                parameter.mul_(1000.0)
        model.decoder[-1].weight.fill_(float("inf"))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    data = digits()
    with aelog.watch(model, optimizer, logdir=tmp_path, on_collapse=None) as monitor:
        for step in range(50):
            x = data[(step * 32) % 224:][:32]
            loss = ((model(x) - x) ** 2).mean()
            if not torch.isfinite(loss):
                continue
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    run = monitor.run_data()
    assert run.trained["steps"] == 0
    diagnosis = diagnose_run(run)
    assert diagnosis.status == "collapsed" and diagnosis.since_step == 0
    assert any(n.startswith("the optimizer never took a step") for n in diagnosis.notes)
    assert "lr_too_high" not in [c.id for c in diagnosis.causes]
    assert diagnosis.causes and diagnosis.causes[0].id == "init_too_large"
