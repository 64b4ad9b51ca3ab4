"""The output-collapse symptom: does the output follow the input, and could any code do better?"""

from __future__ import annotations

import torch

from aelog.logfile import format as fmt
from aelog.probes.linalg import as_matrix, centred, effective_rank, squared_singular_values


def nonfinite_fraction(tensor: torch.Tensor) -> torch.Tensor:
    return (~torch.isfinite(tensor.detach())).float().mean()


def _raw_matrix(batch: torch.Tensor) -> torch.Tensor:
    return batch.detach().reshape(batch.shape[0], -1).double()


def reconstruction_stats(output: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
    """Variance ratio and error relative to predicting the batch mean (1 = no better)."""
    # Not sanitised: a NaN output gives a NaN error, the honest answer.
    out, tgt = _raw_matrix(output), _raw_matrix(target)
    target_spread = centred(tgt).pow(2).sum()
    output_spread = centred(out).pow(2).sum()
    error = (out - tgt).pow(2).sum()
    floor = torch.finfo(target_spread.dtype).tiny
    return {
        fmt.OUTPUT_VARIANCE_RATIO: output_spread / target_spread.clamp_min(floor),
        fmt.RELATIVE_ERROR: error / target_spread.clamp_min(floor),
        fmt.RECON_MSE: error / out.numel(),
    }


def symptom_stats(
    output: torch.Tensor, target: torch.Tensor, code_size: int | None, data: bool = True
) -> dict[str, torch.Tensor]:
    """Every symptom signal of one training batch.

    ``rank_k_error`` is the error of the best rank-k linear code (PCA of the centred
    targets) relative to predicting the mean; it is only meaningful when the batch has
    more than k + 1 samples, so it is left out otherwise. It and the data's effective rank
    come from the targets' spectrum; with the targets' range and spread, what describes the
    data alone, which ``data=False`` skips: it moves little from batch to batch, so the
    monitor reads it on some logging steps only.
    """
    stats = reconstruction_stats(output, target)
    finite_out = torch.nan_to_num(output.detach().float(), nan=0.0, posinf=0.0, neginf=0.0)
    stats[fmt.NONFINITE_OUTPUT_FRACTION] = nonfinite_fraction(output)
    stats[fmt.OUTPUT_MIN] = finite_out.min()
    stats[fmt.OUTPUT_MAX] = finite_out.max()
    if data:
        tgt = as_matrix(target)
        stats.update(spectrum_stats(tgt, code_size))
        stats[fmt.TARGET_MIN] = tgt.min()
        stats[fmt.TARGET_MAX] = tgt.max()
        stats[fmt.TARGET_MEAN] = tgt.mean()
        stats[fmt.TARGET_STD] = tgt.std() if tgt.numel() > 1 else torch.zeros_like(tgt.sum())
    return stats


def spectrum_stats(targets: torch.Tensor, code_size: int | None) -> dict[str, torch.Tensor]:
    """The data's effective rank and the best rank-k linear code's relative error."""
    spectrum = squared_singular_values(centred(targets))
    stats = {fmt.DATA_EFFECTIVE_RANK: effective_rank(spectrum)}
    if code_size is not None and targets.shape[0] > code_size + 1:
        total = spectrum.sum()
        kept = spectrum[:code_size].sum()
        stats[fmt.RANK_K_ERROR] = torch.where(
            total > 0, (total - kept) / total.clamp_min(1e-30), torch.zeros_like(total)
        )
    return stats


def validation_sums(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(squared error, target spread, output spread) of one eval batch, each about its mean.

    Summed over the eval batches between two logging steps, their ratios give the
    validation relative error and variance ratio of the whole validation pass.
    """
    out, tgt = _raw_matrix(output), _raw_matrix(target)
    return torch.stack([
        (out - tgt).pow(2).sum(),
        centred(tgt).pow(2).sum(),
        centred(out).pow(2).sum(),
    ])

