"""Promise: every run is measured when it ends (close, ``with`` exit, interpreter exit,
Ctrl-C), on the last training batch, and the measurement leaves training as it was."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings

import pytest
import torch
from sdk_fixtures import MLPAE, VAE, ConvAE, digits, final_state, train

import aelog
from aelog.logfile import format as fmt
from aelog.logfile.runs import load_runs

CASES = {
    "mlp_dropout": (lambda: MLPAE(dropout=0.3), lambda: digits()),
    "conv_batchnorm": (ConvAE, lambda: digits().reshape(-1, 1, 8, 8)),
    "vae_sampling": (VAE, lambda: digits()),
}


def _train_close_and_go_on(make_model, data, watch_dir=None):
    """30 steps, close (the end is measured there), then 10 more steps: a notebook user
    who closes the monitor and keeps training the same model."""
    torch.manual_seed(1234)
    model = make_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3, weight_decay=1e-3)
    monitor = None
    if watch_dir is not None:  # steps 0, 4, ..., 28 log: step 29, the last, does not
        monitor = aelog.watch(model, optimizer, logdir=watch_dir, run_name="r",
                              on_collapse=None, log_every=4)
    train(model, optimizer, data, 30)
    model.eval()  # the user switches to evaluation before closing
    before_close = final_state(model)
    if monitor is not None:
        monitor.close()
    after_close = final_state(model)
    assert not model.training and not any(m.training for m in model.modules())
    model.train()
    train(model, optimizer, data, 10)
    return before_close, after_close, final_state(model), torch.get_rng_state(), monitor


@pytest.mark.parametrize("case", list(CASES))
def test_the_end_is_measured_and_training_goes_on_bit_identical(tmp_path, case):
    make_model, make_data = CASES[case]
    data = make_data()
    _, _, plain, plain_rng, _ = _train_close_and_go_on(make_model, data)
    before, after, watched, watched_rng, monitor = _train_close_and_go_on(
        make_model, data, tmp_path)
    for name in before:  # parameters, BatchNorm statistics and its batch count
        assert torch.equal(before[name], after[name]), name
    for name in plain:
        assert torch.equal(plain[name], watched[name]), name
    assert torch.equal(plain_rng, watched_rng)  # dropout / sampling drew from a forked RNG
    (run,) = load_runs(str(tmp_path))
    assert run.trained["final_step"] == run.trained["steps"] == 30
    steps = run.signal(fmt.RELATIVE_ERROR).steps.tolist()
    assert steps[-2] < 29 and steps[-1] == 30  # the last logging step came before the end
    assert run.signal(fmt.CODE_EFFECTIVE_RANK).steps[-1] == 30
    assert run.signal(fmt.IDENTITY_RATIO).steps[-1] == 30  # the held probe batch, too


def test_the_end_is_measured_on_the_last_training_batch(tmp_path):
    torch.manual_seed(0)
    model = MLPAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    data = digits(512)
    start = (54 * 64) % (512 - 64 + 1)  # where train() takes its 55th and last batch
    last = data[start : start + 64]
    with aelog.watch(model, optimizer, logdir=tmp_path, on_collapse=None) as monitor:
        train(model, optimizer, data, 55)
        assert monitor.step == 55 and 54 not in monitor.run_data().signal(fmt.INPUT_STD).steps
    run = monitor.run_data()
    assert run.signal(fmt.INPUT_STD).steps[-1] == 55
    assert run.signal(fmt.INPUT_STD).values[-1] == pytest.approx(float(last.std()), rel=1e-5)
    with torch.no_grad():
        error = ((model(last) - last) ** 2).sum() / ((last - last.mean(0)) ** 2).sum()
    assert run.signal(fmt.RELATIVE_ERROR).values[-1] == pytest.approx(float(error), rel=1e-4)
    assert monitor._last_kwargs is None  # the batch is not held after close


def test_a_run_that_never_trained_has_no_end_measurement(tmp_path):
    model = MLPAE()
    with aelog.watch(model, torch.optim.Adam(model.parameters()), logdir=tmp_path,
                     on_collapse=None) as monitor:
        pass
    assert monitor.run_data().signal(fmt.RELATIVE_ERROR) is None


SCRIPT = """
import sys, torch, aelog
sys.path.insert(0, {fixtures!r})
from sdk_fixtures import MLPAE, digits
torch.manual_seed(0)
model = MLPAE()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
aelog.watch(model, optimizer, logdir={logdir!r}, run_name="r", on_collapse=None)
data = digits(256)
for step in range({steps}):
    if step == {interrupt_at}:
        raise KeyboardInterrupt  # Ctrl-C, reaching the top of the script
    x = data[(step * 64) % 192:(step * 64) % 192 + 64]
    optimizer.zero_grad()
    ((model(x) - x) ** 2).mean().backward()
    optimizer.step()
"""


@pytest.mark.parametrize(("interrupt_at", "trained"), [(None, 150), (137, 137)],
                         ids=["interpreter_exit", "keyboard_interrupt"])
def test_the_end_is_measured_at_exit_without_close(tmp_path, interrupt_at, trained):
    script = SCRIPT.format(fixtures=os.path.dirname(__file__), logdir=str(tmp_path),
                           steps=150, interrupt_at=-1 if interrupt_at is None else interrupt_at)
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True,
                          text=True, timeout=120)
    if interrupt_at is None:
        assert done.returncode == 0, done.stderr
    else:
        assert done.returncode != 0 and "KeyboardInterrupt" in done.stderr
    assert "aelog" not in done.stderr.replace("aelog.watch", "")  # no warning of ours
    (run,) = load_runs(str(tmp_path))
    assert run.trained["steps"] == run.trained["final_step"] == trained
    assert run.signal(fmt.OUTPUT_VARIANCE_RATIO).steps[-1] == trained


def test_a_keyboard_interrupt_inside_with_is_the_users_and_the_end_is_measured(tmp_path):
    torch.manual_seed(0)
    model = MLPAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    data = digits()

    def interrupted(out, x):
        if monitor.step == 41:
            raise KeyboardInterrupt
        return ((out - x) ** 2).mean()

    with pytest.raises(KeyboardInterrupt):
        with aelog.watch(model, optimizer, logdir=tmp_path, on_collapse=None) as monitor:
            train(model, optimizer, data, 100, loss_fn=interrupted)
    run = monitor.run_data()
    assert run.trained["final_step"] == 41  # 41 steps trained; the 42nd never stepped
    assert run.signal(fmt.RELATIVE_ERROR).steps[-1] == 41
    assert not model._forward_pre_hooks and not any(m._forward_hooks for m in model.modules())


def test_an_error_in_the_users_forward_is_not_replayed_at_close(tmp_path):
    """The model's forward raised: the end's forward would only raise it again. The user's
    exception comes out unchanged, with no warning of ours."""
    class Breaks(MLPAE):
        def forward(self, x):
            if self.broken:
                raise ValueError("the user's own bug")
            return super().forward(x)

    torch.manual_seed(0)
    model = Breaks()
    model.broken = False
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ValueError, match="the user's own bug"):
            with aelog.watch(model, optimizer, logdir=tmp_path, on_collapse=None) as monitor:
                train(model, optimizer, digits(), 30)
                model.broken = True
                train(model, optimizer, digits(), 1)
    assert not [w for w in caught if "aelog" in str(w.message)]
    assert monitor.closed and "final_step" not in monitor.run_data().trained
