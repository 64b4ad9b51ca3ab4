"""Regularisation defects: so strong that outputs go to the mean, or absent so the model
memorises a tiny training set."""

from __future__ import annotations

import torch
from torch import nn

from benchmarks.scenarios import common as c
from benchmarks.scenarios import data, models
from benchmarks.scenarios.base import Manifest, Scenario, Setup


def _adam_coupled_decay_digits() -> Setup:
    train, val = data.digits()
    model = models.MLPAutoencoder(64, 64, 8)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1.0)
    return Setup(model, opt, data.sampler(train), c.mse, validation=val[:128], probe=val[:256])


def _sgd_decay_lowrank() -> Setup:
    train, val = data.low_rank()
    model = models.MLPAutoencoder(48, 32, 5)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=0.5)
    return Setup(model, opt, data.sampler(train), c.mse, validation=val, probe=val)


def _l1_conv_digits() -> Setup:
    train, val = data.digits()
    model = models.ConvAutoencoder(8)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    return Setup(model, opt, data.sampler(train), c.with_l1(c.mse, 1e-2), validation=val[:128],
                 probe=val[:256])


def _adamw_decay_binary() -> Setup:
    train, val = data.binary()
    model = models.MLPAutoencoder(64, 64, 6, out_act=nn.Sigmoid)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=100.0)
    return Setup(model, opt, data.sampler(train), c.bce, validation=val, probe=val)


def _shrunk_to_mean(trace, model) -> Manifest:
    before = sum(float(v.float().norm() ** 2) for k, v in trace.initial_state.items()
                 if "weight" in k) ** 0.5
    after = sum(float(v.float().norm() ** 2) for k, v in trace.final_state.items()
                if "weight" in k) ** 0.5
    out = trace.probe_out_end
    if out is not None and trace.probe_in is not None and out.shape != trace.probe_in.shape:
        out = out.reshape(trace.probe_in.shape)
    spread = c.spread_ratio(out, trace.probe_in)
    ok = after < 0.6 * before and spread < 0.2
    start = trace.weight_norms[min(trace.weight_norms)]
    at = next((s for s, n in sorted(trace.weight_norms.items()) if n < 0.7 * start), 0)
    return Manifest(ok, at, f"weight norm {before:.3g} -> {after:.3g} (down 30% by step {at}), "
                            f"output spread {spread:.3g}")


def _memorising_mlp_digits() -> Setup:
    train, val = data.digits()
    model = models.MLPAutoencoder(64, 256, 32)
    small = train[:24]
    return Setup(model, torch.optim.Adam(model.parameters(), lr=3e-3), data.sampler(small, 24),
                 c.mse, steps=400, validation=val[:200], probe=val[:200])


def _memorising_binary() -> Setup:
    train, val = data.binary()
    model = models.MLPAutoencoder(64, 256, 24, out_act=nn.Sigmoid)
    small = train[:16]
    return Setup(model, torch.optim.Adam(model.parameters(), lr=3e-3), data.sampler(small, 16),
                 c.bce, steps=400, validation=val, probe=val)


def _memorised(trace, model) -> Manifest:
    last = max(trace.val_losses)
    val, train = trace.val_losses[last], trace.train_losses_at_val[last]
    best = min(trace.val_losses.values())
    gap_step = next((s for s, v in sorted(trace.val_losses.items())
                     if v > 1.5 * trace.train_losses_at_val[s]), 0)
    return Manifest(val > 2 * train, gap_step,
                    f"validation loss {val:.3g} vs training {train:.3g} "
                    f"(best validation {best:.3g})")


SCENARIOS = [
    Scenario("over_regularized/mlp_digits_adam_l2", "over_regularized",
             "MLP, digits, Adam weight_decay=1 (coupled L2)", _adam_coupled_decay_digits,
             _shrunk_to_mean, quick=True),
    Scenario("over_regularized/lowrank_sgd_decay", "over_regularized",
             "MLP, low-rank data, SGD+momentum weight_decay=0.5", _sgd_decay_lowrank,
             _shrunk_to_mean),
    Scenario("over_regularized/conv_digits_l1_loss", "over_regularized",
             "conv AE, digits, Adam, L1 penalty 1e-2 in the loss", _l1_conv_digits,
             _shrunk_to_mean),
    Scenario("over_regularized/binary_adamw", "over_regularized",
             "MLP, binary data, sigmoid+BCE, AdamW weight_decay=100", _adamw_decay_binary,
             _shrunk_to_mean),
    Scenario("under_regularized/mlp_24_digits", "under_regularized",
             "wide MLP, 24 training digits, Adam", _memorising_mlp_digits, _memorised, quick=True),
    Scenario("under_regularized/binary_16_samples", "under_regularized",
             "wide MLP, 16 binary training vectors, sigmoid+BCE, Adam", _memorising_binary,
             _memorised),
]
