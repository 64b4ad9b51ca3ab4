"""Where aelog meets the training loop: the hooks, attached and detached, and the step count.

A part of :class:`aelog.sdk.monitor.Monitor`, which holds the state these methods read.

A plain step meets one forward pre-hook and one optimizer post-hook, each a few Python
comparisons (the quiet path); the layers carry hooks during logging steps only, so
between them PyTorch runs its fast call path. The hooks count steps, wake the cadence,
and hand a logging step's tensors to the capture.
"""

from __future__ import annotations

import atexit
import sys
import time

import torch
from torch import nn

from aelog.sdk.live_alert import CollapseDetected
from aelog.sdk.model_inspect import (
    WatchedLayer,
    named_encoder,
)
from aelog.sdk.skipped_steps import SkippedSteps

_grad_enabled = torch.is_grad_enabled
NEVER = sys.maxsize
"""the NaN/Inf watch's next step once it has stopped."""

class HookPoints:
    """One part of :class:`~aelog.sdk.monitor.Monitor` (see the module); the state it reads
    is the Monitor's, set up in its ``__init__``."""

    def _attach(self) -> None:
        """Permanent hooks, few and cheap; everything else is attached for logging steps only.

        A module with hooks takes PyTorch's slower call path, so between logging steps the
        layers carry no hooks at all: a plain step pays one forward pre-hook and a
        post-hook per optimizer, each a few Python comparisons, and nothing in backward
        (no hook on a parameter, ever: see ``BackwardEnd``).
        """
        self._handles.append(self._entry.register_forward_pre_hook(
            self._on_forward_start, with_kwargs=True))
        for optimizer in self.optimizers:
            self._handles.append(optimizer.register_step_post_hook(self._after_step))
        if self.optimizers:
            self._skips = SkippedSteps(
                [item.tensor for item in self._params if item.group is not None], self._entry
            )
        if self._logging:
            self._attach_step_hooks()
        bottleneck = self._latent_request or named_encoder(self.model)
        if bottleneck is not None:
            self._code_name, self._code_module = bottleneck

    def _attach_capture_hooks(self) -> None:
        self._detach(self._capture_hooks)
        hooks = self._capture_hooks
        hooks.append(self._entry.register_forward_hook(self._on_forward_end, with_kwargs=True))
        if not self._compiled:  # inside a compiled graph, hooks would cost graph breaks
            for layer in self._layers:
                hooks.append(layer.module.register_forward_hook(self._layer_hook(layer)))
            if self._code_module is not None:
                hooks.append(self._code_module.register_forward_hook(self._on_code))
        self._attach_step_hooks()

    def _attach_end_hooks(self) -> None:
        """The capture hooks, on the unwrapped model, for the end-of-run forward."""
        hooks = self._capture_hooks
        hooks.append(self.model.register_forward_hook(self._on_forward_end, with_kwargs=True))
        if self._compiled:
            return  # the layers are not measured in training: not at the end either
        for layer in self._layers:
            hooks.append(layer.module.register_forward_hook(self._layer_hook(layer)))
        if self._code_module is not None:
            hooks.append(self._code_module.register_forward_hook(self._on_code))

    def _attach_step_hooks(self) -> None:
        """Before a logging step starts: closure loops (Lightning) enter step() before forward."""
        if not self._step_hooks:
            for optimizer in self.optimizers:
                self._step_hooks.append(optimizer.register_step_pre_hook(self._before_step))

    @staticmethod
    def _detach(handles: list) -> None:
        while handles:
            handles.pop().remove()

    @property
    def _logging(self) -> bool:
        """This step logs."""
        return self._logging_now

    @_logging.setter
    def _logging(self, value: bool) -> None:
        self._logging_now = value
        self._refresh_quiet()

    def _refresh_quiet(self) -> None:
        """A step that does not log, in a loop of one optimizer stepping once per step (no
        DDP rank sync) and no skip watch armed, has nothing for the hooks to do but count
        the step: they take a fast path of a few attribute reads."""
        self._quiet = (self._plain_steps and not self._logging_now
                       and (self._skips is None or not self._skips.armed))

    def _is_training_forward(self, module: nn.Module) -> bool:
        return module.training and torch.is_grad_enabled()

    def _on_forward_start(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        if self._quiet and module.training and _grad_enabled():
            self._last_args, self._last_kwargs = args, kwargs
            if self.step >= self._nonfinite_at:
                self._watch_forward(module, args, kwargs)
            return  # a training forward between logging steps
        if self._closed or self._in_probe or self._measuring_end:
            return
        try:
            if not self._is_training_forward(module):
                self._detach(self._validation_hooks)
                self._validation_hooks.append(
                    module.register_forward_hook(self._on_validation_end, with_kwargs=True)
                )
                return
            self._last_args, self._last_kwargs = args, kwargs
            if self.step >= self._nonfinite_at:
                self._watch_forward(module, args, kwargs)
            if self._batch_inputs is None:
                self._training_batch(args)
        except CollapseDetected:
            raise
        except Exception as error:  # noqa: BLE001 - the user's forward must run regardless
            self._stop_after_failure(error)

    def _watch_forward(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        """A step the NaN/Inf watch checks: its inputs now, its output from a hook attached
        for this one forward (steps it skips run no hook of its)."""
        try:
            self._nonfinite.inputs(self.step, args, kwargs)
            self._detach(self._nonfinite_hooks)  # a forward that raised left one behind
            self._nonfinite_hooks.append(module.register_forward_hook(self._on_forward_output))
            self._nonfinite_at = self._nonfinite.next_check(self.step)
        except Exception as error:  # noqa: BLE001 - the user's forward must run
            self._nonfinite_failed(error)

    def _on_forward_output(self, module: nn.Module, args: tuple, output) -> None:
        self._detach(self._nonfinite_hooks)
        if self._closed or self._in_probe or self._measuring_end or not self._nonfinite.active:
            return
        if not (module.training and _grad_enabled()):
            return
        try:
            self._nonfinite.outputs(self.step, output)
        except Exception as error:  # noqa: BLE001 - the user's forward has returned
            self._nonfinite_failed(error)

    def _nonfinite_failed(self, error: Exception) -> None:
        self._nonfinite_stop()
        self._guard.fail("nonfinite", error)

    def _nonfinite_stop(self) -> None:
        self._nonfinite.active = False
        self._nonfinite_at = NEVER
        self._detach(self._nonfinite_hooks)

    def _training_batch(self, args: tuple) -> None:
        """A training batch enters the model: count skipped steps, open a capture if logging."""
        if self._skips is not None:
            if self._skips.check() and self._logging:
                self._discard_capture()  # that batch's step never happened: measure the next
            if not self._logging:
                self._skips.rest()
                self._refresh_quiet()
        if self.optimizer is None:
            self._next_step_without_optimizer()
        if self._logging and not self._captured:
            self._start_capture(args)

    def training_batch_started(self, inputs: torch.Tensor) -> None:
        """For frameworks whose training step calls submodules rather than the model itself.

        Between this and :meth:`training_batch_ended` the batch counts as one training
        forward of the model, whether or not ``model(x)`` is called; when it is not, the
        reconstruction is the last layer output the size of ``inputs``.
        """
        if self._closed or not isinstance(inputs, torch.Tensor):
            return
        if self._skips is not None:
            self._skips.count_by_parameter()  # the model itself may never be called
        self._batch_inputs = None
        called = self._last_args, self._last_kwargs  # only a real model(x) call is replayed
        self._on_forward_start(self._entry, (inputs,), {})
        self._last_args, self._last_kwargs = called
        self._batch_inputs = inputs

    def training_batch_ended(self) -> None:
        self._batch_inputs = None

    def _stop_after_failure(self, error: Exception) -> None:
        """aelog's own machinery failed: one warning, then the monitor detaches itself."""
        self._guard.fail("monitor", error)
        self._closed = True
        for handles in self._all_handles():
            self._detach(handles)
        self._log.close()
        atexit.unregister(self.close)

    def _all_handles(self) -> tuple[list, ...]:
        skips = self._skips.handles if self._skips is not None else []
        return (self._handles, self._capture_hooks, self._step_hooks, self._validation_hooks,
                self._grad_hooks, self._nonfinite_hooks, skips)

    def _on_validation_end(self, module: nn.Module, args: tuple, kwargs: dict, output) -> None:
        self._detach(self._validation_hooks)
        if not self._closed and not self._in_probe:
            self._guard.run("validation", self._accumulate_validation, args, kwargs, output)

    def _on_forward_end(self, module: nn.Module, args: tuple, kwargs: dict, output) -> None:
        self._detach(self._capture_hooks)
        if self._closed or not self._capturing:
            return
        self._capturing = False
        self._captured = True
        started = time.perf_counter()
        self._guard.run("forward", self._capture_forward, args, kwargs, output)
        self._cost += time.perf_counter() - started

    def _layer_hook(self, layer: WatchedLayer):
        def hook(module: nn.Module, args: tuple, output) -> None:
            if not self._capturing or self._in_probe:
                return
            started = time.perf_counter()
            self._guard.run("layers", self._capture_layer, layer, output)
            self._cost += time.perf_counter() - started

        return hook

    def _on_code(self, module: nn.Module, args: tuple, output) -> None:
        if not self._capturing or self._in_probe or self._code is not None:
            return
        started = time.perf_counter()
        self._guard.run("code", self._capture_code, output, module)
        self._cost += time.perf_counter() - started

    def _before_step(self, optimizer, args, kwargs) -> None:
        if self._closed or not self._logging or self._measure.before or not self._full_now():
            return  # with several optimizers, the first one's step is "before the step"
        started = time.perf_counter()
        self._guard.run("optimizer", self._snapshot_before_step)
        self._cost += time.perf_counter() - started

    def _after_step(self, optimizer, args, kwargs) -> None:
        if self._quiet:  # a step between logging steps: count it, and see if the next logs
            self.step += 1
            if self.step >= self.cadence.wake_step:
                self._wake()
            return
        if self._closed:
            return
        if self._skips is not None:
            self._skips.stepped()
        if not self._step_complete(optimizer):
            return
        try:
            if self._logging:
                if not self._headline_step:
                    started = time.perf_counter()
                    self._guard.run("optimizer", self._read_gradients_after_step, optimizer)
                    if self._capturing and self._batch_inputs is not None:
                        self._guard.run("forward", self._capture_from_layers)
                    self._cost += time.perf_counter() - started
                self._finish_step(self.step)
        except CollapseDetected:
            raise
        except Exception as error:  # noqa: BLE001 - the user's step has already happened
            self._stop_after_failure(error)
        self.step += 1
        if self._sync is not None:  # under DDP every rank logs at the step rank 0 chose
            self.cadence.next_step = self._sync.next_logging_step(self.cadence.next_step)
            self.cadence.next_full = self._sync.next_point_full(self.cadence.next_full)
        if self.step >= self.cadence.wake_step:
            self.cadence.clock_read(self.step)
        self._logging = self.cadence.should_log(self.step)
        if self._logging and not self._closed:
            self._attach_step_hooks()

    def _wake(self) -> None:
        """The quiet path reached ``cadence.wake_step``: a clock reading, maybe a logging step."""
        self.cadence.clock_read(self.step)
        if self.cadence.should_log(self.step):
            self._logging = True
            self._attach_step_hooks()

    def _step_complete(self, optimizer: torch.optim.Optimizer) -> bool:
        """One training step is over once every watched optimizer has stepped once."""
        if len(self.optimizers) == 1:
            return True
        key = id(optimizer)
        if key in self._stepped or len(self._stepped) + 1 == len(self.optimizers):
            self._stepped = set()
            return True
        self._stepped.add(key)
        return False

    def _next_step_without_optimizer(self) -> None:
        """Without an optimizer a training forward opens a step and closes the previous one."""
        if self._step_open:
            if self._logging:
                self._finish_step(self.step)
            self.step += 1
            if self.step >= self.cadence.wake_step:
                self.cadence.clock_read(self.step)
            self._logging = self.cadence.should_log(self.step)
        self._step_open = True
