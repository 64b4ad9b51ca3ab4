"""See through the wrappers a training loop puts around a model.

``DataParallel`` / ``DistributedDataParallel`` hold the real model in ``.module`` and
``torch.compile`` in ``._orig_mod``: layer names, the bottleneck and "was it watched
already" belong to the inner model. Where the hooks go is a separate question: inside a
compiled graph, Python hooks force graph breaks and recompilations (the compiled
speed-up is lost), so a compiled model is hooked from the outside only.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.distributed as dist
from torch import nn

PARALLEL_WRAPPERS = ("DataParallel", "DistributedDataParallel")


@dataclass
class WatchTarget:
    model: nn.Module
    """the user's own model: names, layers, parameters and the bottleneck come from it."""
    entry: nn.Module
    """the module the loop calls: the forward hooks that see input and output go here."""
    compiled: bool
    """torch.compile'd: layer hooks are left off (they would break the compiled graph)."""
    wrappers: list[str]
    """class names peeled off, outermost first (for the run's metadata)."""


def is_compiled(module: nn.Module) -> bool:
    """``torch.compile(model)`` (an OptimizedModule) or ``model.compile()`` in place."""
    return hasattr(module, "_orig_mod") or getattr(module, "_compiled_call_impl", None) is not None


def watch_target(model: nn.Module) -> WatchTarget:
    entry, inner, wrappers, compiled = model, model, [], False
    while True:
        if hasattr(inner, "_orig_mod") and isinstance(inner._orig_mod, nn.Module):
            compiled = True
            wrappers.append(type(inner).__name__)
            inner = inner._orig_mod
        elif type(inner).__name__ in PARALLEL_WRAPPERS and isinstance(
            getattr(inner, "module", None), nn.Module
        ):
            wrappers.append(type(inner).__name__)
            inner = inner.module
        else:
            break
    if getattr(inner, "_compiled_call_impl", None) is not None:
        compiled = True
        wrappers.append("compile()")
    if not compiled:
        entry = inner  # a parallel wrapper calls the inner model: hook it there
    return WatchTarget(inner, entry, compiled, wrappers)


def averages_across_ranks(target: WatchTarget) -> bool:
    """Gradients are averaged across processes during backward (DDP, or Lightning's DDP).

    Then what backward first leaves in a parameter is that rank's own gradient, not the
    one the step uses, and comparing the two says nothing about clipping.
    """
    if "DistributedDataParallel" in target.wrappers:
        return True
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
