"""on_collapse: the live console warning, "raise", a callback, and None."""

from __future__ import annotations

import warnings

import pytest
import torch
from sdk_fixtures import MLPAE, digits, train

import aelog
from aelog.diagnosis.types import CauseFinding, Diagnosis
from aelog.logfile import format as fmt
from aelog.sdk import live_alert
from aelog.sdk.live_alert import CollapseDetected, CollapseWarning
from aelog.sdk.probe_guard import AelogWarning


class FakeEngine:
    """Reads the logged series like the real engine; collapsed once the error stays high."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, run):
        error = run.signal(fmt.RELATIVE_ERROR)
        self.calls.append(int(error.steps[-1]))
        cause = CauseFinding("lr_too_low", 0.8, int(error.steps[0]),
                             [f"relative error {error.values[-1]:.2f}"], "raise the lr 10x")
        return Diagnosis(run.name, "collapsed", int(error.steps[0]), [cause])


@pytest.fixture
def engine(monkeypatch):
    fake = FakeEngine()
    monkeypatch.setattr(live_alert, "load_engine", lambda: fake)
    return fake


def _run(tmp_path, on_collapse, steps=40):
    torch.manual_seed(0)
    model = MLPAE()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-6)
    with aelog.watch(model, optimizer, logdir=tmp_path, log_every=1, on_collapse=on_collapse):
        train(model, optimizer, digits(128), steps)


def test_warn_once_per_new_cause_with_its_fix(tmp_path, engine):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _run(tmp_path, "warn")
    messages = [str(w.message) for w in caught if issubclass(w.category, CollapseWarning)]
    assert len(messages) == 1
    assert "lr_too_low" in messages[0] and "raise the lr 10x" in messages[0]
    assert "relative error" in messages[0]
    # checked every 5th logging step, from the end of the 20-step warm-up
    assert engine.calls == [24, 29, 34, 39]


def test_sparse_logging_is_diagnosed_at_most_500_steps_apart(tmp_path, engine):
    torch.manual_seed(0)
    model = MLPAE()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CollapseWarning)
        with aelog.watch(model, optimizer, logdir=tmp_path, log_every=250):
            train(model, optimizer, digits(64), 3000)
    # logging steps 250 apart: every 5th (1000, 2250) and none more than 500 steps after
    # the last check (from the warm-up's end, step 20)
    assert engine.calls == [750, 1000, 1500, 2000, 2250, 2750]


def test_raise_stops_training_from_the_step(tmp_path, engine):
    with pytest.raises(CollapseDetected, match="collapsed at step 24.*lr_too_low"):
        _run(tmp_path, "raise")


def test_callable_receives_the_diagnosis(tmp_path, engine):
    seen = []
    _run(tmp_path, seen.append)
    assert len(seen) == 1 and seen[0].causes[0].id == "lr_too_low"


def test_none_never_diagnoses(tmp_path, engine):
    _run(tmp_path, None)
    assert engine.calls == []


def test_invalid_on_collapse_fails_at_watch(tmp_path):
    with pytest.raises(ValueError, match="on_collapse"):
        aelog.watch(MLPAE(), logdir=tmp_path, on_collapse="shout")


def test_real_engine_runs_live_without_breaking_training(tmp_path):
    pytest.importorskip("aelog.diagnosis.engine")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _run(tmp_path, "warn", steps=30)
    assert not [w for w in caught if issubclass(w.category, AelogWarning)]


def _alert_on(action, diagnosis: Diagnosis, records: list[dict]):
    """An alert whose engine answers ``diagnosis`` for a run holding ``records``."""
    from aelog.logfile.run_data import RunData

    alert = live_alert.CollapseAlert(action, engine=lambda run: diagnosis)
    return alert, lambda step: alert.act(alert.diagnose(RunData("r", records=records)), step)


def test_a_collapse_no_cause_names_is_warned_once_and_raised_with_its_note():
    """NaN/Inf acts at once: a record says where it came in."""
    note = "cause not among the 15: the training inputs held NaN/Inf at step 7. Fix: check"
    diagnosis = Diagnosis("r", "collapsed", 7, [], ["NaN/Inf"], ["not checked: x", note])
    nan = [{"step": 7, "kind": fmt.NONFINITE_RECORD, "where": "inputs"}]
    _, act = _alert_on("warn", diagnosis, nan)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        act(9)
        act(12)  # the same verdict again: no second warning
    assert [str(w.message) for w in caught] == [f"aelog: step 9, collapsed: {note}"]
    with pytest.raises(CollapseDetected, match="cause not among the 15"):
        _alert_on("raise", diagnosis, nan)[1](9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _alert_on("warn", Diagnosis("r", "at_risk", 7, [], [], [note]), nan)[1](9)


def test_a_collapse_no_cause_explains_acts_only_once_it_lasts():
    """Outputs at the mean early in a sound run are no alarm: a collapse without a cause
    (and without NaN) acts once still there at 1.5x the step it was first seen at."""
    note = "cause not among the 15 as far as measured; ruled out on their signals: x"
    collapsed = Diagnosis("r", "collapsed", 0, [], ["outputs keep 4%"], [note])
    recovered = Diagnosis("r", "healthy", None, [], [], [])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        alert, act = _alert_on("warn", collapsed, [])
        act(100)
        act(140)  # 1.4x: not yet
        alert.engine = lambda run: recovered
        act(160)  # the outputs spread: it never lasted
        alert.engine = lambda run: collapsed
        act(200)  # seen anew from step 200
        act(290)
        assert caught == []
        act(300)
    assert [str(w.message) for w in caught] == [f"aelog: step 300, collapsed: {note}"]
    raising, act = _alert_on("raise", collapsed, [])
    act(100)
    with pytest.raises(CollapseDetected):
        act(150)
    named = Diagnosis("r", "collapsed", 0, [CauseFinding("lr_too_low", 0.8, 0, ["e"], "f")])
    with pytest.raises(CollapseDetected, match="lr_too_low"):  # a named cause acts at once
        _alert_on("raise", named, [])[1](100)


def test_a_sound_run_that_starts_at_the_mean_prints_no_alarm(tmp_path):
    """A GELU autoencoder under AdamW keeps 4% of the targets' variance at step 103 (the
    engine calls that moment collapsed, no cause) and 50% by step 400: no console alarm."""
    pytest.importorskip("aelog.diagnosis.engine")
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(64, 32), torch.nn.GELU(), torch.nn.Linear(32, 8),
        torch.nn.Linear(8, 32), torch.nn.GELU(), torch.nn.Linear(32, 64))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    data = digits(1797)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with aelog.watch(model, optimizer, logdir=tmp_path, run_name="slow") as monitor:
            for _ in range(400):
                x = data[torch.randint(0, len(data), (64,))]
                optimizer.zero_grad()
                torch.nn.functional.mse_loss(model(x), x).backward()
                optimizer.step()
    run = monitor.run_data()
    spread = run.signal(fmt.OUTPUT_VARIANCE_RATIO)
    early = spread.values[(spread.steps >= 80) & (spread.steps <= 130)]
    assert len(early) and early.max() < 0.1 < spread.values[-1]
    assert [str(w.message) for w in caught if issubclass(w.category, CollapseWarning)] == []


def test_a_collapse_seen_at_headline_points_is_diagnosed_as_it_happens(tmp_path, monkeypatch):
    """Points the budget cannot pay for in full measure the headline alone; one that shows
    outputs near the mean runs the real engine, so the warning comes while training, not at
    close. Here every point after the dense start is headline only (as on a ~1 ms step)."""
    from aelog.sdk.cadence import Cadence

    real = Cadence._full_affordable
    monkeypatch.setattr(Cadence, "_full_affordable", lambda self, step, at, now: (
        at < self.early_steps and real(self, step, at, now)))
    torch.manual_seed(0)
    model = MLPAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    data = digits(256)
    caught_at: list[int] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        monitor = aelog.watch(model, optimizer, logdir=tmp_path, on_collapse="warn")
        for step in range(600):
            if step == 200:  # the decoder's last layer zeroed: every output is the same
                with torch.no_grad():
                    model.decoder[-1].weight.zero_()
                    model.decoder[-1].weight.requires_grad_(False)
            x = data[(step * 64) % 256:(step * 64) % 256 + 64]
            optimizer.zero_grad()
            ((model(x) - x) ** 2).mean().backward()
            optimizer.step()
            if not caught_at and any(issubclass(w.category, CollapseWarning) for w in caught):
                caught_at.append(step)
        full = monitor.run_data().signal(fmt.LR).steps.tolist()
        monitor.close()
    assert [s for s in full if s >= 100] == []  # the points since were headline only
    assert monitor.cadence.headline_only > 0
    assert caught_at and 200 < caught_at[0] < 600  # while training, after the collapse
