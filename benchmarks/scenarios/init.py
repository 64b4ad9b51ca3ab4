"""Initialisation defects: constant, too small, too large."""

from __future__ import annotations

import torch
from torch import nn

from benchmarks.scenarios import common as c
from benchmarks.scenarios import data, models
from benchmarks.scenarios.base import Manifest, Scenario, Setup


def _constant_mlp_digits() -> Setup:
    train, val = data.digits()
    model = c.fill_weights(models.MLPAutoencoder(64, 64, 8), 0.05, bias=0.0)
    return Setup(model, torch.optim.Adam(model.parameters(), 1e-3), data.sampler(train), c.mse,
                 validation=val[:128], probe=val[:256])


def _constant_tanh_lowrank() -> Setup:
    train, val = data.low_rank()
    model = c.fill_weights(models.MLPAutoencoder(48, 32, 5, act=nn.Tanh), 0.1, bias=0.0)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    return Setup(model, opt, data.sampler(train), c.mse, validation=val, probe=val)


def _still_identical(trace, model) -> Manifest:
    first = c.linear_layers(model)[0]
    cosine = c.rows_max_cosine(first.weight.detach())
    return Manifest(cosine > 0.999, 0, f"first layer rows at end: median max cosine {cosine:.5f}")


def _small_mlp_digits() -> Setup:
    train, val = data.digits()
    model = c.scale_weights(models.MLPAutoencoder(64, 64, 8), 0.01)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    return Setup(model, opt, data.sampler(train), c.mse, validation=val[:128], probe=val[:256])


def _small_conv_digits() -> Setup:
    train, val = data.digits()
    model = c.scale_weights(models.ConvAutoencoder(8), 0.02)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    return Setup(model, opt, data.sampler(train), c.mse, validation=val[:128], probe=val[:256])


def _small_manifest(trace, model) -> Manifest:
    start = c.spread_ratio(trace.probe_out_start, trace.probe_in)
    end = c.spread_ratio(trace.probe_out_end, trace.probe_in)
    return Manifest(start < 1e-3 and end < 0.05, 0,
                    f"output spread {start:.2g} at start, {end:.2g} at end")


def _large_tanh_lowrank() -> Setup:
    train, val = data.low_rank()
    model = c.scale_weights(models.MLPAutoencoder(48, 64, 5, act=nn.Tanh), 10.0)
    return Setup(model, torch.optim.Adam(model.parameters(), 1e-3), data.sampler(train), c.mse,
                 validation=val, probe=val)


def _large_relu_digits() -> Setup:
    train, val = data.digits()
    model = c.scale_weights(models.MLPAutoencoder(64, 128, 8), 8.0)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    return Setup(model, opt, data.sampler(train), c.mse, validation=val[:128], probe=val[:256])


def _large_manifest(trace, model) -> Manifest:
    start = c.spread_ratio(trace.probe_out_start, trace.probe_in)
    bad = c.first_bad_step(trace.losses, 10.0)
    last = sum(trace.losses[-10:]) / 10
    ok = start > 10 or bad is not None or not last < 0.5 * trace.losses[0] or start < 1e-3
    first = model.encoder[0]
    with torch.no_grad():
        pre = first(trace.probe_in)
    saturated = float((torch.tanh(pre).abs() > 0.96).float().mean())
    ok = ok or saturated > 0.5
    return Manifest(ok, 0, f"output spread at start {start:.3g}x the targets', "
                           f"{100 * saturated:.0f}% of first-layer tanh values saturated, "
                           f"loss {trace.losses[0]:.3g} -> {last:.3g}")


SCENARIOS = [
    Scenario("init_constant/mlp_digits_adam", "init_constant", "MLP, digits, Adam, fill_(0.05)",
             _constant_mlp_digits, _still_identical, quick=True),
    Scenario("init_constant/tanh_lowrank_sgd", "init_constant",
             "tanh MLP, low-rank data, SGD+momentum, fill_(0.1)",
             _constant_tanh_lowrank, _still_identical),
    Scenario("init_too_small/mlp_digits_sgd", "init_too_small", "MLP, digits, SGD, weights x0.01",
             _small_mlp_digits, _small_manifest, quick=True, also_acceptable=("dead_relu",)),
    Scenario("init_too_small/conv_digits_sgd", "init_too_small",
             "conv AE, digits, SGD+momentum, weights x0.02",
             _small_conv_digits, _small_manifest, also_acceptable=("dead_relu",)),
    Scenario("init_too_large/tanh_lowrank_adam", "init_too_large",
             "tanh MLP, low-rank data, Adam, weights x10",
             _large_tanh_lowrank, _large_manifest, also_acceptable=("saturated_activation",)),
    Scenario("init_too_large/mlp_digits_sgd", "init_too_large", "ReLU MLP, digits, SGD, weights x8",
             _large_relu_digits, _large_manifest, also_acceptable=("lr_too_high",)),
]
