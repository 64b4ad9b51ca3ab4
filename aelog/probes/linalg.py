"""Shared linear algebra for the probes: centred batches, their spectrum, effective rank."""

from __future__ import annotations

import torch


def as_matrix(batch: torch.Tensor) -> torch.Tensor:
    """A batch as ``(samples, features)`` in float32 (float64 stays), finite values only.

    Non-finite entries become 0 so a NaN never breaks an SVD; they are counted elsewhere.
    """
    matrix = batch.detach().reshape(batch.shape[0], -1)
    if not matrix.is_floating_point() or matrix.dtype in (torch.float16, torch.bfloat16):
        matrix = matrix.float()
    return torch.nan_to_num(matrix, nan=0.0, posinf=0.0, neginf=0.0)


def centred(matrix: torch.Tensor) -> torch.Tensor:
    return matrix - matrix.mean(dim=0, keepdim=True)


def squared_singular_values(matrix: torch.Tensor) -> torch.Tensor:
    """Squared singular values of a (centred) matrix, largest first.

    Goes through the Gram matrix of the smaller side: a batch of 256 images of 12,288
    pixels costs a 256 x 256 eigen-decomposition, not an SVD of the full matrix.

    The matrix is divided by its largest magnitude first and the spectrum scaled back in
    float64: a float32 batch of diverged values (1e20 and up) would otherwise overflow its
    Gram matrix to Inf, and the eigen-solver fails to converge on it.
    """
    rows, cols = matrix.shape
    scale = matrix.abs().amax().clamp_min(torch.finfo(matrix.dtype).tiny)  # no host read
    unit = matrix / scale
    gram = unit @ unit.T if rows <= cols else unit.T @ unit
    return spectrum_of_gram(gram) * scale.double().pow(2)


def spectrum_of_gram(gram: torch.Tensor) -> torch.Tensor:
    """Eigenvalues of a Gram matrix (the squared singular values), largest first."""
    return torch.linalg.eigvalsh(gram.double()).clamp_min(0.0).flip(0)


def warm_up(device: torch.device) -> None:
    """One small eigen-decomposition on ``device`` now, at ``watch()``: the linear-algebra
    library sets itself up on its first call, which would otherwise land in the first
    training step. A fixed matrix: no random draws. A device that cannot do it
    is left alone here: the probes that need it say so when they run."""
    try:
        spectrum_of_gram(torch.eye(3, device=device))
    except Exception:  # noqa: BLE001 - a warm-up only
        pass


def effective_rank(squared_singular: torch.Tensor) -> torch.Tensor:
    """exp(entropy of the normalised singular values) (Roy & Vetterli 2007; RankMe)."""
    singular = squared_singular.sqrt()
    total = singular.sum()
    p = singular / total.clamp_min(1e-30)
    entropy = torch.special.entr(p).sum()  # -p log p, 0 where p is 0
    return torch.where(total > 0, entropy.exp(), 0.0)


def max_abs_cosine_to_other(rows: torch.Tensor) -> torch.Tensor:
    """For each row, the largest |cosine| with another row (1 = a copy of another row)."""
    return max_abs_cosine_from_gram(rows @ rows.T)


def max_abs_cosine_from_gram(gram: torch.Tensor) -> torch.Tensor:
    """:func:`max_abs_cosine_to_other` from the rows' Gram matrix (dot products), for a
    caller that has it already."""
    squares = gram.diagonal()
    norms = squares.sqrt().clamp_min(1e-12)
    cos = (gram / (norms.unsqueeze(1) * norms.unsqueeze(0))).abs()
    cos.fill_diagonal_(0.0)
    # Rows that are all zero have no direction: call them copies of each other.
    zero = squares == 0
    if gram.shape[0] > 1:
        both_zero = zero.unsqueeze(0) & zero.unsqueeze(1)
        both_zero.fill_diagonal_(False)
        cos = torch.where(both_zero, torch.ones_like(cos), cos)
    return cos.max(dim=1).values
