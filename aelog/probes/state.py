"""What a probe forward outside the training loop must leave as it found it.

The identity check runs the model in eval mode on random inputs; the end-of-run
measurement runs it once more on the last training batch, in training mode, so dropout
and BatchNorm behave as they did in training. Both go through these: modules' modes, the
RNGs and the buffers are put back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def in_mode(model: torch.nn.Module, training: bool) -> Iterator[None]:
    """Every module in training (or eval) mode, each one's own mode restored afterwards."""
    modes = [(module, module.training) for module in model.modules()]
    model.train(training)
    try:
        yield
    finally:
        for module, was_training in modes:
            module.training = was_training


@contextmanager
def untouched_rng(device: torch.device, model: torch.nn.Module | None = None) -> Iterator[None]:
    """A model that samples noise in forward (a VAE, a denoising model) must not move any
    RNG: the global ones, nor a ``torch.Generator`` the model holds as its own."""
    owned = [(generator, generator.get_state()) for generator in owned_generators(model)]
    try:
        if device.type == "cpu":
            with torch.random.fork_rng(devices=[]):
                yield
        else:
            with torch.random.fork_rng(devices=[device], device_type=device.type):
                yield
    finally:
        for generator, state in owned:
            generator.set_state(state)


def owned_generators(model: torch.nn.Module | None) -> list[torch.Generator]:
    """Every ``torch.Generator`` held by a module of ``model``: as an attribute, or inside
    a list, tuple or dict attribute (one level down)."""
    if model is None:
        return []
    found: dict[int, torch.Generator] = {}
    for module in model.modules():
        for value in vars(module).values():
            items = value.values() if isinstance(value, dict) else (
                value if isinstance(value, (list, tuple)) else (value,))
            for item in items:
                if isinstance(item, torch.Generator):
                    found[id(item)] = item
    return list(found.values())


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
