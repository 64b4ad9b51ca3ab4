"""Count optimizer steps the loop skipped (a GradScaler on inf/NaN gradients, a NaN guard).

A skipped step never calls ``optimizer.step``, so no step hook sees it. What can be seen:
backward ran (counted at the end of each backward through the model's output, see
``BackwardEnd``) and, by the next training forward, the gradients were cleared
(``zero_grad`` sets them to None) without a step in between. Gradient accumulation keeps
its gradients, so it is never mistaken for a skip; two forwards before one backward are
not either.

Counting costs a hook on the model's forward and one on each output, so it is armed only
where a skip matters or can be expected: for each logging step (whose measurement a skip
would void) and, for good, once the loop is seen to skip or to use a GradScaler (mixed
precision skips steps by design). A plain loop pays nothing for it between logging steps:
the hooks are on this step's modules and tensors, removed or gone with its graph. (A hook
on a parameter would not be: PyTorch keeps calling into Python for it on every later
backward even once removed, see ``BackwardEnd``.) Loops driven by a framework that may
never call the model itself (``training_batch_started``) count on one parameter's hook.

Blind spots: ``zero_grad(set_to_none=False)`` zeroes in place; telling that apart from
accumulation would need a tensor read on every step, so such skips go uncounted; so do
skips between logging steps of a loop that has shown no scaler and no skip yet.
"""

from __future__ import annotations

import torch
from torch import nn

from aelog.sdk.backward_end import BackwardEnd


class SkippedSteps:
    def __init__(self, params: list[torch.Tensor], model: nn.Module) -> None:
        self.count = 0
        self.handles: list = []
        self.always = False
        """watch every step: the loop skips steps, or uses a GradScaler."""
        self.by_parameter = False
        """count backwards with a hook on one parameter (the model may never be called)."""
        self._model = model
        self._backwards = 0
        self._counter = BackwardEnd(self._backward_done)
        self._sentinel: torch.Tensor | None = None
        trainable = [p for p in params if p.requires_grad]
        if trainable:
            self._sentinel = trainable[0]

    @property
    def armed(self) -> bool:
        return bool(self.handles)

    def arm(self) -> None:
        """Count backwards from now on (a logging step starts)."""
        if self.handles or self._sentinel is None:
            return
        if self.by_parameter:
            self.handles.append(
                self._sentinel.register_post_accumulate_grad_hook(self._on_backward))
        else:
            self.handles.append(self._counter.watch_forwards_of(self._model))

    def count_by_parameter(self) -> None:
        """The loop's framework may run the model's parts, not the model: count backwards
        from a parameter's gradient instead of the model's output."""
        if not self.by_parameter:
            armed = self.armed
            self._disarm()
            self.by_parameter = True
            if armed:
                self.arm()

    def rest(self) -> None:
        """Between logging steps: stop counting, unless the loop is known to skip."""
        if not self.always:
            self._disarm()

    def watch_always(self) -> None:
        self.always = True
        self.arm()

    def _disarm(self) -> None:
        while self.handles:
            self.handles.pop().remove()
        self._backwards = 0

    def _backward_done(self) -> None:
        if self.armed:
            self._backwards += 1

    def _on_backward(self, param: torch.Tensor) -> None:
        self._backwards += 1

    def stepped(self) -> None:
        """An optimizer stepped: the gradients made so far were used."""
        self._backwards = 0

    def check(self) -> bool:
        """At a training forward: were gradients made, then dropped without a step?"""
        if self._backwards and self._sentinel is not None and self._sentinel.grad is None:
            self._backwards = 0
            self.count += 1
            self.watch_always()  # this loop skips steps: count every one from now on
            return True
        return False

    def follow_gradients(self, params: list[torch.Tensor]) -> None:
        """On a logging step: watch a parameter that does get gradients (not a frozen one)."""
        if self._sentinel is not None and self._sentinel.grad is not None:
            return
        for param in params:
            if param.requires_grad and param.grad is not None:
                armed = self.armed
                self._disarm()
                self._sentinel = param
                if armed:
                    self.arm()
                return
