"""Losses, init helpers and engine-independent measurements shared by the scenarios."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from benchmarks.scenarios.base import Manifest, Trace


def mse(output, target, model) -> torch.Tensor:
    return F.mse_loss(output, target)


def bce_logits(output, target, model) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(output, target)


def bce(output, target, model) -> torch.Tensor:
    return F.binary_cross_entropy(output, target.clamp(0, 1))


def vae_loss(beta: float, binary: bool = False):
    def loss(output, target, model) -> torch.Tensor:
        recon, mu, logvar = output
        if binary:
            rec = F.binary_cross_entropy_with_logits(recon, target, reduction="sum")
        else:
            rec = F.mse_loss(recon, target, reduction="sum")
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return (rec + beta * kl) / target.shape[0]

    return loss


def with_l1(base, weight: float):
    def loss(output, target, model) -> torch.Tensor:
        penalty = sum(p.abs().sum() for n, p in model.named_parameters() if "weight" in n)
        return base(output, target, model) + weight * penalty

    return loss


def linear_layers(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d,
                                                         nn.ConvTranspose2d, nn.GRU))]


def scale_weights(model: nn.Module, factor: float) -> nn.Module:
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "weight" in name:
                p.mul_(factor)
    return model


def fill_weights(model: nn.Module, value: float, bias: float | None = 0.0) -> nn.Module:
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "weight" in name:
                p.fill_(value)
            elif bias is not None:
                p.fill_(bias)
    return model


# -- independent measurements ------------------------------------------------------------

def spread_ratio(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Batch variance of outputs over that of targets (summed over features)."""
    o, t = outputs.reshape(len(outputs), -1), targets.reshape(len(targets), -1)
    return float(o.var(0).sum() / t.var(0).sum().clamp_min(1e-12))


def rows_max_cosine(weight: torch.Tensor) -> float:
    rows = weight.reshape(weight.shape[0], -1)
    rows = rows / rows.norm(dim=1, keepdim=True).clamp_min(1e-12)
    cos = (rows @ rows.T).abs()
    cos.fill_diagonal_(0)
    return float(cos.max(dim=1).values.median())


def pca_error(x: torch.Tensor, k: int) -> float:
    """Best relative error of any rank-k linear reconstruction of x (centred)."""
    x = x.reshape(len(x), -1).double()
    x = x - x.mean(0)
    s = torch.linalg.svdvals(x) ** 2
    return float(s[k:].sum() / s.sum())


def first_bad_step(losses: list[float], factor: float = 10.0) -> int | None:
    """First step whose loss is non-finite or ``factor`` times the first loss."""
    for step, value in enumerate(losses):
        if not math.isfinite(value) or value > factor * losses[0]:
            return step
    return None


def outputs_collapsed(trace: Trace, limit: float = 0.05) -> Manifest:
    ratio = spread_ratio(trace.probe_out_end, trace.probe_in)
    return Manifest(ratio <= limit, 0, f"output spread at end {ratio:.3g} of the targets'")


def healthy_manifest(trace: Trace, model: nn.Module) -> Manifest:
    """A healthy run: finite, learned (error fell by 40% or is low), outputs keep spread."""
    ratio = spread_ratio(trace.probe_out_end, trace.probe_in)
    out = trace.probe_out_end.reshape(len(trace.probe_in), -1)
    x = trace.probe_in.reshape(len(trace.probe_in), -1)
    relative = float(((out - x) ** 2).sum() / ((x - x.mean(0)) ** 2).sum())
    first, last = trace.losses[0], sum(trace.losses[-10:]) / 10
    learned = last < 0.6 * first or relative < 0.4
    ok = math.isfinite(last) and learned and ratio > 0.25
    return Manifest(ok, 0, f"loss {first:.3g} -> {last:.3g}, relative error {relative:.2f}, "
                           f"output spread {ratio:.2f}")
