"""Mixed precision: autocast forwards are measured, a GradScaler's gradients are reported
unscaled, and the steps it skips on inf/NaN are counted as skipped, never as divergence."""

from __future__ import annotations

import pytest
import torch
from loop_fixtures import TinyAE, assert_same_state, batches, digits, grad_norm, mse, series, state

import aelog
from aelog.diagnosis.engine import diagnose_run
from aelog.logfile import format as fmt


def _bf16_run(watch_dir=None):
    torch.manual_seed(3)
    model = TinyAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    monitor = None
    if watch_dir is not None:
        monitor = aelog.watch(model, optimizer, logdir=watch_dir, run_name="bf16", log_every=1,
                              identity_every=1, on_collapse=None)
    for x in batches(digits(), 12):
        optimizer.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(x)
        assert out.dtype == torch.bfloat16
        mse(out, x).backward()
        optimizer.step()
    if monitor is not None:
        monitor.close()
    return state(model), monitor


def test_bf16_autocast_is_measured_and_training_is_unchanged(tmp_path):
    plain, _ = _bf16_run()
    watched, monitor = _bf16_run(tmp_path)
    assert_same_state(plain, watched)
    run = monitor.run_data()
    for signal in (fmt.RELATIVE_ERROR, fmt.OUTPUT_VARIANCE_RATIO, fmt.CODE_EFFECTIVE_RANK,
                   fmt.GRAD_NORM, fmt.UPDATE_RATIO, fmt.IDENTITY_RATIO):
        values = [v for _, v in series(run, signal)]
        # the end, measured at close, has no update
        logged = 12 if signal in (fmt.GRAD_NORM, fmt.UPDATE_RATIO) else 13
        assert len(values) == logged and all(0 < v < 100 for v in values), signal
    assert run.layer_signal("encoder.0", fmt.LAYER_ACTIVATION_STD) is not None
    assert not [r for r in run.records if r.get("kind") == "probe_failed"]


def _scaler_run(watch_dir=None, *, clip: float | None = None, steps: int = 14):
    """fp16 autocast with a GradScaler whose first scale overflows fp16: a real skipped step.

    Returns the final state, the monitor, and what the loop itself saw: per taken step the
    unscaled gradient norm before clipping, after clipping, and the count of skipped steps.
    """
    torch.manual_seed(5)
    model = TinyAE()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**22)
    monitor = None
    if watch_dir is not None:
        monitor = aelog.watch(model, optimizer, logdir=watch_dir, run_name="scaler",
                              log_every=1, on_collapse=None)
    seen = {"before_clip": [], "after_clip": [], "skipped": 0}
    for x in batches(digits(), steps):
        optimizer.zero_grad()
        with torch.autocast("cpu", dtype=torch.float16):
            out = model(x)
        scaler.scale(mse(out, x)).backward()
        if clip is not None:
            scaler.unscale_(optimizer)
            total = torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        scale = scaler.get_scale()
        scaler.step(optimizer)
        scaler.update()
        if scaler.get_scale() < scale:  # the scaler backs off only after skipping a step
            seen["skipped"] += 1
            continue
        seen["after_clip"].append(grad_norm(model))
        seen["before_clip"].append(float(total) if clip is not None else grad_norm(model))
    if monitor is not None:
        monitor.close()
    return state(model), monitor, seen


def test_grad_scaler_skips_are_counted_and_norms_are_unscaled(tmp_path):
    plain, _, _ = _scaler_run()
    watched, monitor, seen = _scaler_run(tmp_path)
    assert_same_state(plain, watched)
    assert seen["skipped"] >= 1  # the scenario really skipped a step
    run = monitor.run_data()
    taken = len(seen["after_clip"])
    # the step is the optimizer's step count: skipped steps are not steps
    assert [s for s, _ in series(run, fmt.GRAD_NORM)] == list(range(taken))
    assert series(run, fmt.SKIPPED_STEPS)[-1][1] == seen["skipped"]
    logged = [v for _, v in series(run, fmt.GRAD_NORM)]
    assert logged == pytest.approx(seen["after_clip"], rel=1e-5)  # unscaled: ~0.1, not ~1e5
    # read before unscaling, in float32, shrunk by a power of two: no clip, so bit for bit
    # the norm the step used (and no overflow under a scale of 2^21)
    assert [v for _, v in series(run, fmt.GRAD_NORM_BEFORE_CLIP)] == logged
    assert max(v for _, v in series(run, fmt.GRAD_CLIPPED)) == 0.0
    assert {v for _, v in series(run, fmt.LOSS_SCALE)} == {2.0**21}
    # the loss's weight on each output value, read off the scaled gradient, is unscaled too
    weight = series(run, fmt.RECON_TERM_WEIGHT)[-1][1]
    assert weight == pytest.approx(1 / 64, rel=0.02)  # a mean over the 64 pixels
    # the inf gradients of the skipped step are not reported as divergence
    assert max(v for _, v in series(run, fmt.NONFINITE_GRAD_FRACTION)) == 0.0
    assert max(v for _, v in series(run, fmt.NONFINITE_OUTPUT_FRACTION)) == 0.0
    assert "lr_too_high" not in [cause.id for cause in diagnose_run(run).causes]


def test_fused_optimizer_skips_inside_its_step_and_is_seen_on_logging_steps(tmp_path):
    """Fused Adam takes the scale and skips by itself: optimizer.step runs even on inf."""
    torch.manual_seed(5)
    model = TinyAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**22)
    norms, skipped = [], []
    with aelog.watch(model, optimizer, logdir=tmp_path, log_every=1,
                     on_collapse=None) as monitor:
        for x in batches(digits(), 8):
            optimizer.zero_grad()
            with torch.autocast("cpu", dtype=torch.float16):
                out = model(x)
            scaler.scale(mse(out, x)).backward()
            scale = scaler.get_scale()
            norms.append(grad_norm(model) / scale)
            scaler.step(optimizer)
            scaler.update()
            skipped.append(scaler.get_scale() < scale)
    run = monitor.run_data()
    assert any(skipped)
    taken = [norm for norm, skip in zip(norms, skipped, strict=True) if not skip]
    # the skipped steps still count as steps (the optimizer ran), but carry no gradients
    assert [s for s, _ in series(run, fmt.GRAD_NORM)] == [
        step for step, skip in enumerate(skipped) if not skip
    ]
    assert [v for _, v in series(run, fmt.GRAD_NORM)] == pytest.approx(taken, rel=1e-5)
    assert series(run, fmt.SKIPPED_STEPS)[-1][1] == sum(skipped)
    assert max(v for _, v in series(run, fmt.NONFINITE_GRAD_FRACTION)) == 0.0


def test_grad_scaler_with_clipping_reports_the_norm_before_the_clip(tmp_path):
    _, monitor, seen = _scaler_run(tmp_path, clip=0.05)
    run = monitor.run_data()
    before = [v for _, v in series(run, fmt.GRAD_NORM_BEFORE_CLIP)]
    after = [v for _, v in series(run, fmt.GRAD_NORM)]
    assert before == pytest.approx(seen["before_clip"], rel=1e-5)
    assert after == pytest.approx(seen["after_clip"], rel=1e-5)
    assert all(b > 0.05 for b in before)  # the clip bit at every step ...
    assert after == pytest.approx([0.05] * len(after), rel=1e-4)
    assert {v for _, v in series(run, fmt.GRAD_CLIPPED)} == {1.0}  # ... and we say so
    assert series(run, fmt.SKIPPED_STEPS)[-1][1] == seen["skipped"] >= 1


def test_a_huge_loss_scale_does_not_overflow_the_norm_before_the_clip(tmp_path):
    """Scaled by 2^100, fp32 gradients stay finite but their squares overflow float32: the
    first logging step (no scale known yet) leaves the norm out, the next ones shrink the
    gradients by the last scale first and report it exactly."""
    torch.manual_seed(5)
    model = TinyAE()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**100, growth_interval=10**6)
    with aelog.watch(model, optimizer, logdir=tmp_path, log_every=1,
                     on_collapse=None) as monitor:
        for x in batches(digits(), 6):
            optimizer.zero_grad()
            scaler.scale(mse(model(x), x)).backward()
            scaler.step(optimizer)
            scaler.update()
    run = monitor.run_data()
    assert {v for _, v in series(run, fmt.LOSS_SCALE)} == {2.0**100}
    before = series(run, fmt.GRAD_NORM_BEFORE_CLIP)
    assert [s for s, _ in before] == [1, 2, 3, 4, 5]
    assert [v for _, v in before] == [v for _, v in series(run, fmt.GRAD_NORM)][1:]
    assert {v for _, v in series(run, fmt.GRAD_CLIPPED)} == {0.0}


def test_raw_gradient_shrink_is_the_power_of_two_below_the_scale():
    from aelog.sdk.loss_scale import raw_gradient_shrink

    assert raw_gradient_shrink(2.0**16) == 2.0**-16
    assert raw_gradient_shrink(3.0e5) == 2.0**-18
    assert raw_gradient_shrink(1.0) == 1.0
    assert raw_gradient_shrink(0.0) == raw_gradient_shrink(float("inf")) == 1.0
