"""A tiny autoencoder on real images and helpers shared by the training-loop tests."""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn


def digits(n: int = 256) -> torch.Tensor:
    """Real 8x8 images in [0, 1], shape (n, 64)."""
    images = load_digits().data[:n].astype(np.float32) / 16.0
    return torch.from_numpy(images)


def batches(data: torch.Tensor, count: int, size: int = 32):
    """``count`` consecutive batches, wrapping around the data."""
    for index in range(count):
        start = (index * size) % (data.shape[0] - size + 1)
        yield data[start : start + size]


class TinyAE(nn.Module):
    def __init__(self, features: int = 64, latent: int = 6) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(features, 24), nn.ReLU(), nn.Linear(24, latent))
        self.decoder = nn.Sequential(nn.Linear(latent, 24), nn.ReLU(), nn.Linear(24, features))

    def forward(self, x):
        return self.decoder(self.encoder(x))


def mse(out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return ((out.float() - x) ** 2).mean()


def grad_norm(model: nn.Module) -> float:
    """Independent reference: the global L2 norm of the gradients, in float64."""
    return math.sqrt(
        sum(float(p.grad.double().pow(2).sum()) for p in model.parameters() if p.grad is not None)
    )


def state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same_state(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


def series(run, signal: str) -> list[tuple[int, float]]:
    found = run.signal(signal)
    assert found is not None, f"{signal} was not logged"
    return list(zip(found.steps.tolist(), found.values.tolist(), strict=True))
