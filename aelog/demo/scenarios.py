"""The demo's runs: one healthy autoencoder and collapsed ones, each with a different cause.

Each scenario builds its model and optimizer from a seed and says how to compute its loss,
so the training loop (``train.py``) stays the plain loop a user writes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from aelog.demo.models import VAE, MLPAutoencoder, kl_divergence

LossFn = Callable[[object, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Scenario:
    name: str
    """run name inside the demo logdir (``team/what``)."""
    tags: dict[str, str]
    story: str
    """what was done to this run, in a few words (printed by the demo)."""
    build: Callable[[], tuple[nn.Module, torch.optim.Optimizer]]
    loss: LossFn
    expected_cause: str | None
    """the cause this run was built to show (None: the healthy run)."""
    latent: str = "encoder"
    """the module whose output is the code."""


def _mse(output, batch: torch.Tensor) -> torch.Tensor:
    return nn.functional.mse_loss(output, batch)


def _vae_loss(beta: float) -> LossFn:
    def loss(output, batch: torch.Tensor) -> torch.Tensor:
        reconstruction, mu, logvar = output
        per_sample = nn.functional.mse_loss(reconstruction, batch, reduction="sum") / len(batch)
        return per_sample + beta * kl_divergence(mu, logvar)

    return loss


def _healthy() -> tuple[nn.Module, torch.optim.Optimizer]:
    model = MLPAutoencoder()
    return model, torch.optim.Adam(model.parameters(), lr=3e-3)


def _constant_init() -> tuple[nn.Module, torch.optim.Optimizer]:
    model = MLPAutoencoder()
    for module in model.modules():
        if isinstance(module, nn.Linear):
            nn.init.constant_(module.weight, 0.05)
            nn.init.zeros_(module.bias)
    return model, torch.optim.Adam(model.parameters(), lr=3e-3)


def _lr_too_high() -> tuple[nn.Module, torch.optim.Optimizer]:
    model = MLPAutoencoder(sigmoid_output=False)
    return model, torch.optim.Adam(model.parameters(), lr=2.0)


def _over_regularized() -> tuple[nn.Module, torch.optim.Optimizer]:
    model = MLPAutoencoder()
    return model, torch.optim.Adam(model.parameters(), lr=3e-3, weight_decay=3.0)


def _dead_code() -> tuple[nn.Module, torch.optim.Optimizer]:
    model = MLPAutoencoder()
    with torch.no_grad():  # a bottleneck ReLU whose bias pushes every unit below zero
        model.encoder[2].bias.fill_(-8.0)
    return model, torch.optim.Adam(model.parameters(), lr=3e-3)


def _vae() -> tuple[nn.Module, torch.optim.Optimizer]:
    model = VAE()
    return model, torch.optim.Adam(model.parameters(), lr=3e-3)


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("vision/healthy", {"team": "vision", "owner": "ana"},
             "MLP autoencoder, Adam lr 3e-3, default init", _healthy, _mse, None),
    Scenario("vision/constant_init", {"team": "vision", "owner": "ben"},
             "every weight set to 0.05, biases 0", _constant_init, _mse, "init_constant"),
    Scenario("vision/vae_beta_20", {"team": "vision", "owner": "ana"},
             "VAE with the KL term weighted 20x", _vae, _vae_loss(20.0), "posterior_collapse"),
    Scenario("speech/lr_too_high", {"team": "speech", "owner": "chen"},
             "Adam with lr 2.0, linear output", _lr_too_high, _mse, "lr_too_high"),
    Scenario("speech/weight_decay_3", {"team": "speech", "owner": "dana"},
             "Adam with weight_decay 3.0", _over_regularized, _mse, "over_regularized"),
    Scenario("speech/dead_bottleneck", {"team": "speech", "owner": "chen"},
             "bottleneck ReLU bias initialised to -8", _dead_code, _mse, "dead_relu"),
)
