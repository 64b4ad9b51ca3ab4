"""What a probe forward outside the training loop must leave as it found it.

The end-of-run measurement runs the model once more on the last training batch, in the
mode the batch was trained in: dropout and BatchNorm behave as they did in training, and
these put back everything that forward could change.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def untouched_buffers(model: torch.nn.Module) -> Iterator[None]:
    """Every buffer (BatchNorm's running statistics and batch count) restored afterwards,
    in place, so references the user holds stay valid."""
    saved = [(buffer, buffer.detach().clone()) for buffer in model.buffers()]
    try:
        yield
    finally:
        with torch.no_grad():
            for buffer, value in saved:
                buffer.copy_(value)


@contextmanager
def training_mode(model: torch.nn.Module) -> Iterator[None]:
    """Every module in training mode, each one's own mode restored afterwards."""
    modes = [(module, module.training) for module in model.modules()]
    model.train()
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training
