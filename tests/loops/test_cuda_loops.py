"""The same loops on a GPU: statistics stay on the device, one transfer per logging step,
and steps that do not log never synchronise. Skipped without CUDA."""

from __future__ import annotations

import pytest
import torch
from loop_fixtures import TinyAE, batches, digits, grad_norm, mse, series

import aelog
from aelog.logfile import format as fmt

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def test_amp_accumulation_clipping_two_optimizers_never_sync_between_logs(tmp_path):
    torch.manual_seed(0)
    model = TinyAE().cuda()
    encoder_opt = torch.optim.Adam(model.encoder.parameters(), lr=1e-3)
    decoder_opt = torch.optim.Adam(model.decoder.parameters(), lr=1e-3)
    data = digits().cuda()

    def step(micro):
        for x in micro:
            with torch.autocast("cuda", dtype=torch.bfloat16):
                (mse(model(x), x) / len(micro)).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.05)  # returns a tensor: no sync
        encoder_opt.step()
        decoder_opt.step()
        encoder_opt.zero_grad()
        decoder_opt.zero_grad()

    stream = iter(batches(data, 64, size=16))
    with aelog.watch(model, [encoder_opt, decoder_opt], logdir=tmp_path, log_every=10,
                     on_collapse=None) as monitor:
        step([next(stream), next(stream)])  # step 0 logs (and may synchronise)
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            for _ in range(9):  # steps 1-9: none logs
                step([next(stream), next(stream)])
        finally:
            torch.cuda.set_sync_debug_mode("default")
        step([next(stream), next(stream)])  # step 10 logs
    run = monitor.run_data()
    assert [s for s, _ in series(run, fmt.GRAD_NORM)] == [0, 10]
    assert {v for _, v in series(run, fmt.GRAD_CLIPPED)} == {1.0}
    assert len(series(run, fmt.CODE_EFFECTIVE_RANK)) == 2


@pytest.mark.parametrize("fused", [False, True], ids=["foreach", "fused"])
def test_grad_scaler_on_the_device(tmp_path, fused):
    torch.manual_seed(0)
    model = TinyAE().cuda()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=fused)
    scaler = torch.amp.GradScaler("cuda", init_scale=2.0**22)
    unscaled, skipped = [], []
    with aelog.watch(model, optimizer, logdir=tmp_path, log_every=1,
                     on_collapse=None) as monitor:
        for x in batches(digits().cuda(), 10):
            optimizer.zero_grad()
            with torch.autocast("cuda", dtype=torch.float16):
                out = model(x)
            scaler.scale(mse(out, x)).backward()
            scale = scaler.get_scale()
            unscaled.append(grad_norm(model) / scale)  # before the step changes anything
            scaler.step(optimizer)
            scaler.update()
            skipped.append(scaler.get_scale() < scale)
    run = monitor.run_data()
    assert any(skipped)
    taken = [norm for norm, skip in zip(unscaled, skipped, strict=True) if not skip]
    assert [v for _, v in series(run, fmt.GRAD_NORM)] == pytest.approx(taken, rel=1e-3)
    assert series(run, fmt.SKIPPED_STEPS)[-1][1] == sum(skipped)  # every step logs here
    assert max(v for _, v in series(run, fmt.NONFINITE_GRAD_FRACTION)) == 0.0
