"""Per-layer unit health: activation scale, dead and saturated units, identical units."""

from __future__ import annotations

import math

import torch

from aelog.logfile import format as fmt
from aelog.probes.linalg import max_abs_cosine_to_other

SATURATION_MARGIN = 0.02
"""a unit is near a limit when within this fraction of the output range from it."""
SATURATION_SHARE = 0.95
"""... and saturated when that holds for more than this share of the batch."""
ONE_PASS_CONDITION = 4.0
"""the spread is read from the sum of squares when that sum is at most 4x the squared
deviations' (the mean at most sqrt(3) standard deviations from 0): float32 keeps ~7 digits,
so the subtraction leaves 6 or more."""
MAX_ROWS_COMPARED = 128
"""unit similarity compares the first 128 units of a layer (cost grows with the square)."""


def activation_stats(
    tensor: torch.Tensor, unit_dim: int, limits: tuple[float, float] | None,
    nonnegative: bool = False,
) -> dict[str, torch.Tensor | float]:
    """Scale, dead fraction (<= 0 for every sample) and, for bounded activations, saturation.

    Runs inside the training forward of a logging step, once per layer, so it reads the
    output in place (no copy with the unit axis moved last) and in few passes: one max per
    unit for dead units; the mean absolute value is the mean for an activation that is
    never negative (``nonnegative``: ReLU, sigmoid...). Non-finite values count as 0; on CPU,
    where reading one number costs no synchronisation, the copy that zeroes them is made
    only when the mean says there are any, the spread comes from the sum of squares (one
    pass, no buffer) where the mean is small enough beside it not to cost precision, and
    what is read on the host already stays a float (no tensor made to carry it back).
    """
    values = tensor.detach()
    if values.dtype not in (torch.float32, torch.float64):
        values = values.float()
    mean = values.mean() if values.device.type == "cpu" else None
    mean_value = None if mean is None else mean.item()
    if mean_value is None or not math.isfinite(mean_value):
        values = torch.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
        mean, mean_value = values.mean(), None
    flat = values.reshape(-1)
    dead = per_unit_max(values, unit_dim) <= 0
    stats: dict[str, torch.Tensor | float] = {
        fmt.LAYER_ACTIVATION_STD: _spread(flat, mean, mean_value),
        fmt.LAYER_ACTIVATION_MEAN_ABS: (
            (mean if mean_value is None else mean_value) if nonnegative else flat.abs().mean()
        ),
        fmt.LAYER_DEAD_FRACTION: (
            dead.float().mean() if mean_value is None
            else int(torch.count_nonzero(dead)) / max(1, dead.numel())
        ),
    }
    if limits is not None:
        low, high = limits
        reach = (high - low) / 2 * (1 - 2 * SATURATION_MARGIN)  # from the middle to "near"
        near = (values - (high + low) / 2).abs() >= reach
        samples = flat.numel() // max(1, _unit_count(values, unit_dim))
        stats[fmt.LAYER_SATURATED_FRACTION] = (
            (per_unit_count(near, unit_dim) > SATURATION_SHARE * samples).float().mean()
        )
        stats[fmt.LAYER_SATURATED_VALUES] = near.float().mean()
    return stats


def _spread(flat: torch.Tensor, mean: torch.Tensor, mean_value: float | None
            ) -> torch.Tensor | float:
    """Sample standard deviation of ``flat`` (finite values), whose mean is ``mean``.

    With the mean on the host (CPU), first from the sum of squares: one pass and no buffer
    (the deviations of a (128, 2176) output are a fresh 1 MB buffer, and a fresh buffer
    that size costs page faults on every logging step), kept where the sum of squares is
    at most ONE_PASS_CONDITION times the deviations' (it loses that factor of precision);
    otherwise, and off the CPU, from the deviations."""
    count = flat.numel()
    if count < 2:
        return flat.sum() * 0
    if mean_value is not None:
        squares = torch.dot(flat, flat).item()
        deviations = squares - count * mean_value * mean_value
        if math.isfinite(squares) and 0 <= squares <= ONE_PASS_CONDITION * deviations:
            return math.sqrt(deviations / (count - 1))
    deviation = flat - mean
    return torch.sqrt(torch.dot(deviation, deviation) / (count - 1))


def per_unit_max(tensor: torch.Tensor, unit_dim: int) -> torch.Tensor:
    """Each unit's largest value over the samples (every axis but the units')."""
    return _over_samples(tensor, unit_dim, torch.amax)


def per_unit_count(mask: torch.Tensor, unit_dim: int) -> torch.Tensor:
    """How many samples of each unit a boolean mask holds."""
    return _over_samples(mask, unit_dim, torch.sum)


def _over_samples(tensor: torch.Tensor, unit_dim: int, reduce) -> torch.Tensor:
    """``reduce`` (amax or sum) over every axis but the units', the batch axis first.

    On CPU one reduction over several axes of a (128, 32, 4, 4) conv output takes ~150 us;
    reducing the outermost axis on its own (slab by slab) and then the small rest takes
    ~9 us (``python -m benchmarks.overhead.micro``), for the same result (exact for a
    maximum and for integer counts)."""
    if tensor.dim() < 2:
        return reduce(tensor)
    units = unit_dim % tensor.dim()
    if units != 0:
        tensor, units = reduce(tensor, dim=0), units - 1
    rest = tuple(axis for axis in range(tensor.dim()) if axis != units)
    return reduce(tensor, dim=rest) if rest else tensor


def _unit_count(tensor: torch.Tensor, unit_dim: int) -> int:
    return 1 if tensor.dim() < 2 else int(tensor.shape[unit_dim])


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
