"""The run metadata record (schema: ``format.METADATA_KEYS``): what was trained, how, where."""

from __future__ import annotations

import datetime
import os
import socket

import torch
from torch import nn

import aelog
from aelog.logfile import format as fmt
from aelog.probes.optimizer import is_decoupled
from aelog.probes.units import identical_rows_fraction
from aelog.sdk.model_inspect import (
    architecture,
    default_init_std,
    has_own_parameters,
    is_activation,
)

SUMMARY_CHARS = 4000


def layer_init_stats(model: nn.Module, in_optimizer: set[int]) -> list[dict]:
    """Per parameterised module: sizes, and how its weights compare with PyTorch's default init.

    Taken at watch() time, before any step, so it describes the initialisation.
    """
    layers = []
    for name, module in model.named_modules():
        if not name or not has_own_parameters(module):
            continue
        params = list(module.named_parameters(recurse=False))
        entry = {
            "name": name,
            "type": type(module).__name__,
            "parameters": sum(p.numel() for _, p in params),
            "trainable": all(p.requires_grad for _, p in params),
            "in_optimizer": all(id(p) in in_optimizer for _, p in params),
            "weight_std": None,
            "weight_std_over_default": None,
            "identical_rows_fraction": None,
        }
        weights = [(n, p) for n, p in params if n.startswith("weight") and p.dim() >= 2]
        if weights:
            param_name, weight = weights[0]
            with torch.no_grad():
                std = float(weight.float().std()) if weight.numel() > 1 else 0.0
                entry["weight_std"] = std
                default = default_init_std(module, param_name)
                if default:
                    entry["weight_std_over_default"] = std / default
                entry["identical_rows_fraction"] = float(identical_rows_fraction(weight))
        layers.append(entry)
    return layers


def init_label(layers: list[dict]) -> str:
    """One word for the config table: default, constant, small (x0.01) or large (x10)."""
    if any((entry["identical_rows_fraction"] or 0.0) > 0.5 for entry in layers):
        return "constant"
    ratios = sorted(
        entry["weight_std_over_default"]
        for entry in layers
        if entry["weight_std_over_default"] is not None
    )
    if not ratios:
        return "unknown"
    median = ratios[len(ratios) // 2]
    if median < 0.5:
        return f"small (x{median:.2g})"
    if median > 2.0:
        return f"large (x{median:.2g})"
    return "default"


def optimizer_config(optimizer: torch.optim.Optimizer | None) -> dict | None:
    if optimizer is None:
        return None
    group = optimizer.param_groups[0]
    betas = group.get("betas")
    return {
        "class": type(optimizer).__name__,
        "lr": _number(group.get("lr")),
        "weight_decay": _number(group.get("weight_decay", 0.0)),
        "decoupled_weight_decay": is_decoupled(optimizer, group),
        "betas": list(betas) if isinstance(betas, (tuple, list)) else None,
        "momentum": _number(group.get("momentum")),
        "param_groups": len(optimizer.param_groups),
    }


def _number(value: object) -> float | None:
    if isinstance(value, torch.Tensor):
        return float(value)
    return float(value) if isinstance(value, (int, float)) else None


def build_metadata(
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | list[torch.optim.Optimizer] | None,
    run_name: str,
    tags: dict[str, str],
    layers: list[dict],
    shapes: dict,
    cadence: dict,
    start_time: float,
    loop: dict | None = None,
) -> dict:
    """The whole record; ``shapes`` comes from the first training forward.

    ``loop``: what the SDK saw of the training loop (wrappers, compiled, optimizers).
    """
    optimizers = optimizer if isinstance(optimizer, list) else [optimizer] if optimizer else []
    optimizer = optimizers[0] if optimizers else None
    params = list(model.parameters())
    in_optimizer = {
        id(p) for each in optimizers for group in each.param_groups for p in group["params"]
    }
    trainable = sum(p.numel() for p in params if p.requires_grad)
    dropout = [
        {"name": name, "p": float(m.p)}
        for name, m in model.named_modules()
        if isinstance(m, nn.modules.dropout._DropoutNd)
    ]
    widths = shapes.get("widths") or {}
    activations = [
        {"name": name, "type": type(m).__name__, **widths.get(name, {})}
        for name, m in model.named_modules()
        if is_activation(m)
    ]
    opt = optimizer_config(optimizer)
    if opt is not None and len(optimizers) > 1:
        opt["optimizers"] = [type(each).__name__ for each in optimizers]
    summary = str(model)
    model_info = {
        "class": type(model).__name__,
        "summary": summary if len(summary) <= SUMMARY_CHARS else summary[:SUMMARY_CHARS] + "...",
        "parameters_total": sum(p.numel() for p in params),
        "parameters_trainable": trainable,
        "parameters_in_optimizer": (
            sum(p.numel() for p in params if id(p) in in_optimizer) if optimizer else None
        ),
        "input_shape": shapes.get("input_shape"),
        "output_shape": shapes.get("output_shape"),
        "latent_module": shapes.get("latent_module"),
        "latent_size": shapes.get("latent_size"),
        "is_vae": bool(shapes.get("is_vae")),
        "output_activation": shapes.get("output_activation", "none"),
        "token_classes": shapes.get("token_classes"),
        "layers": layers,
        "activations": activations,
        "dropout": dropout,
    }
    input_shape = shapes.get("input_shape") or []
    config = {
        "optimizer": opt["class"] if opt else "none",
        "lr": opt["lr"] if opt else None,
        "weight_decay": opt["weight_decay"] if opt else None,
        "decoupled_weight_decay": opt["decoupled_weight_decay"] if opt else None,
        "latent_size": shapes.get("latent_size"),
        "input_size": _product(input_shape[1:]) if input_shape else None,
        "batch_size": input_shape[0] if input_shape else None,
        "init": init_label(layers),
        "output_activation": model_info["output_activation"],
        "is_vae": model_info["is_vae"],
        "parameters_trainable": trainable,
        "dropout": max((d["p"] for d in dropout), default=0.0),
        "architecture": architecture(model),
        "model": type(model).__name__,
    }
    return {
        "format_version": fmt.FORMAT_VERSION,
        "aelog_version": aelog.__version__,
        "torch_version": torch.__version__,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "start_time": datetime.datetime.fromtimestamp(start_time, datetime.timezone.utc)
        .isoformat(timespec="seconds"),
        "run_name": run_name,
        "tags": dict(tags),
        "config": config,
        "model": model_info,
        "optimizer": opt,
        "cadence": cadence,
        "loop": dict(loop or {}),
    }


def _product(values: list[int]) -> int:
    result = 1
    for value in values:
        result *= int(value)
    return result
