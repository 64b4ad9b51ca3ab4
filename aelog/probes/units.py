"""Per-layer unit health: activation scale, dead and saturated units, identical units."""

from __future__ import annotations

import torch

from aelog import format as fmt
from aelog.probes.linalg import max_abs_cosine_to_other

SATURATION_MARGIN = 0.02
"""a unit is near a limit when within this fraction of the output range from it."""
SATURATION_SHARE = 0.95
"""... and saturated when that holds for more than this share of the batch."""
MAX_ROWS_COMPARED = 128
"""unit similarity compares the first 128 units of a layer (cost grows with the square)."""


def units_last(tensor: torch.Tensor, unit_dim: int) -> torch.Tensor:
    """``(samples, units)``: every position other than the unit axis counts as a sample."""
    values = tensor.detach()
    if values.dim() < 2:
        return values.reshape(-1, 1).float()
    values = values.movedim(unit_dim, -1)
    return values.reshape(-1, values.shape[-1]).float()


def activation_stats(
    tensor: torch.Tensor, unit_dim: int, limits: tuple[float, float] | None
) -> dict[str, torch.Tensor]:
    """Scale, dead fraction (<= 0 for every sample) and, for bounded activations, saturation."""
    values = units_last(tensor, unit_dim)
    finite = torch.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    stats = {
        fmt.LAYER_ACTIVATION_STD: finite.std() if finite.numel() > 1 else finite.sum() * 0,
        fmt.LAYER_ACTIVATION_MEAN_ABS: finite.abs().mean(),
        fmt.LAYER_DEAD_FRACTION: (finite <= 0).all(dim=0).float().mean(),
    }
    if limits is not None:
        low, high = limits
        margin = SATURATION_MARGIN * (high - low)
        near = (finite <= low + margin) | (finite >= high - margin)
        stats[fmt.LAYER_SATURATED_FRACTION] = (
            (near.float().mean(dim=0) > SATURATION_SHARE).float().mean()
        )
    return stats


def weight_rows(weight: torch.Tensor) -> torch.Tensor:
    """A weight as one row per output unit (Linear, Conv and RNN weights alike)."""
    return weight.detach().reshape(weight.shape[0], -1).float()


def unit_similarity(weight: torch.Tensor) -> torch.Tensor:
    """Median over output units of the largest |cosine| with another unit's weights."""
    rows = weight_rows(weight)[:MAX_ROWS_COMPARED]
    if rows.shape[0] < 2:
        return torch.zeros((), device=rows.device)
    return max_abs_cosine_to_other(rows).median()


def identical_rows_fraction(weight: torch.Tensor) -> torch.Tensor:
    """Fraction of output units whose weights exactly equal another unit's (symmetric init)."""
    rows = weight_rows(weight)
    if rows.shape[0] < 2:
        return torch.zeros((), device=rows.device)
    _, inverse, counts = torch.unique(rows, dim=0, return_inverse=True, return_counts=True)
    return (counts[inverse] > 1).float().mean()
