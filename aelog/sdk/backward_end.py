"""Run a callback when a backward pass has finished: every gradient accumulated, none clipped.

A logging step reads gradients as backward leaves them (before a GradScaler unscales them
or the loop clips them). A hook on each parameter would do it, but a parameter hook cannot
really be removed: PyTorch keeps calling into Python for that parameter on every later
backward, for the rest of the run (``python -m benchmarks.overhead.micro``: +2-3 us on each
backward of the benchmark's 8-tensor MLP, growing with the number of tensors). Here the
hook goes on the outputs of the logging step's forwards instead: it asks autograd to call
back once the whole pass is done (``queue_callback``) and goes away with that step's graph.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import nn
from torch.autograd import Variable
from torch.utils.hooks import RemovableHandle

from aelog.sdk.outputs import output_fields, without_distributions


class BackwardEnd:
    """Calls ``callback()`` once at the end of each backward that flows through a watched
    output, until :meth:`remove`. Gradient accumulation (several backwards before one
    step) calls it after each, so the last call sees the accumulated gradients."""

    def __init__(self, callback: Callable[[], None],
                 on_error: Callable[[BaseException], None] | None = None) -> None:
        self._callback: Callable[[], None] | None = callback
        self._on_error = on_error
        """told when autograd will not take the callback (it runs inside the user's
        backward: nothing may escape); the watch stops either way."""
        self._queued = False

    def watch_forwards_of(self, module: nn.Module,
                          skip: Callable[[], bool] = lambda: False) -> RemovableHandle:
        """Watch the output of each of ``module``'s training forwards (train mode, grad
        enabled, ``skip()`` false) while the returned handle stays in place."""
        def on_forward(module: nn.Module, args: tuple, output) -> None:
            if module.training and torch.is_grad_enabled() and not skip():
                self.watch(output)

        return module.register_forward_hook(on_forward)

    def watch(self, output: object) -> None:
        """Hook the tensors of one forward's output that backward will flow through."""
        for tensor in _tensors(output):
            if tensor.requires_grad and tensor.grad_fn is not None:
                tensor.register_hook(self._on_gradient)

    def remove(self) -> None:
        """No more calls: the step is over (a graph kept with ``retain_graph`` stays quiet)."""
        self._callback = None

    def _on_gradient(self, grad: torch.Tensor) -> None:
        if self._callback is not None and not self._queued:
            self._queued = True
            try:
                Variable._execution_engine.queue_callback(self._run)
            except Exception as error:  # noqa: BLE001 - the user's backward must go on
                self._callback = None
                if self._on_error is not None:
                    self._on_error(error)

    def _run(self) -> None:
        self._queued = False
        if self._callback is not None:
            self._callback()


def _tensors(output: object) -> list[torch.Tensor]:
    """The tensors in a model's output: a tensor, or a tuple, list, dict or output object
    (see :func:`aelog.sdk.outputs.output_fields`) holding some."""
    if isinstance(output, torch.Tensor):
        return [output]
    if not isinstance(output, (dict, tuple, list)):
        output = output_fields(output) or output
    output = without_distributions(output)
    if isinstance(output, Mapping):
        output = list(output.values())
    if isinstance(output, (tuple, list)):
        return [item for item in output if isinstance(item, torch.Tensor)]
    return []
