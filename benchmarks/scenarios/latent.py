"""Bottleneck defects: so wide it passes anything (identity), so narrow it cannot hold the
data, and a VAE posterior that collapses onto the prior."""

from __future__ import annotations

import torch
from torch import nn

from benchmarks.scenarios import common as c
from benchmarks.scenarios import data, models
from benchmarks.scenarios.base import Manifest, Scenario, Setup


def _wide_linear_digits() -> Setup:
    train, val = data.digits()
    model = models.LinearAutoencoder(64, 64)
    return Setup(model, torch.optim.Adam(model.parameters(), 3e-2), data.sampler(train), c.mse,
                 validation=val[:128], probe=val[:256])


def _wide_mlp_digits() -> Setup:
    train, val = data.digits()
    model = models.MLPAutoencoder(64, 256, 96, act=nn.LeakyReLU)
    return Setup(model, torch.optim.Adam(model.parameters(), 3e-3), data.sampler(train), c.mse,
                 steps=400, validation=val[:128], probe=val[:256])


def _identity_like(trace, model) -> Manifest:
    """Random inputs (matched mean and std) reconstructed with a relative error under 0.3."""
    at = next((s for s, e in sorted(trace.noise_errors.items()) if e < 0.5), None)
    end = trace.noise_errors[max(trace.noise_errors)]
    return Manifest(end < 0.3, at if at is not None else 0,
                    f"relative error on matched random inputs {end:.3f} at the end"
                    f" (under 0.5 from step {at})")


def _narrow_mlp_digits() -> Setup:
    train, val = data.digits()
    model = models.MLPAutoencoder(64, 64, 1)
    return Setup(model, torch.optim.Adam(model.parameters(), 3e-3), data.sampler(train), c.mse,
                 validation=val[:128], probe=val[:256])


def _narrow_linear_lowrank_sgd() -> Setup:
    train, val = data.low_rank(rank=12)
    model = models.LinearAutoencoder(48, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    return Setup(model, opt, data.sampler(train), c.mse, validation=val, probe=val)


def _narrow_conv_digits() -> Setup:
    train, val = data.digits()
    model = models.ConvAutoencoder(2)
    return Setup(model, torch.optim.Adam(model.parameters(), 3e-3), data.sampler(train), c.mse,
                 steps=400, validation=val[:128], probe=val[:256])


def _at_the_bound(k: int):
    def check(trace, model) -> Manifest:
        bound = c.pca_error(trace.probe_in, k)
        at = next((s for s, e in sorted(trace.probe_errors.items()) if e < 1.3 * bound), None)
        error = trace.probe_errors[max(trace.probe_errors)]
        return Manifest(bound > 0.3 and error < 1.5 * bound, at if at is not None else 0,
                        f"best rank-{k} error {bound:.3f}, model's error {error:.3f} "
                        f"(within 1.3x of the bound from step {at})")

    return check


def _vae_digits_heavy_kl() -> Setup:
    train, val = data.digits()
    model = models.VAE(64, 64, 8)
    return Setup(model, torch.optim.Adam(model.parameters(), 1e-3), data.sampler(train),
                 c.vae_loss(beta=30.0), validation=val[:128], probe=val[:256], latent="mu")


def _vae_lowrank_heavy_kl_adamw() -> Setup:
    train, val = data.low_rank()
    model = models.VAE(48, 64, 6)
    return Setup(model, torch.optim.AdamW(model.parameters(), 1e-3), data.sampler(train),
                 c.vae_loss(beta=100.0), validation=val, probe=val, latent="mu")


def _kl_vanished(trace, model) -> Manifest:
    model.eval()
    with torch.no_grad():
        _, mu, logvar = model(trace.probe_in)
    kl = (0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)).mean(0)
    return Manifest(float(kl.max()) < 0.05, 0, f"largest KL per dimension {float(kl.max()):.4f}")


SCENARIOS = [
    Scenario("latent_too_large/linear_digits_k64", "latent_too_large",
             "linear AE, digits (64 pixels), code size 64, Adam", _wide_linear_digits,
             _identity_like, quick=True),
    Scenario("latent_too_large/mlp_digits_k96", "latent_too_large",
             "LeakyReLU MLP, digits (64 pixels), code size 96, Adam", _wide_mlp_digits,
             _identity_like),
    Scenario("latent_too_small/mlp_digits_k1", "latent_too_small", "MLP, digits, code size 1, Adam",
             _narrow_mlp_digits, _at_the_bound(1), quick=True),
    Scenario("latent_too_small/linear_lowrank_k2_sgd", "latent_too_small",
             "linear AE, rank-12 data, code size 2, SGD+momentum", _narrow_linear_lowrank_sgd,
             _at_the_bound(2)),
    Scenario("latent_too_small/conv_digits_k2", "latent_too_small", "conv AE, digits, code size 2, "
             "Adam", _narrow_conv_digits, _at_the_bound(2)),
    Scenario("posterior_collapse/vae_digits_beta30", "posterior_collapse",
             "VAE, digits, KL weight 30, Adam", _vae_digits_heavy_kl, _kl_vanished, quick=True),
    Scenario("posterior_collapse/vae_lowrank_beta100_adamw", "posterior_collapse",
             "VAE, low-rank data, KL weight 100, AdamW", _vae_lowrank_heavy_kl_adamw,
             _kl_vanished),
]
