"""A drawn scenario made real: its data, its model with the defect applied, its loop.

The loop is a user's: the two aelog lines around plain PyTorch, an eval pass on held-out
data every 50 steps. The twin (``spec.fixed()``) is built the same way from the same seed.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch import nn

from benchmarks.randomised.draw import Spec
from benchmarks.randomised.token_models import (
    ConvTokenAE,
    GruTextVAE,
    GruTokenAE,
    TransformerTextVAE,
    markov_tokens,
)

VOCAB = 24
EVAL_EVERY = 50


# ------------------------------------------------------------------------------ data


def make_data(spec: Spec) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, held-out) for the spec's data kind; the defect may change what trains."""
    g = torch.Generator().manual_seed(10_000 + spec.seed)
    if spec.data == "tokens":
        tokens = markov_tokens(n=2560, vocab=VOCAB, seed=spec.seed,
                               sharpness=2.0 + 2.0 * torch.rand(1, generator=g).item())
        return tokens[:2048], tokens[2048:]
    if spec.data in ("digits", "images255"):
        x = torch.tensor(load_digits().data, dtype=torch.float32)
        x = x[torch.randperm(len(x), generator=g)]
        x = x / 16.0 if spec.data == "digits" else x * (255.0 / 16.0)
    elif spec.data == "lowrank":
        rank = int(torch.randint(4, 9, (1,), generator=g))
        x = torch.randn(2560, rank, generator=g) @ torch.randn(rank, 32, generator=g)
        x = x / rank**0.5 + 0.05 * torch.randn(2560, 32, generator=g)
    elif spec.data == "sines":
        t = torch.linspace(0, 1, 32)
        freq = 1 + 4 * torch.rand(2560, 1, generator=g)
        phase = 6.28 * torch.rand(2560, 1, generator=g)
        x = torch.sin(6.28 * freq * t + phase) + 0.05 * torch.randn(2560, 32, generator=g)
    elif spec.data == "binary":
        z = torch.randn(2560, 6, generator=g) @ torch.randn(6, 32, generator=g)
        x = torch.bernoulli(torch.sigmoid(1.5 * z), generator=g)
    else:  # tabular: mixed nonlinear columns, standardised
        z = torch.randn(2560, 5, generator=g)
        raw = torch.cat([z @ torch.randn(5, 8, generator=g),
                         torch.exp(0.5 * z @ torch.randn(5, 4, generator=g)),
                         torch.tanh(z @ torch.randn(5, 4, generator=g))], 1)
        x = (raw - raw.mean(0)) / raw.std(0)
    if spec.defect == "saturated_activation":
        x = x * (20 + 80 * spec.severity)  # raw sensor units fed to tanh / sigmoid layers
    split = len(x) * 4 // 5
    return x[:split].contiguous(), x[split:].contiguous()


# ------------------------------------------------------------------------------ models


def _activation(name: str) -> nn.Module:
    return {"relu": nn.ReLU(), "gelu": nn.GELU(), "leaky": nn.LeakyReLU(0.1),
            "tanh": nn.Tanh(), "sigmoid": nn.Sigmoid()}[name]


class Autoencoder(nn.Module):
    """encoder -> (code | mu, logvar) -> decoder -> optional output activation."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module, width: int, latent: int,
                 vae: bool, output: str) -> None:
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.vae = vae
        self.head = nn.Linear(width, 2 * latent if vae else latent)
        self.squash = {"sigmoid": nn.Sigmoid(), "tanh": nn.Tanh()}.get(output, nn.Identity())

    def forward(self, x: torch.Tensor):
        h = self.head(self.encoder(x))
        if not self.vae:
            return self.squash(self.decoder(h))
        mu, logvar = h.chunk(2, -1)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        return self.squash(self.decoder(z)), mu, logvar


class _Sequence(nn.Module):
    """(B, L) -> (B, L, 1) for the sequence encoders, and back."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(-1)


class GruEncoder(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.rnn = nn.GRU(1, width, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rnn(x.unsqueeze(-1))[1][-1]


class GruDecoder(nn.Module):
    def __init__(self, latent: int, width: int, length: int) -> None:
        super().__init__()
        self.length = length
        self.start = nn.Linear(latent, width)
        self.rnn = nn.GRU(width, width, batch_first=True)
        self.out = nn.Linear(width, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        steps = self.start(z).unsqueeze(1).expand(-1, self.length, -1)
        return self.out(self.rnn(steps)[0]).squeeze(-1)


class TransformerEncoder(nn.Module):
    def __init__(self, width: int, length: int) -> None:
        super().__init__()
        self.embed = nn.Linear(1, width)
        self.position = nn.Parameter(torch.randn(1, length, width) * 0.02)
        layer = nn.TransformerEncoderLayer(width, 4, 2 * width, dropout=0.0, batch_first=True)
        self.body = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.embed(x.unsqueeze(-1)) + self.position).mean(1)


class TransformerDecoder(nn.Module):
    def __init__(self, latent: int, width: int, length: int) -> None:
        super().__init__()
        self.start = nn.Linear(latent, width)
        self.position = nn.Parameter(torch.randn(1, length, width) * 0.02)
        layer = nn.TransformerEncoderLayer(width, 4, 2 * width, dropout=0.0, batch_first=True)
        self.body = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
        self.out = nn.Linear(width, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(self.start(z).unsqueeze(1) + self.position)).squeeze(-1)


def _vector_model(spec: Spec, features: int, latent: int) -> nn.Module:
    w, act = spec.width, spec.activation
    if spec.family == "mlp" and spec.depth == 1:
        # the tutorial's autoencoder: one layer each side of the code (latent_too_large
        # draws it, with a code wider than the input; its twin keeps a narrow one)
        encoder = nn.Sequential(nn.Linear(features, w), _activation(act))
        decoder = nn.Sequential(nn.Linear(latent, w), _activation(act), nn.Linear(w, features))
    elif spec.family == "mlp":
        encoder = nn.Sequential(nn.Linear(features, w), _activation(act),
                                nn.Linear(w, w), _activation(act))
        decoder = nn.Sequential(nn.Linear(latent, w), _activation(act),
                                nn.Linear(w, w), _activation(act), nn.Linear(w, features))
    elif spec.family == "conv2d":
        c = max(8, w // 8)
        encoder = nn.Sequential(
            nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, c, 3, padding=1), _activation(act),
            nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), _activation(act), nn.Flatten(),
            nn.Linear(2 * c * 16, w), _activation(act))
        decoder = nn.Sequential(
            nn.Linear(latent, 2 * c * 16), _activation(act), nn.Unflatten(1, (2 * c, 4, 4)),
            nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1), _activation(act),
            nn.Conv2d(c, 1, 3, padding=1), nn.Flatten())
    elif spec.family == "conv1d":
        c, quarter = max(8, w // 8), features // 4
        encoder = nn.Sequential(
            nn.Unflatten(1, (1, features)), nn.Conv1d(1, c, 5, stride=2, padding=2),
            _activation(act), nn.Conv1d(c, c, 5, stride=2, padding=2), _activation(act),
            nn.Flatten(), nn.Linear(c * quarter, w), _activation(act))
        decoder = nn.Sequential(
            nn.Linear(latent, c * quarter), _activation(act), nn.Unflatten(1, (c, quarter)),
            nn.ConvTranspose1d(c, c, 4, stride=2, padding=1), _activation(act),
            nn.ConvTranspose1d(c, 1, 4, stride=2, padding=1), nn.Flatten())
    elif spec.family == "gru":
        w = min(w, 64)  # a recurrent step per position: the costliest after attention
        encoder, decoder = GruEncoder(w), GruDecoder(latent, w, features)
    else:
        width = 32  # attention over every position: the costliest step of the families
        return Autoencoder(TransformerEncoder(width, features),
                           TransformerDecoder(latent, width, features), width, latent,
                           spec.vae, spec.output)
    return Autoencoder(encoder, decoder, w, latent, spec.vae, spec.output)


def _token_model(spec: Spec, latent: int) -> nn.Module:
    if spec.vae:
        if spec.family == "transformer":
            return TransformerTextVAE(VOCAB, width=32, latent=latent)
        return GruTextVAE(VOCAB, hidden=min(spec.width, 64), latent=latent)
    if spec.family == "conv1d":
        return ConvTokenAE(VOCAB, channels=min(spec.width, 64), code=latent)
    if spec.family == "transformer":
        return TransformerTokenAE(VOCAB, width=32, code=latent)
    return GruTokenAE(VOCAB, hidden=min(spec.width, 64), code=latent)


class TransformerTokenAE(nn.Module):
    """Tokens -> mean-pooled Transformer code -> a Transformer decoding every position."""

    def __init__(self, vocab: int, width: int, code: int, length: int = 16) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.position = nn.Parameter(torch.randn(1, length, width) * 0.02)
        layer = nn.TransformerEncoderLayer(width, 4, 2 * width, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
        self.to_code = nn.Linear(width, code)
        self.from_code = nn.Linear(code, width)
        block = nn.TransformerEncoderLayer(width, 4, 2 * width, dropout=0.0, batch_first=True)
        self.decoder = nn.TransformerEncoder(block, 1, enable_nested_tensor=False)
        self.out = nn.Linear(width, vocab)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        code = self.to_code(self.encoder(self.embed(tokens) + self.position).mean(1))
        return self.out(self.decoder(self.from_code(code).unsqueeze(1) + self.position))


def latent_size(spec: Spec, features: int) -> int:
    if spec.defect == "latent_too_small":
        return 1
    if spec.defect == "latent_too_large":
        return 2 * features
    return spec.latent


def make_model(spec: Spec, features: int) -> nn.Module:
    torch.manual_seed(spec.seed)
    latent = latent_size(spec, features)
    model = _token_model(spec, latent) if spec.data == "tokens" else _vector_model(
        spec, features, latent)
    _apply_init_defect(model, spec)
    return model


def _weights(model: nn.Module) -> list[torch.Tensor]:
    return [p for name, p in model.named_parameters() if p.dim() >= 2 and "position" not in name]


def _apply_init_defect(model: nn.Module, spec: Spec) -> None:
    s = spec.severity
    with torch.no_grad():
        if spec.defect == "init_constant":
            for weight in _weights(model):
                weight.fill_(0.005 + 0.045 * s)
            for name, p in model.named_parameters():
                if p.dim() == 1 and name.endswith("bias"):
                    p.zero_()
        elif spec.defect == "init_too_small":
            for weight in _weights(model):
                weight.mul_(10 ** -(2 + 1.5 * s))
        elif spec.defect == "init_too_large":
            for weight in _weights(model):
                weight.mul_(8 + 22 * s)
        elif spec.defect == "dead_relu":  # a negative bias before every ReLU
            for sequence in [m for m in model.modules() if isinstance(m, nn.Sequential)]:
                layers = list(sequence)
                for layer, after in zip(layers, layers[1:], strict=False):
                    if isinstance(after, nn.ReLU) and getattr(layer, "bias", None) is not None:
                        layer.bias.fill_(-(2 + 6 * s))
    if spec.defect == "frozen_parameters":  # the decoder, or the encoder and its code layer
        names = ("decoder", "out") if s < 0.5 else ("encoder", "embed", "head", "to_code",
                                                    "mu", "logvar", "to_stats")
        for name, p in model.named_parameters():
            if name.split(".")[0] in names:
                p.requires_grad_(False)


def make_optimizer(spec: Spec, model: nn.Module, features: int) -> torch.optim.Optimizer:
    lr, s = spec.lr, spec.severity
    if spec.defect == "lr_too_high":
        lr *= 30 * 10 ** (1.0 * s)
    elif spec.defect == "lr_too_low":
        lr *= 10 ** -(3 + s)
    decay = 0.0
    if spec.defect == "over_regularized":
        decay = 0.5 + 4.5 * s if spec.optimizer != "adamw" else 5 + 45 * s
    if spec.optimizer in ("sgd", "momentum"):
        lr /= features  # the loss sums over features: plain SGD steps grow with them
    params = [p for p in model.parameters() if p.requires_grad] \
        if spec.seed % 2 == 0 else list(model.parameters())
    if spec.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=decay)
    if spec.optimizer == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=decay)
    if spec.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=decay)
    if spec.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=decay or 0.01)
    return torch.optim.RMSprop(params, lr=lr, weight_decay=decay)


# ------------------------------------------------------------------------------ loss


def _parts(output) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    if isinstance(output, dict):
        return output["logits"], output["mu"], output["logvar"]
    if isinstance(output, tuple):
        return output
    return output, None, None


def beta(spec: Spec) -> float:
    if spec.defect == "posterior_collapse" and spec.data != "tokens":
        return 10 * 10 ** spec.severity
    return 1.0


def loss_of(spec: Spec, output, target: torch.Tensor, step: int) -> torch.Tensor:
    recon, mu, logvar = _parts(output)
    batch = target.shape[0]
    if spec.data == "tokens":
        tokens = target[:, 1:] if recon.shape[1] == target.shape[1] - 1 else target
        if spec.family == "conv1d" and not spec.vae:
            scores = recon
        elif spec.defect == "misread_layout":  # the same numbers read in another order
            scores = recon.reshape(recon.shape[0], recon.shape[-1], -1)
        else:
            scores = recon.permute(0, 2, 1)
        value = F.cross_entropy(scores, tokens, reduction="sum") / batch
    elif spec.output == "logits":
        value = F.binary_cross_entropy_with_logits(recon, target, reduction="sum") / batch
    elif spec.output == "sigmoid" and spec.data in ("digits", "binary"):
        value = F.binary_cross_entropy(recon.clamp(1e-6, 1 - 1e-6), target,
                                       reduction="sum") / batch
    else:
        value = F.mse_loss(recon, target, reduction="sum") / batch
    if mu is None:
        return value
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())
    if spec.data == "tokens" and spec.defect != "posterior_collapse":
        # the usual remedy for a strong autoregressive decoder: warm-up and free bits
        warm = min(1.0, step / 300)
        return value + warm * kl.mean(0).clamp_min(0.5).sum()
    return value + beta(spec) * kl.sum(1).mean()


# ------------------------------------------------------------------------------ the loop


def one_batch_drawn_once(spec: Spec) -> bool:
    """constant_input in its other common form: ``x = next(iter(loader))`` above the loop."""
    return spec.defect == "constant_input" and spec.severity >= 0.5


def training_set(spec: Spec, train: torch.Tensor) -> torch.Tensor:
    if spec.defect == "under_regularized":
        return train[: 16 + int(32 * spec.severity)]
    if one_batch_drawn_once(spec):  # all the loop ever sees
        g = torch.Generator().manual_seed(20_000 + spec.seed)
        return train[torch.randint(0, len(train), (min(spec.batch, len(train)),), generator=g)]
    return train


def batches(spec: Spec, train: torch.Tensor):
    """Batch for each step; the constant_input defect is a dataset that returns its first
    sample for every index, or (at the upper half of its severity) one batch drawn once
    and fed at every step."""
    g = torch.Generator().manual_seed(20_000 + spec.seed)
    size = min(spec.batch, len(train))
    for _ in range(spec.steps):
        if one_batch_drawn_once(spec):  # the training set is that batch
            yield train
            continue
        index = torch.randint(0, len(train), (size,), generator=g)
        if spec.defect == "constant_input":
            index = torch.zeros_like(index)
        yield train[index]


def train(spec: Spec, logdir: str | None, run_name: str) -> tuple[nn.Module, torch.Tensor,
                                                                    torch.Tensor]:
    """Train the spec's run (watched by aelog when ``logdir`` is given); return the model
    with the data it trained on and the held-out data."""
    import aelog

    train_data, held_out = make_data(spec)
    train_data = training_set(spec, train_data)
    features = int(train_data.shape[1])
    model = make_model(spec, features)
    optimizer = make_optimizer(spec, model, features)
    monitor = None
    if logdir is not None:
        monitor = aelog.watch(model, optimizer, logdir=logdir, run_name=run_name,
                              on_collapse=None)
    torch.manual_seed(30_000 + spec.seed)
    for step, x in enumerate(batches(spec, train_data)):
        loss = loss_of(spec, model(x), x, step)
        optimizer.zero_grad()
        if torch.isfinite(loss):
            loss.backward()
            optimizer.step()
        if step % EVAL_EVERY == 0:
            model.eval()
            with torch.no_grad():
                model(held_out[:256])
            model.train()
    if monitor is not None:
        monitor.close()
    return model, train_data, held_out


# ------------------------------------------------------------------------------ checks


def held_out_check(spec: Spec, model: nn.Module, x: torch.Tensor) -> dict[str, float]:
    """The model on inputs it never trained on, without aelog: relative error (1 = the
    mean, or for tokens the entropy of each position), output spread, active units."""
    model.eval()
    with torch.no_grad():
        torch.manual_seed(0)
        recon, mu, logvar = _parts(model(x))
        if spec.data == "tokens":
            result = _token_check(spec, recon, x)
        else:
            if spec.output == "logits":
                recon = torch.sigmoid(recon)
            result = _vector_check(recon, x)
        if mu is not None:
            result["active_units"] = float((mu.var(0) > 0.01).sum())
        if spec.data != "tokens" and not spec.vae:
            noise = x.mean(0) + x.std(0) * torch.randn_like(x)
            result["noise_error"] = _vector_check(_parts(model(noise))[0], noise)["error"]
    model.train()
    return result


def _vector_check(recon: torch.Tensor, x: torch.Tensor) -> dict[str, float]:
    recon = recon.reshape(x.shape).double()
    x = x.double()
    spread = (x - x.mean(0)).pow(2).sum()
    if not torch.isfinite(recon).all():
        return {"error": math.inf, "spread": 0.0}
    return {"error": float((recon - x).pow(2).sum() / spread),
            "spread": float((recon - recon.mean(0)).pow(2).sum() / spread)}


def _token_check(spec: Spec, logits: torch.Tensor, tokens: torch.Tensor) -> dict[str, float]:
    if logits.shape[1] == tokens.shape[1] - 1:
        tokens = tokens[:, 1:]
    elif spec.family == "conv1d" and not spec.vae:
        logits = logits.permute(0, 2, 1)
    log_p = torch.log_softmax(logits.double(), -1)
    ce = float(F.nll_loss(log_p.reshape(-1, VOCAB), tokens.reshape(-1), reduction="sum"))
    entropy = 0.0
    for t in range(tokens.shape[1]):
        counts = np.bincount(tokens[:, t].numpy(), minlength=VOCAB).astype(float)
        p = counts[counts > 0] / counts.sum()
        entropy -= float((p * np.log(p)).sum()) * tokens.shape[0]
    p = log_p.exp()
    mean = p.mean(0, keepdim=True)
    information = float((p * (log_p - mean.log())).sum())
    return {"error": ce / entropy, "spread": information / entropy}
