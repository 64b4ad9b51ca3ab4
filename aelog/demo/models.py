"""Small fully connected autoencoders for 64-pixel digits: a plain one and a VAE."""

from __future__ import annotations

import torch
from torch import nn


class MLPAutoencoder(nn.Module):
    """64 -> hidden -> code -> hidden -> 64, ReLU inside, sigmoid output (pixels in [0, 1])
    unless ``sigmoid_output`` is False (a linear output)."""

    def __init__(self, inputs: int = 64, hidden: int = 128, code: int = 12,
                 sigmoid_output: bool = True) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, code), nn.ReLU()
        )
        self.decoder = nn.Sequential(
            nn.Linear(code, hidden), nn.ReLU(), nn.Linear(hidden, inputs),
            nn.Sigmoid() if sigmoid_output else nn.Identity(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class VAEEncoder(nn.Module):
    """Returns (mu, logvar): the shape aelog recognises as a VAE's latent."""

    def __init__(self, inputs: int, hidden: int, code: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU())
        self.mu = nn.Linear(hidden, code)
        self.logvar = nn.Linear(hidden, code)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)
        return self.mu(h), self.logvar(h)


class VAE(nn.Module):
    """A small VAE; ``forward`` returns (reconstruction, mu, logvar)."""

    def __init__(self, inputs: int = 64, hidden: int = 64, code: int = 8) -> None:
        super().__init__()
        self.encoder = VAEEncoder(inputs, hidden, code)
        self.decoder = nn.Sequential(
            nn.Linear(code, hidden), nn.ReLU(), nn.Linear(hidden, inputs), nn.Sigmoid()
        )
        self.sampling = torch.Generator().manual_seed(0)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x)
        # reparameterise with our own generator: the demo's draws stay reproducible
        noise = torch.randn(mu.shape, generator=self.sampling)
        z = mu + noise * torch.exp(0.5 * logvar) if self.training else mu
        return self.decoder(z), mu, logvar


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)) summed over latent dimensions, mean over the batch."""
    return (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp())).sum(dim=1).mean()
