"""The skipped-step counter costs a plain loop nothing between logging steps, and still
counts every skip of a loop that skips: one with a GradScaler, or one seen skipping."""

from __future__ import annotations

import torch
from loop_fixtures import TinyAE, batches, digits, mse, series

import aelog
from aelog.logfile import format as fmt


def _grad_hooks(model: torch.nn.Module) -> int:
    """Parameters autograd calls into Python for: a parameter hook, once added, stays
    installed even after its handle is removed (an empty dict left behind)."""
    return sum(p._post_accumulate_grad_hooks is not None for p in model.parameters())


def test_a_plain_loop_carries_no_gradient_hook_between_logging_steps(tmp_path):
    torch.manual_seed(0)
    model = TinyAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    hooks_at_quiet_steps = []
    with aelog.watch(model, optimizer, logdir=tmp_path, log_every=5, on_collapse=None) as monitor:
        for step, x in enumerate(batches(digits(), 12)):
            optimizer.zero_grad()
            out = model(x)
            if step % 5:  # a step that does not log, seen from inside its forward-backward
                hooks_at_quiet_steps.append(_grad_hooks(model))
                assert monitor._quiet
            mse(out, x).backward()
            optimizer.step()
    assert hooks_at_quiet_steps == [0] * 9
    assert [s for s, _ in series(monitor.run_data(), fmt.GRAD_NORM)] == [0, 5, 10]
    assert {v for _, v in series(monitor.run_data(), fmt.SKIPPED_STEPS)} == {0.0}


def test_grad_scaler_skips_between_logging_steps_are_counted(tmp_path):
    torch.manual_seed(5)
    model = TinyAE()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**8)
    skipped = []
    with aelog.watch(model, optimizer, logdir=tmp_path, log_every=6, on_collapse=None) as monitor:
        for step, x in enumerate(batches(digits(), 14)):
            optimizer.zero_grad()
            with torch.autocast("cpu", dtype=torch.float16):
                out = model(x)
            loss = mse(out, x) * (float("inf") if step in (2, 9) else 1.0)  # an overflow
            scaler.scale(loss).backward()
            scale = scaler.get_scale()
            scaler.step(optimizer)
            scaler.update()
            skipped.append(scaler.get_scale() < scale)
    assert [i for i, s in enumerate(skipped) if s] == [2, 9]  # neither a logging step
    run = monitor.run_data()
    # steps are optimizer steps: batches 0..13 minus the two skipped are steps 0..11
    # the second after the last logging step, counted at the end
    assert series(run, fmt.SKIPPED_STEPS) == [(0, 0.0), (6, 1.0), (12, 2.0)]
    assert monitor._skips.count == 2


def test_a_loop_seen_skipping_is_watched_at_every_step_after(tmp_path):
    """A NaN guard without a scaler: backward, then zero_grad without a step."""
    torch.manual_seed(1)
    model = TinyAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    skip_at = {0, 3, 7}  # batch 0 is a logging step's; 3 and 7 are not
    with aelog.watch(model, optimizer, logdir=tmp_path, log_every=100, on_collapse=None) as monitor:
        for index, x in enumerate(batches(digits(), 10)):
            optimizer.zero_grad()
            mse(model(x), x).backward()
            if index in skip_at:
                continue
            optimizer.step()
        optimizer.zero_grad()
        model(next(batches(digits(), 1)))  # the forward that sees the last skip
        assert monitor._skips.armed and monitor._skips.always  # for good since the first skip
    assert _grad_hooks(model) == 0  # ... on the model's forward and outputs, not parameters
    assert monitor._skips.count == 3
