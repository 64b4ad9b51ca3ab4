"""Count optimizer steps the loop skipped (a GradScaler on inf/NaN gradients, a NaN guard).

A skipped step never calls ``optimizer.step``, so no step hook sees it. What can be seen,
at no cost: backward produced gradients (a Python hook on one parameter counts backwards)
and, by the next training forward, they were cleared (``zero_grad`` sets them to None)
without a step in between. Gradient accumulation keeps its gradients, so it is never
mistaken for a skip; two forwards before one backward are not either.

Blind spot: ``zero_grad(set_to_none=False)`` zeroes in place; telling that apart from
accumulation would need a tensor read on every step, so such skips go uncounted.
"""

from __future__ import annotations

import torch


class SkippedSteps:
    def __init__(self, params: list[torch.Tensor]) -> None:
        self.count = 0
        self.handles: list = []
        self._backwards = 0
        self._sentinel: torch.Tensor | None = None
        trainable = [p for p in params if p.requires_grad]
        if trainable:
            self._watch(trainable[0])

    def _watch(self, param: torch.Tensor) -> None:
        while self.handles:
            self.handles.pop().remove()
        self._sentinel = param
        self.handles.append(param.register_post_accumulate_grad_hook(self._on_backward))

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
            return True
        return False

    def follow_gradients(self, params: list[torch.Tensor]) -> None:
        """On a logging step: watch a parameter that does get gradients (not a frozen one)."""
        if self._sentinel is not None and self._sentinel.grad is not None:
            return
        for param in params:
            if param.requires_grad and param.grad is not None:
                self._watch(param)
                return
