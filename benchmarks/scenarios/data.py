"""Small real and synthetic data sets, all in memory, nothing downloaded."""

from __future__ import annotations

import math

import torch
from sklearn.datasets import load_digits


def digits(scale: str = "unit") -> tuple[torch.Tensor, torch.Tensor]:
    """sklearn's 8x8 digits as (train, validation), 64 features.

    scale: "unit" (pixels in [0, 1]), "standard" (per-pixel standardised), "raw" (0..16).
    """
    x = torch.tensor(load_digits().data, dtype=torch.float32)
    if scale == "unit":
        x = x / 16.0
    elif scale == "standard":
        x = (x - x.mean(0)) / x.std(0).clamp_min(0.5)
    gen = torch.Generator().manual_seed(0)
    order = torch.randperm(x.shape[0], generator=gen)
    x = x[order]
    return x[:1500], x[1500:]


def low_rank(n: int = 1200, d: int = 48, rank: int = 5, noise: float = 0.05,
             seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Data on a ``rank``-dimensional subspace of R^d plus a little isotropic noise."""
    gen = torch.Generator().manual_seed(seed)
    basis = torch.linalg.qr(torch.randn(d, rank, generator=gen))[0] * math.sqrt(d / rank)
    z = torch.randn(n, rank, generator=gen)
    x = z @ basis.T + noise * torch.randn(n, d, generator=gen)
    return x[: n - 200], x[n - 200 :]


def binary(n: int = 1200, d: int = 64, rank: int = 6, seed: int = 1):
    """Binary vectors whose on-probabilities follow a low-rank logit structure."""
    gen = torch.Generator().manual_seed(seed)
    factors = torch.randn(n, rank, generator=gen)
    logits = 3 * factors @ torch.randn(rank, d, generator=gen) / rank**0.5
    x = (torch.rand(n, d, generator=gen) < torch.sigmoid(logits)).float()
    return x[: n - 200], x[n - 200 :]


def sequences(n: int = 1000, length: int = 24, seed: int = 2):
    """Sine waves of random frequency, phase and amplitude, shaped (n, length, 1)."""
    gen = torch.Generator().manual_seed(seed)
    t = torch.linspace(0, 2 * math.pi, length)
    freq = 0.5 + 1.5 * torch.rand(n, 1, generator=gen)
    phase = 2 * math.pi * torch.rand(n, 1, generator=gen)
    amp = 0.5 + torch.rand(n, 1, generator=gen)
    x = (amp * torch.sin(freq * t + phase)).unsqueeze(-1)
    return x[: n - 200], x[n - 200 :]


def isotropic(n: int = 1000, d: int = 100, seed: int = 3) -> torch.Tensor:
    """The article's data: torch.randn(1000, 100), no low-dimensional structure."""
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


def sampler(data: torch.Tensor, batch_size: int = 64, seed: int = 0):
    """step -> the next batch of a shuffled pass (a new permutation each epoch, like a
    DataLoader with shuffle=True), from a generator of its own."""
    gen = torch.Generator().manual_seed(seed)
    per_epoch = max(1, data.shape[0] // batch_size)
    order: list[torch.Tensor] = []

    def batch(step: int) -> torch.Tensor:
        if step % per_epoch == 0 or not order:
            order[:] = [torch.randperm(data.shape[0], generator=gen)]
        start = (step % per_epoch) * batch_size
        return data[order[0][start : start + batch_size]]

    return batch
