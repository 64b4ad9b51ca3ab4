"""Tiny autoencoders: MLP, convolutional, VAE, sequence (GRU), linear (the article's)."""

from __future__ import annotations

import torch
from torch import nn


class MLPAutoencoder(nn.Module):
    def __init__(self, d: int, hidden: int, k: int, act=nn.ReLU, code_act=None,
                 out_act=None, dropout: float = 0.0) -> None:
        super().__init__()
        enc = [nn.Linear(d, hidden), act()]
        if dropout:
            enc.append(nn.Dropout(dropout))
        enc.append(nn.Linear(hidden, k))
        if code_act is not None:
            enc.append(code_act())
        dec = [nn.Linear(k, hidden), act(), nn.Linear(hidden, d)]
        if out_act is not None:
            dec.append(out_act())
        self.encoder = nn.Sequential(*enc)
        self.decoder = nn.Sequential(*dec)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class LinearAutoencoder(nn.Module):
    """The article's SimpleAutoencoder."""

    def __init__(self, d: int, k: int) -> None:
        super().__init__()
        self.encoder = nn.Linear(d, k)
        self.decoder = nn.Linear(k, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class ConvAutoencoder(nn.Module):
    """For 8x8 digits given as 64 features (reshaped inside)."""

    def __init__(self, k: int, code_act=None, out_act=None) -> None:
        super().__init__()
        enc = [nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(),
               nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(),
               nn.Linear(16 * 4 * 4, k)]
        if code_act is not None:
            enc.append(code_act())
        dec = [nn.Linear(k, 16 * 4 * 4), nn.ReLU(), nn.Unflatten(1, (16, 4, 4)),
               nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1), nn.ReLU(),
               nn.Conv2d(8, 1, 3, padding=1), nn.Flatten()]
        if out_act is not None:
            dec.append(out_act())
        self.encoder = nn.Sequential(*enc)
        self.decoder = nn.Sequential(*dec)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class VAE(nn.Module):
    """Returns (reconstruction, mu, logvar); samples with the global RNG when training."""

    def __init__(self, d: int, hidden: int, k: int) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(d, hidden), nn.ReLU())
        self.mu = nn.Linear(hidden, k)
        self.logvar = nn.Linear(hidden, k)
        self.decoder = nn.Sequential(nn.Linear(k, hidden), nn.ReLU(), nn.Linear(hidden, d))

    def forward(self, x: torch.Tensor):
        h = self.encoder(x)
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if self.training else mu
        return self.decoder(z), mu, logvar


class SequenceAutoencoder(nn.Module):
    """GRU encoder -> code -> GRU decoder fed the code at every step; (n, length, 1)."""

    def __init__(self, length: int, hidden: int, k: int, detach_code: bool = False) -> None:
        super().__init__()
        self.length = length
        self.detach_code = detach_code
        self.encoder = nn.GRU(1, hidden, batch_first=True)
        self.to_code = nn.Linear(hidden, k)
        self.from_code = nn.Linear(k, hidden)
        self.decoder = nn.GRU(hidden, hidden, batch_first=True)
        self.out = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, h = self.encoder(x)
        code = self.to_code(h[-1])
        if self.detach_code:
            code = code.detach()
        step_in = self.from_code(code).unsqueeze(1).expand(-1, self.length, -1)
        out, _ = self.decoder(step_in)
        return self.out(out)
