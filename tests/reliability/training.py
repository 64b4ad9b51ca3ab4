"""A tiny autoencoder on real digit images and a plain loop with a hook for faults."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn

BATCH = 32


def digits(n: int = 256) -> torch.Tensor:
    return torch.from_numpy(load_digits().data[:n].astype(np.float32) / 16.0)


class TinyAE(nn.Module):
    def __init__(self, features: int = 64, latent: int = 4) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(features, 16), nn.ReLU(), nn.Linear(16, latent))
        self.decoder = nn.Sequential(nn.Linear(latent, 16), nn.ReLU(), nn.Linear(16, features))

    def forward(self, x):
        return self.decoder(self.encoder(x))


def train(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    data: torch.Tensor,
    steps: int,
    before_step: Callable[[int, torch.Tensor], torch.Tensor] | None = None,
) -> int:
    """A user's loop; ``before_step(step, x)`` may inject a fault and returns the batch.
    Returns how many steps ran."""
    done = 0
    for step in range(steps):
        start = (step * BATCH) % (data.shape[0] - BATCH + 1)
        x = data[start : start + BATCH]
        if before_step is not None:
            x = before_step(step, x)
        optimizer.zero_grad()
        loss = ((model(x) - x) ** 2).mean()
        loss.backward()
        optimizer.step()
        done += 1
    return done
