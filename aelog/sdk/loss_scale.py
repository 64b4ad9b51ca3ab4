"""Find the GradScaler behind an optimizer step, to report gradients unscaled.

The user never hands us the scaler (two lines), and the optimizer does not know it. But
``scaler.step(optimizer)`` calls ``optimizer.step`` itself, so on a logging step the
scaler is a few frames up the stack from our step hook. Looked up on logging steps only.
"""

from __future__ import annotations

import math
import sys

import torch

MAX_FRAMES = 16
"""how far up the stack to look (hook -> optimizer wrapper -> scaler, plus framework layers)."""


def find_grad_scaler(max_frames: int = MAX_FRAMES) -> torch.amp.GradScaler | None:
    """The GradScaler whose ``step`` is running the current optimizer step, if any."""
    frame = sys._getframe(1)
    for _ in range(max_frames):
        if frame is None:
            return None
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, torch.amp.GradScaler):
            return candidate
        frame = frame.f_back
    return None


def step_scale(
    optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler | None
) -> torch.Tensor | float | None:
    """The scale backward ran under this step, read after the step.

    Either way the gradients are unscaled in place by then: a scaler does it before
    calling ``step``; an optimizer that unscales in its own kernel (fused Adam) is handed
    ``optimizer.grad_scale`` instead, and writes the unscaled gradients back.
    """
    fused_scale = getattr(optimizer, "grad_scale", None)
    if isinstance(fused_scale, torch.Tensor):
        return fused_scale.detach().reshape(())
    if scaler is None or not scaler.is_enabled():
        return None
    scale = getattr(scaler, "_scale", None)  # the tensor behind get_scale(), without a sync
    if isinstance(scale, torch.Tensor):
        return scale.detach().reshape(())
    return float(scaler.get_scale())


def skipped_inside_step(optimizer: torch.optim.Optimizer) -> torch.Tensor | None:
    """A fused optimizer is stepped even on inf/NaN and skips inside: the flag it is given."""
    found_inf = getattr(optimizer, "found_inf", None)
    return found_inf.detach().reshape(()) if isinstance(found_inf, torch.Tensor) else None


def raw_gradient_shrink(loss_scale: float) -> float:
    """The power of two that brings gradients scaled by ``loss_scale`` back to their size.

    Gradients as backward leaves them are read on a logging step before the scaler has
    unscaled them; squared and summed in float32 they would overflow under a large
    scale. Multiplied first by this factor (from the last logging step's scale: a
    scaler's scale changes by factors of two, rarely) they cannot, and being a power of
    two it changes no digit: the norm stays bit for bit comparable with the unscaled one.
    Reading them in float64 instead cost ~20x a float32 dot product on CPU (14 ms for a
    2176 x 2176 weight, ``python -m benchmarks.overhead.micro``)."""
    if not math.isfinite(loss_scale) or loss_scale <= 0:
        return 1.0
    return 2.0 ** -math.floor(math.log2(loss_scale))
