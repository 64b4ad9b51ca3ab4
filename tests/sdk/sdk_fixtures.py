"""Tiny autoencoders of every kind the SDK promises to handle, real data, a plain loop."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn


def digits(n: int = 256) -> torch.Tensor:
    """Real 8x8 images in [0, 1], shape (n, 64)."""
    images = load_digits().data[:n].astype(np.float32) / 16.0
    return torch.from_numpy(images)


def sequences(n: int = 64, steps: int = 12, features: int = 3) -> torch.Tensor:
    """Smooth multi-channel waves with random phases, shape (n, steps, features)."""
    generator = torch.Generator().manual_seed(1)
    phase = torch.rand(n, 1, features, generator=generator) * 6.28
    t = torch.linspace(0, 6.28, steps).reshape(1, steps, 1)
    return torch.sin(t + phase)


class MLPAE(nn.Module):
    def __init__(self, features: int = 64, latent: int = 8, dropout: float = 0.0) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(features, 32), nn.ReLU(), nn.Dropout(dropout), nn.Linear(32, latent)
        )
        self.decoder = nn.Sequential(nn.Linear(latent, 32), nn.ReLU(), nn.Linear(32, features))

    def forward(self, x):
        return self.decoder(self.encoder(x))


class TupleAE(MLPAE):
    def forward(self, x):
        z = self.encoder(x)
        return self.decoder(z), z


class DictAE(MLPAE):
    def forward(self, x):
        z = self.encoder(x)
        return {"z": z, "x_hat": self.decoder(z)}


@dataclass
class AEOutput:
    """An output class of one's own, as many codebases (and model hubs) define them."""

    reconstruction: torch.Tensor
    latent: torch.Tensor
    loss: torch.Tensor | None = None


class DataclassAE(MLPAE):
    def forward(self, x):
        z = self.encoder(x)
        return AEOutput(self.decoder(z), z)


class Namespaced:
    """A plain class holding its tensors as attributes (no dataclass, no dict)."""

    def __init__(self, **values) -> None:
        self.__dict__.update(values)


class NamespaceAE(MLPAE):
    def forward(self, x):
        z = self.encoder(x)
        return Namespaced(z=z, x_hat=self.decoder(z))


class VAE(nn.Module):
    """Returns (recon, mu, logvar); samples with the global RNG, as most VAEs do."""

    def __init__(self, features: int = 64, latent: int = 6) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(features, 32), nn.Tanh())
        self.mu = nn.Linear(32, latent)
        self.logvar = nn.Linear(32, latent)
        self.decoder = nn.Sequential(nn.Linear(latent, 32), nn.Tanh(), nn.Linear(32, features))

    def forward(self, x):
        h = self.body(x)
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.decoder(z), mu, logvar


class PairEncoder(nn.Module):
    def __init__(self, features: int, latent: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(features, 32), nn.ReLU())
        self.mu = nn.Linear(32, latent)
        self.logvar = nn.Linear(32, latent)

    def forward(self, x):
        h = self.body(x)
        return self.mu(h), self.logvar(h)


class EncoderPairVAE(nn.Module):
    """A VAE whose encoder returns (mu, logvar) and whose forward returns only the recon."""

    def __init__(self, features: int = 64, latent: int = 5) -> None:
        super().__init__()
        self.encoder = PairEncoder(features, latent)
        self.decoder = nn.Sequential(nn.Linear(latent, 32), nn.ReLU(), nn.Linear(32, features))

    def forward(self, x):
        mu, logvar = self.encoder(x)
        return self.decoder(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar))


class ConvAE(nn.Module):
    """8x8 single-channel images, BatchNorm in both halves."""

    def __init__(self, latent_channels: int = 4) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
            nn.Conv2d(8, latent_channels, 3, stride=2, padding=1),
        )
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(latent_channels, 8, 4, stride=2, padding=1), nn.BatchNorm2d(8),
            nn.ReLU(), nn.ConvTranspose2d(8, 1, 4, stride=2, padding=1), nn.Sigmoid(),
        )

    def forward(self, x):
        return self.decoder(self.encoder(x))


class RecurrentAE(nn.Module):
    """Sequence autoencoder: the last hidden state is the code, repeated for the decoder."""

    def __init__(self, cell: type = nn.GRU, features: int = 3, latent: int = 4) -> None:
        super().__init__()
        self.rnn_in = cell(features, 16, batch_first=True)
        self.to_code = nn.Linear(16, latent)
        self.rnn_out = cell(latent, 16, batch_first=True)
        self.readout = nn.Linear(16, features)

    def forward(self, x):
        hidden, _ = self.rnn_in(x)
        code = self.to_code(hidden[:, -1])
        repeated = code.unsqueeze(1).expand(-1, x.shape[1], -1)
        out, _ = self.rnn_out(repeated)
        return self.readout(out)


class PackedEncoderAE(nn.Module):
    """An LSTM encoder named ``encoder`` reading packed variable-length sequences (it
    returns a PackedSequence and (h, c)); its last hidden state is squeezed into the code."""

    def __init__(self, features: int = 3, latent: int = 4, bidirectional: bool = False) -> None:
        super().__init__()
        hidden = 16 * (2 if bidirectional else 1)
        self.encoder = nn.LSTM(features, 16, batch_first=True, bidirectional=bidirectional)
        self.to_code = nn.Linear(hidden, latent)
        self.decoder = nn.GRU(latent, 16, batch_first=True)
        self.readout = nn.Linear(16, features)

    def forward(self, x):
        lengths = torch.full((x.shape[0],), x.shape[1], dtype=torch.long)
        lengths[::2] = x.shape[1] - 3  # every other sequence is shorter
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True,
                                                   enforce_sorted=False)
        _, (hidden, _) = self.encoder(packed)
        last = torch.cat([hidden[-2], hidden[-1]], -1) if self.encoder.bidirectional \
            else hidden[-1]
        code = self.to_code(last)
        out, _ = self.decoder(code.unsqueeze(1).expand(-1, x.shape[1], -1))
        return self.readout(out)


class Conv1dSequenceAE(nn.Module):
    """Sequences as (batch, channels, time) through 1-D convolutions."""

    def __init__(self, channels: int = 3, latent: int = 2) -> None:
        super().__init__()
        self.enc = nn.Sequential(nn.Conv1d(channels, 8, 3, padding=1), nn.ReLU(),
                                 nn.Conv1d(8, latent, 3, stride=2, padding=1))
        self.dec = nn.Sequential(nn.ConvTranspose1d(latent, 8, 4, stride=2, padding=1),
                                 nn.ReLU(), nn.Conv1d(8, channels, 3, padding=1))

    def forward(self, x):
        return self.dec(self.enc(x))


def unnamed_mlp(latent: int = 6) -> nn.Sequential:
    """No submodule called encoder: the bottleneck must be found as the narrowest output."""
    return nn.Sequential(
        nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, latent), nn.Linear(latent, 32), nn.ReLU(),
        nn.Linear(32, 64),
    )


def train(model, optimizer, data, steps: int, batch: int = 64, target=None, loss_fn=None):
    """A plain loop: zero_grad / forward / loss / backward / step (or a manual update)."""
    loss_fn = loss_fn or (lambda out, x: ((out - x) ** 2).mean())
    for step in range(steps):
        start = (step * batch) % max(1, data.shape[0] - batch + 1)
        x = data[start : start + batch]
        if optimizer is not None:
            optimizer.zero_grad()
        else:
            model.zero_grad()
        out = model(x)
        if isinstance(out, dict):
            out = out["x_hat"]
        elif isinstance(out, tuple):
            out = out[0]
        elif isinstance(out, AEOutput):
            out = out.reconstruction
        elif isinstance(out, Namespaced):
            out = out.x_hat
        loss = loss_fn(out, x if target is None else target(x))
        loss.backward()
        if optimizer is not None:
            optimizer.step()
        else:
            with torch.no_grad():
                for p in model.parameters():
                    if p.grad is not None:
                        p -= 0.05 * p.grad
    return model


def final_state(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}
