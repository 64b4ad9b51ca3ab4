"""Loops whose step is not one forward, one backward, one optimizer: gradient accumulation,
separate optimizers, learning-rate schedules, gradient clipping, closures."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from loop_fixtures import TinyAE, assert_same_state, batches, digits, grad_norm, mse, series, state
from torch.profiler import ProfilerActivity, profile

import aelog
from aelog.logfile import format as fmt


def _accumulating_run(watch_dir=None, micro_batches: int = 4, steps: int = 6):
    torch.manual_seed(7)
    model = TinyAE()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=1e-2)
    monitor = None
    if watch_dir is not None:
        monitor = aelog.watch(model, optimizer, logdir=watch_dir, run_name="accumulate",
                              log_every=1, on_collapse=None)
    norms, first_inputs = [], []
    data = iter(batches(digits(), steps * micro_batches, size=16))
    for _ in range(steps):
        optimizer.zero_grad()
        for micro in range(micro_batches):
            x = next(data)
            if micro == 0:
                first_inputs.append(x)
            (mse(model(x), x) / micro_batches).backward()
        norms.append(grad_norm(model))
        optimizer.step()
    if monitor is not None:
        monitor.close()
    return state(model), monitor, norms, first_inputs


def test_gradient_accumulation_is_one_step_with_the_accumulated_gradient(tmp_path):
    plain, _, _, _ = _accumulating_run()
    watched, monitor, norms, first_inputs = _accumulating_run(tmp_path)
    assert_same_state(plain, watched)
    run = monitor.run_data()
    assert [s for s, _ in series(run, fmt.GRAD_NORM)] == list(range(6))
    assert [v for _, v in series(run, fmt.GRAD_NORM)] == pytest.approx(norms, rel=1e-5)
    assert [v for _, v in series(run, fmt.SKIPPED_STEPS)] == [0.0] * 7  # not mistaken for skips
    assert {v for _, v in series(run, fmt.GRAD_CLIPPED)} == {0.0}
    # forward signals describe the step's first micro-batch, measured once per step
    # (the last point is the end, measured at close on the last micro-batch)
    stds = [v for _, v in series(run, fmt.INPUT_STD)][:-1]
    assert stds == pytest.approx([float(x.std()) for x in first_inputs], rel=1e-4)
    assert run.metadata["config"]["batch_size"] == 16


def _two_optimizer_run(watch_dir=None, steps: int = 5):
    torch.manual_seed(11)
    model = TinyAE()
    encoder_opt = torch.optim.Adam(model.encoder.parameters(), lr=1e-2)
    decoder_opt = torch.optim.SGD(model.decoder.parameters(), lr=0.1)
    monitor = None
    if watch_dir is not None:
        monitor = aelog.watch(model, [encoder_opt, decoder_opt], logdir=watch_dir,
                              run_name="two", log_every=1, on_collapse=None)
    ratios = []
    for x in batches(digits(), steps):
        encoder_opt.zero_grad()
        decoder_opt.zero_grad()
        mse(model(x), x).backward()
        before = [p.detach().clone() for p in model.parameters()]
        encoder_opt.step()
        decoder_opt.step()
        moved = sum(float((p.detach() - b).pow(2).sum())
                    for p, b in zip(model.parameters(), before, strict=True))
        ratios.append((moved / sum(float(b.pow(2).sum()) for b in before)) ** 0.5)
    if monitor is not None:
        monitor.close()
    return state(model), monitor, ratios


def test_separate_encoder_and_decoder_optimizers_make_one_step(tmp_path):
    plain, _, _ = _two_optimizer_run()
    watched, monitor, ratios = _two_optimizer_run(tmp_path)
    assert_same_state(plain, watched)
    run = monitor.run_data()
    assert [s for s, _ in series(run, fmt.UPDATE_RATIO)] == list(range(5))
    assert [v for _, v in series(run, fmt.UPDATE_RATIO)] == pytest.approx(ratios, rel=1e-4)
    assert run.layer_signal("encoder.0", fmt.LAYER_UPDATE_RATIO).values.min() > 0
    assert run.layer_signal("decoder.2", fmt.LAYER_UPDATE_RATIO).values.min() > 0
    assert max(v for _, v in series(run, fmt.FROZEN_FRACTION)) == 0.0
    assert run.metadata["optimizer"]["optimizers"] == ["Adam", "SGD"]
    model = run.metadata["model"]
    assert model["parameters_in_optimizer"] == model["parameters_trainable"]


@pytest.mark.parametrize("order", ["scheduler_after_step", "warmup_lambda"])
def test_the_logged_learning_rate_is_the_one_the_step_used(tmp_path, order):
    torch.manual_seed(0)
    model = TinyAE()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    if order == "warmup_lambda":
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: (s + 1) / 4)
    else:
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.2, total_steps=8)
    used = []
    with aelog.watch(model, optimizer, logdir=tmp_path, log_every=1,
                     on_collapse=None) as monitor:
        for x in batches(digits(), 6):
            optimizer.zero_grad()
            mse(model(x), x).backward()
            used.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
    # and at the end, the rate the next step would use
    after = optimizer.param_groups[0]["lr"]
    assert [v for _, v in series(monitor.run_data(), fmt.LR)] == pytest.approx(
        [*used, after], rel=1e-12)
    assert len(set(used)) > 1


@pytest.mark.parametrize("max_norm, bites", [(0.02, True), (100.0, False)])
def test_gradient_clipping_is_seen(tmp_path, max_norm, bites):
    torch.manual_seed(2)
    model = TinyAE()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    totals = []
    with aelog.watch(model, optimizer, logdir=tmp_path, log_every=1,
                     on_collapse=None) as monitor:
        for x in batches(digits(), 5):
            optimizer.zero_grad()
            mse(model(x), x).backward()
            totals.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)))
            optimizer.step()
    run = monitor.run_data()
    before = [v for _, v in series(run, fmt.GRAD_NORM_BEFORE_CLIP)]
    after = [v for _, v in series(run, fmt.GRAD_NORM)]
    assert before == pytest.approx(totals, rel=1e-5)
    assert [v for _, v in series(run, fmt.GRAD_CLIPPED)] == [float(bites)] * 5
    if bites:
        assert after == pytest.approx([max_norm] * 5, rel=1e-4)
    else:
        assert after == pytest.approx(totals, rel=1e-5)


def test_a_closure_loop_is_measured_like_a_plain_one(tmp_path):
    """``optimizer.step(closure)`` runs forward and backward inside the step (LBFGS, Lightning)."""
    torch.manual_seed(4)
    model = TinyAE()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    norms = []
    with aelog.watch(model, optimizer, logdir=tmp_path, log_every=1,
                     on_collapse=None) as monitor:
        for x in batches(digits(), 4):
            def closure(x=x):
                optimizer.zero_grad()
                loss = mse(model(x), x)
                loss.backward()
                norms.append(grad_norm(model))
                return loss

            optimizer.step(closure)
    run = monitor.run_data()
    assert [v for _, v in series(run, fmt.GRAD_NORM)] == pytest.approx(norms, rel=1e-5)
    assert min(v for _, v in series(run, fmt.UPDATE_RATIO)) > 0
    assert len(series(run, fmt.RELATIVE_ERROR)) == 4 + 1  # and the end, measured at close


def test_non_logging_steps_of_these_loops_run_only_the_users_ops(tmp_path):
    """Accumulation, two optimizers and clipping: aelog adds no tensor op between logs."""
    x = digits(32)

    def setup():
        torch.manual_seed(0)
        model = TinyAE()
        return model, [torch.optim.Adam(model.encoder.parameters(), lr=1e-3),
                       torch.optim.SGD(model.decoder.parameters(), lr=0.1)]

    def step(model, optimizers):
        for _ in range(2):
            mse(model(x), x).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.1)
        for optimizer in optimizers:
            optimizer.step()
        for optimizer in optimizers:
            optimizer.zero_grad()

    def ops(model, optimizers) -> Counter:
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            step(model, optimizers)
        return Counter(e.name for e in prof.events() if e.name.startswith("aten::"))

    model, optimizers = setup()
    step(model, optimizers)
    plain = ops(model, optimizers)
    model, optimizers = setup()
    monitor = aelog.watch(model, optimizers, logdir=tmp_path, log_every=1000, on_collapse=None)
    step(model, optimizers)  # step 0 logs
    watched = ops(model, optimizers)
    monitor.close()
    # the user's ops, plus only the NaN/Inf watch's sums into tensors of its own (see
    # tests/sdk/test_cost.py): the same few ops per training forward, nothing else
    assert not plain - watched
    extra = watched - plain
    forwards = extra["aten::sum"] // 2
    assert forwards >= 1 and extra == Counter({op: 2 * forwards for op in (
        "aten::detach", "aten::sum", "aten::as_strided", "aten::fill_", "aten::add_")})
    assert series(monitor.run_data(), fmt.GRAD_CLIPPED) == [(0, 1.0)]


@pytest.mark.parametrize("with_optimizer", [True, False])
def test_logging_steps_leave_no_hooks_on_the_parameters(tmp_path, with_optimizer):
    """A hook on a parameter stays installed in autograd after its handle is removed (a
    Python call per parameter on every later backward), so the gradients of a logging step
    are read at the end of its backward instead: at most the skipped-step counter's one
    parameter carries a hook, and the norms are still read."""
    torch.manual_seed(0)
    model = TinyAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    with aelog.watch(model, optimizer if with_optimizer else None, logdir=tmp_path,
                     log_every=2, on_collapse=None) as monitor:
        for x in batches(digits(), 6):
            optimizer.zero_grad()
            mse(model(x), x).backward()
            optimizer.step()
    hooked = [name for name, p in model.named_parameters()
              if p._post_accumulate_grad_hooks is not None]
    assert len(hooked) <= (1 if with_optimizer else 0), hooked
    run = monitor.run_data()
    norms = [v for _, v in series(run, fmt.GRAD_NORM)]
    assert len(norms) == 3 and min(norms) > 0
    if with_optimizer:  # no clipping, no scaler: the raw norm is the norm, bit for bit
        assert [v for _, v in series(run, fmt.GRAD_NORM_BEFORE_CLIP)] == norms
