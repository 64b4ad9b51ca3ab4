"""Data pipeline defects: the same sample every time, or inputs with ~no variance."""

from __future__ import annotations

import torch

from benchmarks.scenarios import common as c
from benchmarks.scenarios import data, models
from benchmarks.scenarios.base import Manifest, Scenario, Setup


def _first_sample_every_time() -> Setup:
    train, val = data.digits()
    model = models.MLPAutoencoder(64, 64, 8)

    def batch(step: int) -> torch.Tensor:  # bug: indexes with 0 instead of the step
        return train[0:1].expand(64, -1)

    return Setup(model, torch.optim.Adam(model.parameters(), 1e-3), batch, c.mse,
                 validation=val[:128], probe=val[:256])


def _offset_tiny_variance_conv() -> Setup:
    train, val = data.digits()
    model = models.ConvAutoencoder(8)
    mean = train.mean(0)
    sample = data.sampler(train)

    def batch(step: int) -> torch.Tensor:  # bug: data scaled by 1e-4 around its mean
        return mean + 1e-4 * (sample(step) - mean)

    return Setup(model, torch.optim.Adam(model.parameters(), 1e-3), batch, c.mse,
                 validation=val[:128], probe=val[:256])


def _repeated_sequence_sgd() -> Setup:
    train, val = data.sequences()
    model = models.SequenceAutoencoder(24, 16, 4)

    def batch(step: int) -> torch.Tensor:  # bug: one sequence repeated across the batch
        return train[step % 1].unsqueeze(0).repeat(32, 1, 1)

    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    return Setup(model, opt, batch, c.mse, validation=val[:128], probe=val[:128],
                 latent="to_code", steps=200)


def _inputs_identical(trace, model) -> Manifest:
    spreads = []
    for x in trace.inputs_seen:
        flat = x.reshape(len(x), -1)
        overall = float(((flat - flat.mean()) ** 2).mean())
        spreads.append(float(flat.var(0).mean()) / max(overall, 1e-12))
    worst = max(spreads)
    return Manifest(worst < 1e-3, 0, f"batch variance at most {worst:.2e} of the overall variance")


SCENARIOS = [
    Scenario("constant_input/mlp_digits_first_sample", "constant_input",
             "MLP, digits, Adam, batch = the first sample repeated", _first_sample_every_time,
             _inputs_identical, quick=True),
    Scenario("constant_input/conv_digits_tiny_variance", "constant_input",
             "conv AE, digits scaled by 1e-4 around their mean, Adam", _offset_tiny_variance_conv,
             _inputs_identical),
    Scenario("constant_input/seq_one_sequence_sgd", "constant_input",
             "GRU sequence AE, one wave repeated, SGD+momentum", _repeated_sequence_sgd,
             _inputs_identical),
]
