"""The identity check: does the model reconstruct random inputs about as well as data?

A model whose bottleneck is wide enough to pass anything through reconstructs noise as
well as data (ratio near 1); one that learned the data's structure does far worse on
noise. Both forwards run in eval mode under ``no_grad`` with the global RNG state saved
and restored, so training is unchanged (BatchNorm statistics included).

The forwards see at most ``IDENTITY_SAMPLES`` samples where the call allows it: on the whole
batch, the two of them cost a large model about half a training step.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from aelog.logfile import format as fmt
from aelog.probes.state import in_mode, untouched_rng
from aelog.probes.symptom import reconstruction_stats

IDENTITY_SAMPLES = 32
"""samples per forward of the check: a ratio of two relative errors, read as a median over
logging steps, needs no more. ``python -m benchmarks.overhead.log_cost --workload
wide_mlp_10m --steps 40``: the check took 59-61 ms on the whole batch of 128 (a training
step there is about 120 ms), 22 ms on 32 samples."""


def matched_random_like(batch: torch.Tensor, generator: torch.Generator,
                        rows: int | None = None) -> torch.Tensor:
    """Random inputs with the batch's per-feature mean and std, from aelog's own generator:
    as many as the batch holds, or ``rows`` of them."""
    values = batch.detach()
    mean = values.mean(dim=0, keepdim=True)
    std = values.std(dim=0, keepdim=True) if values.shape[0] > 1 else torch.ones_like(mean)
    shape = values.shape if rows is None else (rows, *values.shape[1:])
    noise = torch.randn(shape, generator=generator, dtype=values.dtype, device="cpu")
    return mean + std * noise.to(values.device)


def identity_stats(
    forward: Callable[[torch.Tensor], torch.Tensor | None],
    inputs: torch.Tensor,
    target: torch.Tensor,
    generator: torch.Generator,
    model: torch.nn.Module,
    max_samples: int | None = None,
) -> dict[str, torch.Tensor]:
    """Relative error on matched random inputs, and its ratio to the error on the data.

    ``forward(x)`` runs the model and returns its reconstruction (or None when the
    output cannot be parsed). With ``max_samples``, both forwards take at most that many
    samples: the batch's first, and noise matched to the whole batch.
    """
    if not inputs.is_floating_point() or inputs.shape[0] < 2:
        return {}
    rows = inputs.shape[0] if max_samples is None else max(2, min(max_samples, inputs.shape[0]))
    noise = matched_random_like(inputs, generator, rows)
    inputs, target = inputs[:rows], target[:rows]
    with torch.no_grad(), untouched_rng(inputs.device, model), in_mode(model, training=False):
        on_data = forward(inputs)
        on_noise = forward(noise)
    if on_data is None or on_noise is None:
        return {}
    data_error = reconstruction_stats(on_data, target)[fmt.RELATIVE_ERROR]
    noise_error = reconstruction_stats(on_noise, noise)[fmt.RELATIVE_ERROR]
    return {
        fmt.RANDOM_INPUT_ERROR: noise_error,
        fmt.IDENTITY_RATIO: noise_error / data_error.clamp_min(1e-12),
    }
