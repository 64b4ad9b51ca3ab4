"""The code (the bottleneck's output, or mu for a VAE): how many dimensions does it use?"""

from __future__ import annotations

import torch

from aelog.logfile import format as fmt
from aelog.probes.linalg import (
    as_matrix,
    centred,
    effective_rank,
    max_abs_cosine_from_gram,
    squared_singular_values,
)

DEAD_VARIANCE = 1e-8
"""a code dimension whose batch variance is below this carries no information."""
ACTIVE_UNIT_VARIANCE = 0.01
"""Burda et al. 2015: a VAE unit is active when Var_x(E[z|x]) exceeds this."""
IDENTICAL_COSINE = 0.999


def code_stats(code: torch.Tensor, similarity: bool = True) -> dict[str, torch.Tensor]:
    """Effective rank, per-dimension variance, dead and duplicated dimensions of a code batch.

    One Gram matrix of the centred code gives all three when the code is no wider than the
    batch: its eigenvalues (the spectrum), its diagonal (the variances) and its entries
    over their norms (the correlations between dimensions). ``similarity=False`` skips the
    correlations, which move slowly (the monitor reads them on some logging steps only)."""
    matrix = as_matrix(code)
    stats: dict[str, torch.Tensor] = {}
    samples, dims = matrix.shape
    if samples < 2:
        return stats
    deviations = centred(matrix)
    gram = deviations.T @ deviations
    variance = gram.diagonal() / (samples - 1)
    spectrum = squared_singular_values(deviations)  # scaled: a diverged code cannot overflow
    stats[fmt.CODE_EFFECTIVE_RANK] = effective_rank(spectrum)
    stats[fmt.CODE_VARIANCE] = variance.mean()
    stats[fmt.CODE_DEAD_FRACTION] = (variance <= DEAD_VARIANCE).float().mean()
    if similarity and dims > 1:
        cosine = max_abs_cosine_from_gram(gram)
        stats[fmt.CODE_UNIT_SIMILARITY] = cosine.median()
        stats[fmt.CODE_IDENTICAL_FRACTION] = (cosine > IDENTICAL_COSINE).float().mean()
    return stats


def kl_per_dimension(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Batch-mean KL(N(mu, exp(logvar)) || N(0, 1)) for each latent dimension."""
    mu, logvar = as_matrix(mu).double(), as_matrix(logvar).double()
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).mean(dim=0)


def vae_stats(mu: torch.Tensor, logvar: torch.Tensor) -> dict[str, torch.Tensor]:
    """KL per dimension and active units of a VAE's posterior on one batch."""
    kl = kl_per_dimension(mu, logvar)
    stats = {fmt.KL_PER_DIM: kl.mean(), fmt.KL_MAX_DIM: kl.max()}
    matrix = as_matrix(mu)
    if matrix.shape[0] > 1:
        active = matrix.var(dim=0) > ACTIVE_UNIT_VARIANCE
        stats[fmt.ACTIVE_UNITS_FRACTION] = active.float().mean()
    return stats
