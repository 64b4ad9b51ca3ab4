"""What watch() checks and reads from its arguments before anything is attached.

Problems visible up front (no trainable parameters, a bad argument) fail here with a clear
message, never mid-run.
"""

from __future__ import annotations

import datetime
import inspect
import os
import socket
import warnings
from collections.abc import Callable, Sequence

import torch
from torch import nn

from aelog.probes import optimizer as optimizer_probe
from aelog.sdk.probe_guard import AelogWarning, user_stacklevel
from aelog.sdk.run_metadata import layer_init_stats

TargetFn = Callable[..., torch.Tensor]
OptimizerArg = torch.optim.Optimizer | Sequence[torch.optim.Optimizer] | None


def optimizer_list(optimizer: OptimizerArg) -> list[torch.optim.Optimizer]:
    """One optimizer, several (separate encoder/decoder optimizers), or none, as a list."""
    if optimizer is None:
        return []
    items = list(optimizer) if isinstance(optimizer, (list, tuple)) else [optimizer]
    for item in items:
        if not isinstance(item, torch.optim.Optimizer):
            raise ValueError(
                "aelog.watch: optimizer must be a torch.optim.Optimizer, a list of them, "
                f"or None, got {type(item).__name__}"
            )
    return items


def check_model(model: nn.Module, optimizer: OptimizerArg) -> None:
    if not isinstance(model, nn.Module):
        raise ValueError(f"aelog.watch needs a torch.nn.Module, got {type(model).__name__}")
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError(
            f"aelog.watch: {type(model).__name__} has no trainable parameters "
            "(none with requires_grad=True); there is no training to watch."
        )
    optimizer_list(optimizer)


def initial_layer_stats(model: nn.Module, in_optimizer: set[int]) -> list[dict]:
    """Init statistics for the metadata; an odd layer costs its entry, never the watch."""
    try:
        return layer_init_stats(model, in_optimizer)
    except Exception as error:  # noqa: BLE001 - metadata is not worth failing watch() for
        warnings.warn(f"aelog: initialisation statistics skipped ({error})", AelogWarning,
                      stacklevel=user_stacklevel())
        return []


def default_run_name(logdir: str) -> str:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = f"{stamp}-{socket.gethostname()}"
    name, suffix = base, 2
    while os.path.exists(os.path.join(logdir, name)):
        name, suffix = f"{base}-{suffix}", suffix + 1
    return name


def target_reader(target: TargetFn | None) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """``target(inputs)`` or ``target()``, whichever the user's callable takes."""
    if target is None:
        return None
    if not callable(target):
        raise ValueError("target= must be a callable returning the batch to reconstruct")
    try:
        takes_input = bool(inspect.signature(target).parameters)
    except (TypeError, ValueError):
        takes_input = True
    if takes_input:
        return lambda inputs: target(inputs)
    return lambda inputs: target()


def trained_params(
    model: nn.Module, optimizer: OptimizerArg
) -> list[optimizer_probe.TrainedParam]:
    owner = {}
    for name, param in model.named_parameters():
        layer = name.rsplit(".", 1)[0] if "." in name else None
        owner.setdefault(id(param), layer)
    optimizers = optimizer_list(optimizer)
    if not optimizers:
        return [
            optimizer_probe.TrainedParam(p, owner.get(id(p)))
            for p in model.parameters()
            if p.requires_grad
        ]
    params, seen = [], set()
    for each in optimizers:
        for group in each.param_groups:
            decoupled = optimizer_probe.is_decoupled(each, group)
            for p in group["params"]:
                if id(p) in seen or not p.requires_grad:
                    continue
                seen.add(id(p))
                params.append(
                    optimizer_probe.TrainedParam(p, owner.get(id(p)), group, decoupled)
                )
    # Trainable but outside this optimizer (forgotten, or stepped by another optimizer):
    # their gradients and whether they move are measured all the same.
    params.extend(
        optimizer_probe.TrainedParam(p, owner.get(id(p)))
        for p in model.parameters()
        if p.requires_grad and id(p) not in seen
    )
    return params
