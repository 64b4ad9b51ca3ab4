"""The data pipeline: input scale and variance, duplicated samples, repeated batches."""

from __future__ import annotations

import torch

from aelog.logfile import format as fmt
from aelog.probes.linalg import as_matrix


class FingerprintDirection:
    """The random direction that turns a sample into one number (its fingerprint).

    Drawn from aelog's own generator (never the global RNG, so training is unchanged),
    once per input width and device, and then reused: every batch is projected on the same
    direction, so that two batches' fingerprints compare.
    """

    SEED = 0x5EED

    def __init__(self) -> None:
        self._generator = torch.Generator(device="cpu")
        self._drawn: tuple[tuple[int, torch.device], torch.Tensor] | None = None

    def for_width(self, width: int, device: torch.device) -> torch.Tensor:
        key = (width, device)
        if self._drawn is None or self._drawn[0] != key:
            self._generator.manual_seed(self.SEED)
            direction = torch.randn(width, generator=self._generator, dtype=torch.float64)
            self._drawn = (key, direction.to(device))
        return self._drawn[1]


def row_fingerprints(matrix: torch.Tensor, direction: FingerprintDirection) -> torch.Tensor:
    """One number per sample: equal samples give equal numbers, different ones almost never."""
    return matrix.double() @ direction.for_width(matrix.shape[1], matrix.device)


def duplicate_fraction(fingerprints: torch.Tensor) -> torch.Tensor:
    """Fraction of samples whose fingerprint equals another sample's."""
    if fingerprints.numel() < 2:
        return torch.zeros((), device=fingerprints.device)
    _, inverse, counts = torch.unique(fingerprints, return_inverse=True, return_counts=True)
    return (counts[inverse] > 1).float().mean()


def input_stats(
    inputs: torch.Tensor, direction: FingerprintDirection, previous: torch.Tensor | None,
    batch: bool = True,
) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
    """Input signals of one batch, and the batch's fingerprint to compare with the next one.

    The input's scale is read at every call; ``batch=False`` skips what compares samples
    (spread across the batch, duplicates, a batch seen before), which costs most and
    moves little between batches (the monitor reads it on some logging steps only), and
    gives no fingerprint."""
    matrix = as_matrix(inputs)
    stats = {fmt.INPUT_STD: matrix.std() if matrix.numel() > 1 else matrix.sum() * 0}
    if not batch:
        return stats, None
    fingerprints = row_fingerprints(matrix, direction)
    stats[fmt.INPUT_BATCH_VARIANCE] = (
        matrix.var(dim=0).mean() if matrix.shape[0] > 1 else matrix.sum() * 0
    )
    stats[fmt.INPUT_DUPLICATE_FRACTION] = duplicate_fraction(fingerprints)
    if previous is not None:
        if previous.shape == fingerprints.shape:
            same = (previous == fingerprints).all().float()
        else:
            same = torch.zeros((), device=matrix.device)
        stats[fmt.INPUT_SAME_AS_PREVIOUS] = same
    return stats, fingerprints
