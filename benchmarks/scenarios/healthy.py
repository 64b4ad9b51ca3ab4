"""Healthy runs of varied kinds: the engine must say nothing about them."""

from __future__ import annotations

import torch
from torch import nn

from benchmarks.scenarios import common as c
from benchmarks.scenarios import data, models
from benchmarks.scenarios.base import Manifest, Scenario, Setup


def _mlp_digits_adam() -> Setup:
    train, val = data.digits()
    model = models.MLPAutoencoder(64, 64, 8)
    return Setup(model, torch.optim.Adam(model.parameters(), 3e-3), data.sampler(train), c.mse,
                 validation=val[:128], probe=val[:256])


def _conv_digits_adam() -> Setup:
    train, val = data.digits()
    model = models.ConvAutoencoder(12)
    return Setup(model, torch.optim.Adam(model.parameters(), 3e-3), data.sampler(train), c.mse,
                 validation=val[:128], probe=val[:256])


def _vae_digits_adam() -> Setup:
    train, val = data.digits()
    model = models.VAE(64, 64, 8)
    return Setup(model, torch.optim.Adam(model.parameters(), 3e-3), data.sampler(train),
                 c.vae_loss(beta=0.1), validation=val[:128], probe=val[:256], latent="mu")


def _seq_adam() -> Setup:
    train, val = data.sequences()
    model = models.SequenceAutoencoder(24, 32, 6)
    return Setup(model, torch.optim.Adam(model.parameters(), 1e-2), data.sampler(train), c.mse,
                 validation=val[:128], probe=val[:128], latent="to_code", steps=250)


def _linear_lowrank_sgd() -> Setup:
    train, val = data.low_rank()
    model = models.LinearAutoencoder(48, 5)
    opt = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    return Setup(model, opt, data.sampler(train), c.mse, validation=val, probe=val)


def _binary_sigmoid_bce() -> Setup:
    train, val = data.binary()
    model = models.MLPAutoencoder(64, 128, 8, out_act=nn.Sigmoid)
    return Setup(model, torch.optim.Adam(model.parameters(), 3e-3), data.sampler(train), c.bce,
                 validation=val, probe=val)


def _adamw_lowrank() -> Setup:
    train, val = data.low_rank()
    model = models.MLPAutoencoder(48, 64, 6)
    opt = torch.optim.AdamW(model.parameters(), 3e-3, weight_decay=1e-4)
    return Setup(model, opt, data.sampler(train), c.mse, validation=val, probe=val)


def _tanh_standard_digits_sgd() -> Setup:
    train, val = data.digits("standard")
    model = models.MLPAutoencoder(64, 64, 12, act=nn.Tanh)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    return Setup(model, opt, data.sampler(train), c.mse, validation=val[:128], probe=val[:256])


def _sigmoid_digits_bce() -> Setup:
    train, val = data.digits()
    model = models.MLPAutoencoder(64, 64, 10, out_act=nn.Sigmoid)
    return Setup(model, torch.optim.Adam(model.parameters(), 3e-3), data.sampler(train), c.bce,
                 validation=val[:128], probe=val[:256])


def _dropout_digits() -> Setup:
    train, val = data.digits()
    model = models.MLPAutoencoder(64, 128, 10, dropout=0.1)
    return Setup(model, torch.optim.Adam(model.parameters(), 3e-3), data.sampler(train), c.mse,
                 validation=val[:128], probe=val[:256])


def _frozen_pretrained_encoder() -> Setup:
    """Fine-tuning a decoder on a pretrained, deliberately frozen encoder: not a defect."""
    train, val = data.digits()
    model = models.MLPAutoencoder(64, 64, 10)
    pre = torch.optim.Adam(model.parameters(), 3e-3)
    sample = data.sampler(train, seed=5)
    for step in range(300):
        x = sample(step)
        loss = c.mse(model(x), x, model)
        pre.zero_grad()
        loss.backward()
        pre.step()
    model.encoder.requires_grad_(False)
    opt = torch.optim.Adam(model.decoder.parameters(), 1e-3)
    return Setup(model, opt, data.sampler(train), c.mse, validation=val[:128], probe=val[:256])


def _gelu_lowrank_sgd_nesterov() -> Setup:
    train, val = data.low_rank(rank=8, seed=4)
    model = models.MLPAutoencoder(48, 64, 8, act=nn.GELU)
    opt = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9, nesterov=True)
    return Setup(model, opt, data.sampler(train), c.mse, validation=val, probe=val)


def _binary_logits() -> Setup:
    train, val = data.binary()
    model = models.MLPAutoencoder(64, 64, 8)
    return Setup(model, torch.optim.Adam(model.parameters(), 3e-3), data.sampler(train),
                 c.bce_logits, validation=val, probe=val)


def _healthy(trace, model) -> Manifest:
    return c.healthy_manifest(trace, model)


def _healthy_logits(trace, model) -> Manifest:
    """Judged on sigmoid(logits): the model outputs logits for BCEWithLogitsLoss."""
    trace.probe_out_end = torch.sigmoid(trace.probe_out_end)
    return c.healthy_manifest(trace, model)


SCENARIOS = [
    Scenario("healthy/mlp_digits_adam", None, "MLP, digits, Adam", _mlp_digits_adam, _healthy,
             quick=True),
    Scenario("healthy/conv_digits_adam", None, "conv AE, digits, Adam", _conv_digits_adam,
             _healthy),
    Scenario("healthy/vae_digits_adam", None, "VAE, digits, KL weight 0.1, Adam",
             _vae_digits_adam, _healthy, quick=True),
    Scenario("healthy/seq_adam", None, "GRU sequence AE, sine waves, Adam", _seq_adam, _healthy),
    Scenario("healthy/linear_lowrank_sgd", None, "linear AE, rank-5 data, code 5, SGD+momentum",
             _linear_lowrank_sgd, _healthy, quick=True),
    Scenario("healthy/binary_sigmoid_bce", None, "MLP + sigmoid, binary data, BCE, Adam",
             _binary_sigmoid_bce, _healthy),
    Scenario("healthy/binary_bce_with_logits", None, "MLP returning logits, binary data, "
             "BCEWithLogitsLoss, Adam", _binary_logits, _healthy_logits),
    Scenario("healthy/adamw_lowrank", None, "MLP, low-rank data, AdamW weight_decay=1e-4",
             _adamw_lowrank, _healthy),
    Scenario("healthy/tanh_standard_digits_sgd", None, "tanh MLP, standardised digits, "
             "SGD+momentum", _tanh_standard_digits_sgd, _healthy),
    Scenario("healthy/sigmoid_digits_bce", None, "MLP + sigmoid, digits, BCE, Adam",
             _sigmoid_digits_bce, _healthy),
    Scenario("healthy/dropout_digits", None, "MLP with dropout 0.1, digits, Adam", _dropout_digits,
             _healthy),
    Scenario("healthy/frozen_pretrained_encoder", None, "pretrained encoder frozen on purpose, "
             "decoder fine-tuned, digits", _frozen_pretrained_encoder, _healthy),
    Scenario("healthy/gelu_lowrank_nesterov", None, "GELU MLP, rank-8 data, SGD Nesterov",
             _gelu_lowrank_sgd_nesterov, _healthy),
]
