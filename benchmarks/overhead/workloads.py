"""The three training loops every arm runs: small, convolutional, and wide (~10M parameters).

Each is an autoencoder on scikit-learn's bundled 8x8 digits (nothing downloads), batch 128,
Adam, mean squared error: the loop a user would write before adding any logging.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

BATCH_SIZE = 128
LEARNING_RATE = 1e-3


class DigitsMLPAutoencoder(nn.Module):
    """64 -> 128 -> 32 -> 128 -> 64 with ReLU: the size of a first experiment."""

    def __init__(self, hidden: int = 128, code: int = 32) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, code))
        self.decoder = nn.Sequential(nn.Linear(code, hidden), nn.ReLU(), nn.Linear(hidden, 64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class DigitsConvAutoencoder(nn.Module):
    """1x8x8 -> conv 16 -> conv 32 (stride 2) -> 16-dim code -> transposed convs back."""

    def __init__(self, code: int = 16) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(), nn.Linear(32 * 4 * 4, code),
        )
        self.expand = nn.Linear(code, 32 * 4 * 4)
        self.decoder = nn.Sequential(
            nn.ReLU(),
            nn.ConvTranspose2d(32, 16, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(16, 1, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.expand(self.encoder(x)).view(-1, 32, 4, 4)
        return self.decoder(hidden)


class WideMLPAutoencoder(nn.Module):
    """64 -> 2176 -> 2176 -> 32 -> 2176 -> 2176 -> 64: about 9.9M parameters."""

    def __init__(self, hidden: int = 2176, code: int = 32) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, code),
        )
        self.decoder = nn.Sequential(
            nn.Linear(code, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, 64),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    build: Callable[[], nn.Module]
    image_shape: tuple[int, ...]
    """the shape of one sample as the model takes it."""
    steps: int
    """training steps per arm at default settings (the full benchmark)."""
    every_step_steps: int
    """training steps per arm with every step logged (costly for the peers)."""
    memory_steps: int
    """steps before the first memory reading; the second comes after 10x more."""
    rounds: int = 5
    """rounds at default settings, each with fresh copies of every arm: the ratios' medians
    over rounds steady the verdicts on a shared machine (the 10M model's rounds are long,
    and its steps long enough to vary less, so it has fewer)."""
    left_out: dict[str, str] = field(default_factory=dict)
    """arms not run on this workload, each with the measured reason."""

    def model(self, seed: int = 0) -> nn.Module:
        torch.manual_seed(seed)
        return self.build()

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.model().parameters())


WORKLOADS = (
    Workload("mlp_digits", "MLP autoencoder, digits", DigitsMLPAutoencoder, (64,),
             steps=2000, every_step_steps=300, memory_steps=100),
    Workload("conv_digits", "conv autoencoder, digits", DigitsConvAutoencoder, (1, 8, 8),
             steps=600, every_step_steps=100, memory_steps=50),
    Workload(
        "wide_mlp_10m", "wide MLP autoencoder, ~10M parameters", WideMLPAutoencoder, (64,),
        steps=300, every_step_steps=20, memory_steps=5, rounds=3,
        left_out={
            "cockpit": "its per-sample gradients (128 x 9.9M floats, 5 GB per quantity) took "
                       "the process past this machine's 23 GB and the kernel killed it (OOM) "
                       "when logging every step",
        },
    ),
)


def by_name(name: str) -> Workload:
    for workload in WORKLOADS:
        if workload.name == name:
            return workload
    raise KeyError(f"unknown workload {name!r}; known: {[w.name for w in WORKLOADS]}")


def digit_images() -> torch.Tensor:
    """1797 real digits as float32 rows of 64 pixels in [0, 1]."""
    from sklearn.datasets import load_digits

    return torch.from_numpy(load_digits().data.astype(np.float32) / 16.0)


class Batches:
    """The same batch sequence for every arm: step i of each arm sees batch i.

    Only the indices are drawn up front; a batch is gathered when asked for, outside the
    timed step, so the data costs no memory that grows with the number of steps.
    """

    def __init__(self, workload: Workload, steps: int, seed: int = 0) -> None:
        self.images = digit_images().reshape(-1, *workload.image_shape)
        generator = torch.Generator().manual_seed(seed)
        self.indices = torch.randint(len(self.images), (steps, BATCH_SIZE), generator=generator)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, step: int) -> torch.Tensor:
        return self.images[self.indices[step]]
