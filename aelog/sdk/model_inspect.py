"""What a model is made of: its layers, activations, bottleneck, and default initialisation."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

ENCODER_NAMES = ("encoder", "enc")

BOUNDED_ACTIVATIONS: dict[type, tuple[float, float]] = {
    nn.Tanh: (-1.0, 1.0),
    nn.Sigmoid: (0.0, 1.0),
    nn.Hardsigmoid: (0.0, 1.0),
    nn.Softsign: (-1.0, 1.0),
}
ACTIVATIONS = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU,
    nn.Mish, nn.Softplus, nn.Tanh, nn.Sigmoid, nn.Hardtanh, nn.Hardsigmoid, nn.Hardswish,
    nn.Softsign, nn.LogSigmoid, nn.Softmax, nn.LogSoftmax,
)
NONNEGATIVE_ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.Sigmoid, nn.Hardsigmoid, nn.Softplus)
"""activations whose every output is >= 0 (their exact types: a subclass may change that)."""
RECURRENT = (nn.RNNBase,)
CONVOLUTIONS = (nn.modules.conv._ConvNd,)
CHANNEL_FIRST = CONVOLUTIONS + (nn.modules.batchnorm._BatchNorm, nn.GroupNorm,
                                nn.modules.instancenorm._InstanceNorm)


@dataclass
class WatchedLayer:
    """A module whose outputs (and, for parameterised ones, weights) get per-layer signals."""

    name: str
    module: nn.Module
    unit_dim: int | None
    """the axis that indexes units in its output; None: inherit the previous layer's."""
    limits: tuple[float, float] | None
    """output range of a bounded activation (for saturation), else None."""
    nonnegative: bool = False
    """an activation that never outputs a negative number (its mean is its mean |x|)."""


def activation_limits(module: nn.Module) -> tuple[float, float] | None:
    if isinstance(module, nn.Hardtanh) and not isinstance(module, nn.ReLU6):
        return float(module.min_val), float(module.max_val)
    for kind, limits in BOUNDED_ACTIVATIONS.items():
        if isinstance(module, kind):
            return limits
    return None


def is_activation(module: nn.Module) -> bool:
    return isinstance(module, ACTIVATIONS)


def has_own_parameters(module: nn.Module) -> bool:
    return any(True for _ in module.parameters(recurse=False))


def unit_dim_of(module: nn.Module) -> int | None:
    if isinstance(module, CHANNEL_FIRST):
        return 1
    if is_activation(module) or isinstance(module, nn.Dropout):
        return None
    return -1


def watched_layers(model: nn.Module) -> list[WatchedLayer]:
    """Parameterised modules and activation modules, in definition order (the top excluded)."""
    layers = []
    for name, module in model.named_modules():
        if not name:
            continue
        if has_own_parameters(module) or is_activation(module):
            layers.append(
                WatchedLayer(name, module, unit_dim_of(module), activation_limits(module),
                             type(module) in NONNEGATIVE_ACTIVATIONS)
            )
    return layers


def named_encoder(model: nn.Module) -> tuple[str, nn.Module] | None:
    """The shallowest submodule called ``encoder`` or ``enc`` (any depth), if there is one."""
    found = [
        (name, module)
        for name, module in model.named_modules()
        if name and name.rsplit(".", 1)[-1].lower() in ENCODER_NAMES
    ]
    if not found:
        return None
    return min(found, key=lambda item: item[0].count("."))


def resolve_latent(model: nn.Module, latent: str | nn.Module) -> tuple[str, nn.Module]:
    """The module the user named as the bottleneck, by dotted name or by object."""
    if isinstance(latent, str):
        try:
            return latent, model.get_submodule(latent)
        except AttributeError as error:
            names = [n for n, _ in model.named_modules() if n][:12]
            raise ValueError(
                f"latent={latent!r} is not a submodule of {type(model).__name__}; "
                f"submodules include: {', '.join(names)}"
            ) from error
    for name, module in model.named_modules():
        if module is latent and name:
            return name, module
    raise ValueError("latent= must be a submodule of the watched model (or its dotted name)")


def per_sample_width(output: object, batch_size: int) -> int | None:
    """Features per sample of a module output whose first axis is the batch."""
    if isinstance(output, (tuple, list)) and output:
        output = output[0]
    if not isinstance(output, torch.Tensor) or not output.is_floating_point():
        return None
    if output.dim() < 2 or output.shape[0] != batch_size:
        return None
    return output[0].numel()


def narrowest(executed: list[tuple[str, int]]) -> tuple[str, int] | None:
    """The narrowest output on the forward path, the last one on ties.

    The last executed module produces the reconstruction and is never the code, nor are
    the modules just before it with outputs as wide (the last layer, then a Flatten, an
    output activation or an Identity). Later wins a tie so that a code's activation (what
    the decoder sees) is chosen.
    """
    if not executed:
        return None
    end = len(executed) - 1
    while end > 0 and executed[end - 1][1] == executed[-1][1]:
        end -= 1
    candidates = executed[:end]
    if not candidates:
        return None
    best = None
    for name, width in candidates:
        if best is None or width <= best[1]:
            best = (name, width)
    return best


def architecture(model: nn.Module) -> str:
    modules = list(model.modules())
    if any(isinstance(m, RECURRENT) for m in modules):
        return "recurrent"
    if any(isinstance(m, CONVOLUTIONS) for m in modules):
        return "conv"
    return "mlp"


def default_init_std(module: nn.Module, param_name: str) -> float | None:
    """Std of PyTorch's default initialisation of a weight: U(-b, b) has std b / sqrt(3)."""
    if not param_name.startswith("weight"):
        return None
    weight = getattr(module, param_name)
    if isinstance(module, RECURRENT):
        return 1.0 / math.sqrt(3.0 * module.hidden_size)
    if isinstance(module, nn.Embedding):
        return 1.0
    if isinstance(module, (nn.Linear, nn.Bilinear) + CONVOLUTIONS) and weight.dim() >= 2:
        fan_in = weight[0].numel()  # = size(1) * receptive field, as torch's own init
        return 1.0 / math.sqrt(3.0 * fan_in) if fan_in else None
    return None


def output_activation(executed_modules: list[nn.Module]) -> str:
    """Name of the last module run if it is an activation, else "none"."""
    if executed_modules and is_activation(executed_modules[-1]):
        return type(executed_modules[-1]).__name__
    return "none"
