"""The data pipeline: input scale and variance, duplicated samples, repeated batches."""

from __future__ import annotations

import torch

from aelog import format as fmt
from aelog.probes.linalg import as_matrix


def row_fingerprints(matrix: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One number per sample: equal samples give equal numbers, different ones almost never.

    A projection on a random direction drawn from aelog's own generator (never the
    global RNG, so training is unchanged).
    """
    direction = torch.randn(
        matrix.shape[1], generator=generator, dtype=torch.float64, device="cpu"
    ).to(matrix.device)
    return matrix.double() @ direction


def duplicate_fraction(fingerprints: torch.Tensor) -> torch.Tensor:
    """Fraction of samples whose fingerprint equals another sample's."""
    if fingerprints.numel() < 2:
        return torch.zeros((), device=fingerprints.device)
    _, inverse, counts = torch.unique(fingerprints, return_inverse=True, return_counts=True)
    return (counts[inverse] > 1).float().mean()


def input_stats(
    inputs: torch.Tensor, generator: torch.Generator, previous: torch.Tensor | None
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Input signals of one batch, and the batch's fingerprint to compare with the next one."""
    matrix = as_matrix(inputs)
    fingerprints = row_fingerprints(matrix, _seeded(generator))
    stats = {
        fmt.INPUT_STD: matrix.std() if matrix.numel() > 1 else matrix.sum() * 0,
        fmt.INPUT_BATCH_VARIANCE: (
            matrix.var(dim=0).mean() if matrix.shape[0] > 1 else matrix.sum() * 0
        ),
        fmt.INPUT_DUPLICATE_FRACTION: duplicate_fraction(fingerprints),
    }
    if previous is not None:
        if previous.shape == fingerprints.shape:
            same = (previous == fingerprints).all().float()
        else:
            same = torch.zeros((), device=matrix.device)
        stats[fmt.INPUT_SAME_AS_PREVIOUS] = same
    return stats, fingerprints


def _seeded(generator: torch.Generator) -> torch.Generator:
    """The same direction every time, so fingerprints of two batches can be compared."""
    generator.manual_seed(0x5EED)
    return generator
