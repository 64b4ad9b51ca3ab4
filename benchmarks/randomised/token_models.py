"""Token-sequence autoencoders as people write them: logits over a vocabulary per position.

Shared by the randomised benchmark and the SDK's tests on real training loops.
"""

from __future__ import annotations

import torch
from torch import nn


def markov_tokens(n: int = 2048, length: int = 16, vocab: int = 24, seed: int = 0,
                  sharpness: float = 3.0) -> torch.Tensor:
    """Sequences from a random Markov chain: (n, length) int64 with structure to learn."""
    g = torch.Generator().manual_seed(seed)
    transitions = torch.softmax(torch.randn(vocab, vocab, generator=g) * sharpness, -1)
    tokens = torch.zeros(n, length, dtype=torch.long)
    tokens[:, 0] = torch.randint(0, vocab, (n,), generator=g)
    for t in range(1, length):
        tokens[:, t] = torch.multinomial(transitions[tokens[:, t - 1]], 1, generator=g)[:, 0]
    return tokens


class GruTokenAE(nn.Module):
    """Encode the sequence into a code, decode every position from it: (B, T, V) logits."""

    def __init__(self, vocab: int = 24, hidden: int = 48, code: int = 16) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, 32)
        self.encoder = nn.GRU(32, hidden, batch_first=True)
        self.to_code = nn.Linear(hidden, code)
        self.from_code = nn.Linear(code, hidden)
        self.decoder = nn.GRU(hidden, hidden, batch_first=True)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        _, state = self.encoder(self.embed(tokens))
        code = self.to_code(state[-1])
        steps = self.from_code(code).unsqueeze(1).expand(-1, tokens.shape[1], -1)
        decoded, _ = self.decoder(steps)
        return self.out(decoded)


class ConvTokenAE(nn.Module):
    """A 1-D conv autoencoder over embedded tokens: (B, V, T) logits, the layout
    ``F.cross_entropy`` takes without a permute."""

    def __init__(self, vocab: int = 24, channels: int = 32, code: int = 8) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, channels)
        self.encoder = nn.Sequential(
            nn.Conv1d(channels, channels, 3, padding=1), nn.ReLU(),
            nn.Conv1d(channels, code, 3, stride=2, padding=1))
        self.decoder = nn.Sequential(
            nn.ConvTranspose1d(code, channels, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv1d(channels, vocab, 3, padding=1))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(self.embed(tokens).transpose(1, 2)))


class GruTextVAE(nn.Module):
    """Bowman et al.'s sentence VAE: z sets the decoder's first state, the decoder reads the
    previous tokens (teacher forcing) and returns logits for tokens[:, 1:]."""

    def __init__(self, vocab: int = 24, hidden: int = 48, latent: int = 8) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, 32)
        self.encoder = nn.GRU(32, hidden, batch_first=True)
        self.mu = nn.Linear(hidden, latent)
        self.logvar = nn.Linear(hidden, latent)
        self.z_to_state = nn.Linear(latent, hidden)
        self.decoder = nn.GRU(32, hidden, batch_first=True)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, tokens: torch.Tensor):
        _, state = self.encoder(self.embed(tokens))
        mu, logvar = self.mu(state[-1]), self.logvar(state[-1])
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        first = torch.tanh(self.z_to_state(z)).unsqueeze(0)
        decoded, _ = self.decoder(self.embed(tokens[:, :-1]), first)
        return self.out(decoded), mu, logvar


class TransformerTextVAE(nn.Module):
    """A Transformer VAE: mu and log-variance read from a learned query token, a causal
    decoder with teacher forcing that attends to z; returns a dict as many codebases do."""

    def __init__(self, vocab: int = 24, width: int = 32, latent: int = 8,
                 length: int = 16) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab + 1, width)  # + a start token
        self.start = vocab
        self.position = nn.Parameter(torch.randn(1, length + 1, width) * 0.02)
        self.query = nn.Parameter(torch.randn(1, 1, width) * 0.02)
        layer = nn.TransformerEncoderLayer(width, 2, 64, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
        self.to_stats = nn.Linear(width, 2 * latent)
        self.from_z = nn.Linear(latent, width)
        block = nn.TransformerDecoderLayer(width, 2, 64, dropout=0.0, batch_first=True)
        self.decoder = nn.TransformerDecoder(block, 1)
        self.out = nn.Linear(width, vocab)

    def forward(self, tokens: torch.Tensor) -> dict[str, torch.Tensor]:
        batch, length = tokens.shape
        seen = self.embed(tokens) + self.position[:, 1:length + 1]
        encoded = self.encoder(torch.cat([self.query.expand(batch, -1, -1), seen], 1))
        mu, logvar = self.to_stats(encoded[:, 0]).chunk(2, -1)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        start = torch.full_like(tokens[:, :1], self.start)
        previous = self.embed(torch.cat([start, tokens[:, :-1]], 1)) + self.position[:, :length]
        causal = nn.Transformer.generate_square_subsequent_mask(length)
        decoded = self.decoder(previous, self.from_z(z).unsqueeze(1), tgt_mask=causal)
        return {"logits": self.out(decoded), "mu": mu, "logvar": logvar}
