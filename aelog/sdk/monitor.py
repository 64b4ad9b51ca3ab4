"""Monitor: attaches aelog's hooks to a model and optimizer, owns the cadence, probes and writer.

The user adds two lines (``import aelog``; ``aelog.watch(model, optimizer, logdir=...)``);
their loop stays as it is. Hooks read what the loop already computes: the model's input
and output, the bottleneck's output, the gradients before each optimizer step and the
weights around it.
"""

from __future__ import annotations

import atexit
import os
import time
import warnings
import weakref

import torch
from torch import nn

from aelog.logfile import format as fmt
from aelog.logfile.run_data import RunData
from aelog.logfile.run_log import RunLog
from aelog.probes import code as code_probe
from aelog.probes import data as data_probe
from aelog.probes import identity as identity_probe
from aelog.probes import linalg as linalg_probe
from aelog.probes import optimizer as optimizer_probe
from aelog.probes import symptom as symptom_probe
from aelog.probes import units as units_probe
from aelog.probes.identity import untouched_rng
from aelog.sdk import distributed, run_metadata
from aelog.sdk.backward_end import BackwardEnd
from aelog.sdk.cadence import Cadence
from aelog.sdk.live_alert import CollapseAlert, CollapseDetected
from aelog.sdk.loss_scale import (
    find_grad_scaler,
    raw_gradient_shrink,
    skipped_inside_step,
    step_scale,
)
from aelog.sdk.model_inspect import (
    WatchedLayer,
    named_encoder,
    narrowest,
    output_activation,
    per_sample_width,
    resolve_latent,
    watched_layers,
)
from aelog.sdk.outputs import ParsedOutput, UnexpectedOutput, parse_output, parse_pair
from aelog.sdk.probe_guard import AelogWarning, ProbeGuard, user_stacklevel
from aelog.sdk.probe_state import training_mode, untouched_buffers
from aelog.sdk.skipped_steps import SkippedSteps
from aelog.sdk.tensor_utils import HostBatch, first_tensor, input_place, matching_shape, with_input
from aelog.sdk.watch_args import (
    OptimizerArg,
    TargetFn,
    check_model,
    default_run_name,
    initial_layer_stats,
    optimizer_list,
    target_reader,
    trained_params,
)
from aelog.sdk.wrappers import averages_across_ranks, watch_target

_grad_enabled = torch.is_grad_enabled
_ACTIVE: weakref.WeakKeyDictionary[nn.Module, Monitor] = weakref.WeakKeyDictionary()
"""the open monitor of each watched model: a second watch() replaces it, never doubles hooks."""
_WEIGHT_FINGERPRINTS = "weight fingerprints"
_RAW_GRAD_SQ = "raw gradient squares"
_SKIPPED_INSIDE = "skipped inside the optimizer"
SLOW_SIGNALS_EVERY = 4
"""signals that move slowly (how alike a layer's weight rows are and the code's dimensions,
the data batch's spectrum and range, the input batch's spread across samples and its
duplicates) are read at the first two logging steps and at every 4th after, two steps off
the identity check's default rhythm so that the costly logging steps are spread out: a
quarter of their cost, the same picture."""
DIAGNOSE_GAP_STEPS = 500
"""the live diagnosis runs at every ``diagnose_every``-th logging step, and at any logging
step this many steps or more after the last one: once logging is sparse (hundreds of steps
apart late in a run), waiting for five more logging steps would warn thousands of steps
late. Its cost is a logging step's like any other, and the cadence budgets for it."""


class Monitor:
    """Logs collapse signals of one training run to ``logdir/run_name``.

    Cadence: the step is the optimizer's step count (with several optimizers, one step of
    each; training forwards when there is no optimizer). Steps 0-19 are all logged, the
    first hundred steps at least every 10th (where a logging step costs under 10 ms; a
    costlier model, steps 0-2 and then as the budget allows), then the gap grows with the
    step and
    stretches further whenever the measured cost of logging would exceed
    ``overhead_budget`` of the training time (see
    :class:`aelog.sdk.cadence.Cadence`); ``log_every=N`` fixes it instead.

    Promises:

    * training is unchanged: no draws from the global RNG, no BatchNorm statistics
      touched, module modes restored after the identity check's eval forward;
    * a failing probe (an exception, an output we cannot read) warns once and is switched
      off; a failing writer (disk full) warns once and stops writing; training goes on;
    * a step that does not log meets one forward pre-hook and one optimizer post-hook
      (plus, in a loop seen to skip steps or to use a GradScaler, a gradient hook on one
      parameter that counts skipped steps); layer hooks exist during logging steps only;
      each is a few Python comparisons: no tensor operation, no allocation, no
      host-device synchronisation;
    * every record is written with one ``os.write`` as it is produced, so ``close()``
      (also run at exit) only flushes, and a killed process loses nothing already logged.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: OptimizerArg = None,
        *,
        logdir: str | os.PathLike | None = None,
        run_name: str | None = None,
        latent: str | nn.Module | None = None,
        tags: dict[str, str] | None = None,
        target: TargetFn | None = None,
        overhead_budget: float = 0.02,
        log_every: int | None = None,
        on_collapse: object = "warn",
        identity_every: int = 4,
        diagnose_every: int = 5,
    ) -> None:
        check_model(model, optimizer)
        wrapped = watch_target(model)
        model = wrapped.model  # DataParallel/DDP/torch.compile: names come from the inner model
        self.model = model
        self._entry = wrapped.entry
        self._compiled = wrapped.compiled
        self.optimizers = optimizer_list(optimizer)
        self.optimizer = self.optimizers[0] if self.optimizers else None
        self._loop = {"wrappers": wrapped.wrappers, "compiled": wrapped.compiled,
                      "optimizers": len(self.optimizers)}
        self._stepped: set[int] = set()
        self._batch_inputs: torch.Tensor | None = None
        self._ranks_average_gradients = averages_across_ranks(wrapped)
        """backward leaves each rank its own gradient, not the averaged one the step uses."""
        self.tags = {str(k): str(v) for k, v in (tags or {}).items()}
        self.cadence = Cadence(budget=overhead_budget, every=log_every)
        self._alert = CollapseAlert(on_collapse if distributed.is_writer_rank() else None)
        self._target = target_reader(target)
        self._identity_every = max(1, int(identity_every))
        self._diagnose_every = max(1, int(diagnose_every))
        self._diagnose_from = self.cadence.warmup
        self._latent_request = resolve_latent(model, latent) if latent is not None else None

        self._layers = watched_layers(model)
        self._params = trained_params(model, self.optimizers)
        self._skips: SkippedSteps | None = None
        self._all_params = list(model.parameters())
        position = {id(item.tensor): index for index, item in enumerate(self._params)}
        self._measured_index = [position.get(id(p)) for p in self._all_params]
        """where each model parameter sits in the measured lists (None: not trained)."""
        self._untrained_params = [
            p for p, index in zip(self._all_params, self._measured_index, strict=True)
            if index is None
        ]
        self._previous_movement: list[optimizer_probe.MovementState] | None = None
        self._raw_shrink = 1.0
        """what raw gradients are multiplied by before squaring: from the last loss scale."""
        in_optimizer = {id(item.tensor) for item in self._params if item.group is not None}
        self._init_layers = initial_layer_stats(model, in_optimizer)

        logdir = os.fspath(logdir) if logdir is not None else "runs"
        self.run_name = run_name or default_run_name(logdir)
        self.run_dir = os.path.join(logdir, self.run_name)
        self._log = RunLog(self.run_dir, self.run_name, writer=distributed.writer_for_rank())
        self._start_time = time.time()

        self._guard = ProbeGuard(self._record_failure)
        self._closed = False

        self.step = 0
        self._quiet = False
        """a plain step between logging steps, on the hooks' fast path (see _refresh_quiet)."""
        self._plain_steps = False
        self._logging = self.cadence.should_log(0)
        self._capture_started: float | None = None
        self._capturing = False
        self._captured = False
        self._in_probe = False
        self._measuring_end = False
        self._last_args: tuple = ()
        self._last_kwargs: dict | None = None
        """the last training forward's arguments (references, not copies): the batch the
        run's end is measured on."""
        self._step_open = False
        self._logged_steps = 0
        self._last_logged_step: int | None = None
        self._final_step: int | None = None
        self._diagnosed_at: int | None = None
        self._cost = 0.0

        self._code_name: str | None = None
        self._code_module: nn.Module | None = None
        self._code_size: int | None = None
        self._shapes: dict = {}
        self._generator = torch.Generator(device="cpu")
        self._generator.manual_seed(0xAE106)
        self._input_fingerprint = data_probe.FingerprintDirection()
        self._previous_input_fingerprint: torch.Tensor | None = None
        self._reset_step_state()
        self._val_sums: torch.Tensor | None = None
        self._val_batches = 0

        previous = _ACTIVE.get(model)
        if previous is not None and not previous.closed:
            warnings.warn(
                f"aelog: this model was already watched (run {previous.run_name}); "
                f"that monitor is closed and run {self.run_name} takes over.",
                AelogWarning,
                stacklevel=user_stacklevel(),
            )
            previous.close()
        self._handles: list = []
        self._capture_hooks: list = []
        self._step_hooks: list = []
        self._validation_hooks: list = []
        self._attach()
        self._sync = distributed.rank_sync(  # DDP: rank 0 writes, whole-batch stats over ranks
            self.optimizer, lambda step: step + self.cadence.interval_after(step), self._guard,
            lambda stats: self._pending.update(stats))
        self._plain_steps = len(self.optimizers) == 1 and self._sync is None
        self._refresh_quiet()
        linalg_probe.warm_up(self._all_params[0].device)
        _ACTIVE[model] = self
        atexit.register(self.close)
        if self._compiled:
            self._say_what_compiled_hides(wrapped.entry is not model)

    def _say_what_compiled_hides(self, from_outside: bool) -> None:
        hidden = ("per-layer activations (dead/saturated units) and the bottleneck code are "
                  "not measured: hooks inside the compiled graph would break it")
        if not from_outside:
            hidden += ("; model.compile() in place still compiles aelog's model hooks (graph "
                       "breaks): watch(torch.compile(model)) keeps the graph whole")
        warnings.warn(f"aelog: compiled model: {hidden}. Inputs, outputs, gradients and weights "
                      "are measured as usual.", AelogWarning, stacklevel=user_stacklevel())
        self._log.record(0, {"kind": "not_measured", "reason": "torch.compile", "detail": hidden})

    # -- public ----------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def run_data(self) -> RunData:
        """An in-memory copy of everything logged so far (what the engine reads)."""
        return self._log.run_data()

    def close(self) -> None:
        """Finish an open logging step, write what is pending, detach hooks, flush the file."""
        if self._closed:
            return
        try:
            if self.optimizer is None and self._step_open and self._logging:
                self._finish_step(self.step)
            elif self._stepped and self._logging:  # not every optimizer stepped: finish anyway
                self._guard.run("optimizer", self._read_gradients_after_step, self.optimizer)
                self._finish_step(self.step)
            if self._log.metadata is None:
                self._guard.run("metadata", self._write_metadata)
            self._final_step = None
            if self.step > 0 and self._last_kwargs is not None:
                self._guard.run("end of run", self._measure_end)
            if self._val_batches:
                self._log.scalars(self.step, self._validation_values())
            if self.step > 0:
                self._guard.run("metadata", self._record_close)
        finally:
            self._closed = True
            if self._sync is not None:
                self._sync.close()
            for handles in self._all_handles():
                self._detach(handles)
            self._log.close()
            atexit.unregister(self.close)
            if _ACTIVE.get(self.model) is self:
                del _ACTIVE[self.model]

    def _record_close(self) -> None:
        """How far the run trained, and what logging cost it: a small model's last logging
        step can come long before its end (the budget spaces them out), and a chart that
        stops there would otherwise read as a run that stopped."""
        elapsed = time.time() - self._start_time
        values = (self.step, self.cadence.logged, self.cadence.overhead(elapsed))
        record = {"kind": fmt.CLOSED_RECORD, **dict(zip(fmt.CLOSED_FIELDS, values, strict=True)),
                  "logging_seconds": self.cadence.logging_seconds}
        if self._final_step is not None:
            record["final_step"] = self._final_step
        self._log.record(self.step, record)

    def _measure_end(self) -> None:
        """The run's end, measured: one forward of the last training batch in the mode it
        was trained in, with gradients off, every RNG and BatchNorm statistic as it was,
        then the same signals as a logging step (less the update, which needs a step) and
        the identity check, at the step count reached. A run whose last logging step came
        long before its end is still judged on how it ended."""
        if self._logged_steps and self._last_logged_step == self.step:
            return  # the last step was measured as it ended (no optimizer: no update since)
        started = time.perf_counter()
        self._detach(self._grad_hooks)
        self._detach(self._step_hooks)
        self._detach(self._capture_hooks)
        self._reset_step_state()
        sync, self._sync = self._sync, None  # one rank's own measurement: no collectives
        args, kwargs = self._last_args, self._last_kwargs or {}
        self._last_args, self._last_kwargs = (), None  # the batch is not held past close
        self._measuring_end = True
        try:
            self._capturing = True
            self._attach_end_hooks()
            with torch.no_grad(), untouched_rng(self._all_params[0].device), \
                    untouched_buffers(self.model), training_mode(self.model):
                if not args and not kwargs:
                    return
                self.model(*args, **kwargs)  # eager, unwrapped: no collective, no recompile
            if not self._captured:
                return
            values = self._compute_step(self.step)
            if values:
                self._log.scalars(self.step, values)
                self._final_step = self.step
        finally:
            self._measuring_end = False
            self._sync = sync
            self._detach(self._capture_hooks)
            self._detach(self._step_hooks)
            self._reset_step_state()
            self.cadence.final_measured(time.perf_counter() - started)

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- hooks -----------------------------------------------------------------------------

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
            if self._batch_inputs is None:
                self._training_batch(args)
        except CollapseDetected:
            raise
        except Exception as error:  # noqa: BLE001 - the user's forward must run regardless
            self._stop_after_failure(error)

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

    def _discard_capture(self) -> None:
        self._detach(self._capture_hooks)
        self._detach(self._grad_hooks)
        self._reset_step_state()

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

    def _start_capture(self, args: tuple) -> None:
        started = time.perf_counter()
        self._capture_started = started
        self._capturing = True
        inputs = first_tensor(args, {})
        self._batch_hint = int(inputs.shape[0]) if inputs is not None and inputs.dim() else None
        self._attach_capture_hooks()
        if self._skips is not None:
            self._skips.arm()  # a skip would void this step's measurement: watch for one
        if self.optimizer is None:
            self._guard.run("optimizer", self._start_measure_without_optimizer)
        elif not self._ranks_average_gradients:
            self._guard.run("optimizer", self._watch_raw_gradients)
        self._cost += time.perf_counter() - started

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
                self._grad_hooks, skips)

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
        self._guard.run("code", self._capture_code, output)
        self._cost += time.perf_counter() - started

    def _before_step(self, optimizer, args, kwargs) -> None:
        if self._closed or not self._logging or self._measure.before:
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

    # -- capture (logging steps only) -----------------------------------------------------------

    def _reset_step_state(self) -> None:
        self._captured = False
        self._capturing = False
        self._pending: dict[str, torch.Tensor] = {}
        self._pending_layers: dict[str, dict[str, torch.Tensor]] = {}
        self._code: tuple[torch.Tensor, torch.Tensor | None] | None = None
        self._measure = optimizer_probe.StepMeasure()
        self._grad_hooks: list = []
        self._backward_end: BackwardEnd | None = None
        self._last_unit_dim = -1
        self._executed: list[tuple[str, int, nn.Module]] = []
        self._executed_outputs: dict[str, object] = {}
        self._output_owners: dict[int, str] = {}
        self._replay: tuple | None = None
        self._batch_hint: int | None = None
        self._last_full_output: torch.Tensor | None = None
        self._cost = 0.0

    def _capture_layer(self, layer: WatchedLayer, output) -> None:
        if isinstance(output, (tuple, list)):
            output = output[0] if output and isinstance(output[0], torch.Tensor) else None
        if not isinstance(output, torch.Tensor) or not output.is_floating_point():
            return
        if self._batch_inputs is not None and output.numel() == self._batch_inputs.numel():
            self._last_full_output = output  # the reconstruction, if model(x) is never called
            if self._backward_end is not None:  # ... whose backward the gradients come from
                self._backward_end.watch(output)
        if layer.unit_dim is not None:
            self._last_unit_dim = layer.unit_dim
        unit_dim = layer.unit_dim if layer.unit_dim is not None else self._last_unit_dim
        if self._log.metadata is None:
            self._output_owners.setdefault(id(output), layer.name)
        if self._code_name is None and self._log.metadata is None:
            width = per_sample_width(output, self._batch_hint or output.shape[0])
            if width is not None:
                self._executed.append((layer.name, width, layer.module))
                self._keep_if_narrowest(layer.name, width, output)
        elif self._log.metadata is None:
            self._executed.append((layer.name, 0, layer.module))
        if layer.name not in self._pending_layers:
            self._pending_layers[layer.name] = units_probe.activation_stats(
                output, unit_dim if output.dim() > 1 else -1, layer.limits, layer.nonnegative
            )

    def _keep_if_narrowest(self, name: str, width: int, output: torch.Tensor) -> None:
        """Copy only the outputs that may turn out to be the code: the narrowest so far."""
        if width > min(w for _, w, _ in self._executed):
            return
        widths = {n: w for n, w, _ in self._executed}
        self._executed_outputs = {
            n: kept for n, kept in self._executed_outputs.items() if widths[n] == width
        }
        self._executed_outputs[name] = output.detach().clone()

    def _capture_from_layers(self) -> None:
        """The batch ends without ``model(x)``: read it from the layers that did run."""
        inputs, output = self._batch_inputs, self._last_full_output
        self._detach(self._capture_hooks)
        self._capturing, self._captured = False, True
        if output is None:
            raise UnexpectedOutput(
                "no layer produced an output the size of the batch input; the reconstruction "
                "cannot be found (pass target= when the model does not reconstruct its input)"
            )
        self._capture_forward((inputs,), {}, output)
        self._replay = None  # the identity check calls model(x), which this loop does not use

    def _capture_code(self, output) -> None:
        code, logvar = parse_pair(output)
        self._code = (code.detach().clone(), None if logvar is None else logvar.detach().clone())

    def _capture_forward(self, args: tuple, kwargs: dict, output) -> None:
        inputs = first_tensor(args, kwargs)
        if inputs is None:
            raise UnexpectedOutput("the model was called without a tensor input")
        if inputs.dim() == 0 or inputs.shape[0] < 2:
            return  # batch statistics need two samples; the next logging step will have them
        parsed = self._guard.run("output", parse_output, output)
        target = self._target(inputs) if self._target else inputs
        slow = self._slow_signals_now()
        if self._log.metadata is None:
            self._inspect_first_forward(inputs, parsed)
        code, logvar = self._code if self._code is not None else (None, None)
        if parsed is not None and parsed.mu is not None:
            code, logvar = parsed.mu.detach(), parsed.logvar
        if code is not None:
            self._code_size = int(code[0].numel())
            self._shapes.setdefault("latent_size", self._code_size)
            stats = self._guard.run("code", code_probe.code_stats, code,
                                    similarity=slow)
            self._pending.update(stats or {})
            if logvar is not None:
                self._pending.update(
                    self._guard.run("vae", code_probe.vae_stats, code, logvar) or {}
                )
        if parsed is not None and self._guard.active("symptom"):
            recon = matching_shape(parsed.reconstruction_values(), target)
            stats = self._guard.run(
                "symptom", symptom_probe.symptom_stats, recon, target.detach(), self._code_size,
                data=slow,
            )
            self._pending.update(stats or {})
        result = self._guard.run(
            "data", data_probe.input_stats, inputs, self._input_fingerprint,
            self._previous_input_fingerprint, batch=slow,
        )
        if result is not None:
            stats, fingerprint = result
            if fingerprint is not None:
                self._previous_input_fingerprint = fingerprint
            self._pending.update(stats)
        if parsed is not None:
            self._replay = (inputs.detach(), target.detach(), args, kwargs)
        if parsed is not None and self._sync is not None:
            self._sync.stash(parsed.reconstruction_values(), target, code)

    def _inspect_first_forward(self, inputs: torch.Tensor, parsed: ParsedOutput | None) -> None:
        """Shapes, output activation and (unless named) the bottleneck, from one forward."""
        self._shapes["input_shape"] = list(inputs.shape)
        self._shapes["batch_size"] = int(inputs.shape[0])
        if parsed is not None:
            self._shapes["output_shape"] = list(parsed.reconstruction.shape)
            self._shapes["is_vae"] = parsed.is_vae
        self._shapes["output_activation"] = output_activation([m for _, _, m in self._executed])
        if self._code_name is None and not (parsed is not None and parsed.is_vae):
            choice = narrowest([(name, width) for name, width, _ in self._executed])
            if choice is not None:
                name = choice[0]
                self._code_name, self._code_module = name, self.model.get_submodule(name)
                self._code = (self._executed_outputs[name], None)
        if parsed is not None and parsed.mu is not None and self._code_name is None:
            self._code_name = self._output_owners.get(id(parsed.mu))  # the layer giving mu
        self._shapes["latent_module"] = self._code_name
        if self._code is not None and self._code[1] is not None:
            self._shapes["is_vae"] = True
        self._executed_outputs, self._output_owners = {}, {}

    def _accumulate_validation(self, args: tuple, kwargs: dict, output) -> None:
        """Sums over eval batches between logging steps; one NaN-safe ratio at the next one."""
        inputs = first_tensor(args, kwargs)
        if inputs is None or inputs.shape[0] < 2:
            return
        parsed = parse_output(output)
        target = self._target(inputs) if self._target else inputs
        recon = matching_shape(parsed.reconstruction_values(), target)
        sums = symptom_probe.validation_sums(recon, target)
        self._val_sums = sums if self._val_sums is None else self._val_sums + sums
        self._val_batches += 1

    def _validation_values(self) -> dict[str, float]:
        error, target_spread, output_spread = self._val_sums.tolist()
        self._val_sums, self._val_batches = None, 0
        if target_spread <= 0:
            return {}
        return {
            fmt.scalar_tag(fmt.VAL_RELATIVE_ERROR): error / target_spread,
            fmt.scalar_tag(fmt.VAL_OUTPUT_VARIANCE_RATIO): output_spread / target_spread,
        }

    def _snapshot_before_step(self) -> None:
        optimizer_probe.snapshot_weights(self._params, self._measure)
        self._measure.settings = self._optimizer_settings()

    def _read_gradients_after_step(self, optimizer: torch.optim.Optimizer) -> None:
        """Unscaled, clipped: the gradients the step used; the scaler's scale if it had one."""
        scaler = find_grad_scaler()
        self._measure.loss_scale = step_scale(optimizer, scaler)
        self._measure.skipped_inside = skipped_inside_step(optimizer)
        if self._measure.loss_scale is not None and self._skips is not None:
            self._skips.watch_always()  # mixed precision skips steps by design
        optimizer_probe.read_gradients(self._params, self._measure)
        if self._skips is not None:
            self._skips.follow_gradients([item.tensor for item in self._params])

    def _watch_raw_gradients(self) -> None:
        """|g|^2 as backward leaves it (before unscaling and clipping), this step only."""
        self._measure.raw_grad_sq = [None] * len(self._params)
        self._measure.raw_shrink = self._raw_shrink
        self._read_at_backward_end("clipping", self._read_raw_gradients)

    def _read_raw_gradients(self) -> None:
        shrink = self._measure.raw_shrink
        for index, item in enumerate(self._params):
            grad = item.tensor.grad
            if grad is None:
                continue
            grad = grad.detach().reshape(-1)
            if grad.dtype not in (torch.float32, torch.float64):
                grad = grad.float()
            if shrink != 1.0:  # a power of two: exact, and the scaled squares cannot overflow
                grad = grad * shrink
            self._measure.raw_grad_sq[index] = torch.dot(grad, grad)

    def _start_measure_without_optimizer(self) -> None:
        """Weights now; gradients when backward has made them (the loop may zero them)."""
        optimizer_probe.snapshot_weights(self._params, self._measure)
        count = len(self._params)
        self._measure.grad_sq = [torch.zeros(())] * count
        self._measure.grad_dot_weight = [torch.zeros(())] * count
        self._read_at_backward_end("optimizer", self._read_gradients_now)

    def _read_gradients_now(self) -> None:
        for index, item in enumerate(self._params):
            grad_sq, dot = optimizer_probe.gradient_terms(item.tensor)
            self._measure.grad_sq[index] = grad_sq
            self._measure.grad_dot_weight[index] = dot

    def _read_at_backward_end(self, probe: str, read) -> None:
        """``read()`` at the end of every backward through this logging step's forwards
        (see ``BackwardEnd``: no hook is left on the parameters)."""
        watcher = BackwardEnd(lambda: self._guard.run(probe, read),
                              on_error=lambda error: self._guard.fail(probe, error))
        self._backward_end = watcher
        self._grad_hooks.append(watcher)
        self._grad_hooks.append(
            watcher.watch_forwards_of(self._entry, skip=lambda: self._in_probe))

    # -- the end of a logging step: compute, one host transfer, write ---------------------------

    def _finish_step(self, step: int) -> None:
        """Compute and write this step's signals, plan the next one, maybe diagnose."""
        started = time.perf_counter()
        try:
            diagnosis = self._guard.run("step", self._log_step, step, started)
        finally:
            self._detach(self._grad_hooks)
            self._detach(self._step_hooks)
            self._detach(self._capture_hooks)
            self._reset_step_state()
        if diagnosis is not None:
            self._alert.act(diagnosis, step)  # may raise CollapseDetected, on request

    def _log_step(self, step: int, started: float) -> object | None:
        values = self._guard.run("signals", self._compute_step, step)
        if values is not None:
            self._log.scalars(step, values)
        if self._log.metadata is None:
            self._guard.run("metadata", self._write_metadata)
        self._logged_steps += 1
        self._last_logged_step = step
        diagnosis = None
        if self._alert.enabled and self._diagnose_now(step):
            self._diagnosed_at = step
            diagnosis = self._guard.run("diagnosis", self._alert.diagnose, self.run_data())
        now = time.perf_counter()
        span = None if self._capture_started is None else now - self._capture_started
        self._capture_started = None
        self.cadence.logged_step(step, self._cost + now - started, span)
        return diagnosis

    def _compute_step(self, step: int) -> dict[str, float]:
        """Every signal of this logging step, read back to the host in one transfer."""
        measure = self._measure
        have_update = bool(self._params) and len(measure.before) == len(self._params)
        if have_update:
            self._guard.run("optimizer", optimizer_probe.read_updates, self._params, measure)
            have_update = self._guard.active("optimizer")
        if self._slow_signals_now():
            self._measure_unit_similarity()
        if self._replay is not None and (self._measuring_end
                                         or self._logged_steps % self._identity_every == 0):
            self._pending.update(self._guard.run("identity", self._identity_check) or {})

        batch = HostBatch()
        for signal, value in self._pending.items():
            batch.add(fmt.scalar_tag(signal), value)
        for layer, stats in self._pending_layers.items():
            for signal, value in stats.items():
                batch.add(fmt.layer_tag(layer, signal), value)
        if have_update:
            for key in optimizer_probe.StepMeasure.HOST_FIELDS:
                batch.extend(key, getattr(measure, key))
            raw = [t for t in measure.raw_grad_sq if t is not None]
            if raw and len(measure.grad_sq) == len(self._params):
                batch.extend(_RAW_GRAD_SQ, raw)
        if isinstance(measure.loss_scale, torch.Tensor):
            batch.add(fmt.scalar_tag(fmt.LOSS_SCALE), measure.loss_scale)
        if measure.skipped_inside is not None:
            batch.add(_SKIPPED_INSIDE, measure.skipped_inside)
        fingerprinted = self._untrained_params if have_update else self._all_params
        if self._measuring_end:
            fingerprinted = []  # movement is judged between updates; the end has none
        batch.extend(_WEIGHT_FINGERPRINTS, [
            value for p in fingerprinted for value in optimizer_probe.weight_fingerprint(p)
        ])
        host = batch.read()

        fingerprints = host.pop(_WEIGHT_FINGERPRINTS)
        measured = {key: host.pop(key) for key in optimizer_probe.StepMeasure.HOST_FIELDS
                    if key in host}
        raw_grad_sq = host.pop(_RAW_GRAD_SQ, None)
        values = {tag: numbers[0] for tag, numbers in host.items()}
        if isinstance(measure.loss_scale, float):
            values[fmt.scalar_tag(fmt.LOSS_SCALE)] = measure.loss_scale
        loss_scale = values.get(fmt.scalar_tag(fmt.LOSS_SCALE), 1.0)
        self._raw_shrink = raw_gradient_shrink(loss_scale)
        if values.pop(_SKIPPED_INSIDE, 0.0) and self._skips is not None:
            # a fused optimizer skipped this step itself: its inf gradients are no signal
            self._skips.count += 1
            return {fmt.scalar_tag(fmt.SKIPPED_STEPS): float(self._skips.count),
                    fmt.scalar_tag(fmt.LOSS_SCALE): loss_scale}
        if have_update:
            result = self._guard.run("optimizer", optimizer_probe.step_stats, self._params,
                                     measured)
            headline, per_layer = result if result is not None else ({}, {})
            values.update({fmt.scalar_tag(k): v for k, v in headline.items()})
            if raw_grad_sq is not None and fmt.GRAD_NORM in headline:
                shrunk = measure.raw_shrink**2
                clipping = optimizer_probe.clipping_stats(
                    [square / shrunk for square in raw_grad_sq], headline[fmt.GRAD_NORM],
                    loss_scale,
                )
                values.update({fmt.scalar_tag(k): v for k, v in clipping.items()})
            for layer, stats in per_layer.items():
                values.update({fmt.layer_tag(layer, k): v for k, v in stats.items()})
        if not self._measuring_end:
            self._record_movement(values, measured if have_update else None, fingerprints)
        values.update(measure.settings or self._optimizer_settings())
        if self._skips is not None:
            values[fmt.scalar_tag(fmt.SKIPPED_STEPS)] = float(self._skips.count)
        if self._val_batches:
            values.update(self._validation_values())
        elapsed = time.time() - self._start_time
        values[fmt.scalar_tag(fmt.LOGGING_OVERHEAD)] = self.cadence.overhead(elapsed)
        return values

    def _record_movement(self, values: dict[str, float], measured: dict | None,
                         fingerprints: list[float]) -> None:
        """The share of parameters that did not move since the last logging step."""
        movement = optimizer_probe.movement_states(self._measured_index, measured, fingerprints)
        if self._previous_movement is not None:
            sizes = [p.numel() for p in self._all_params]
            values[fmt.scalar_tag(fmt.FROZEN_FRACTION)] = optimizer_probe.frozen_fraction(
                sizes, self._previous_movement, movement
            )
        self._previous_movement = movement

    def _diagnose_now(self, step: int) -> bool:
        """Every ``diagnose_every``-th logging step from the warm-up's end, and any logging
        step DIAGNOSE_GAP_STEPS or more after the last diagnosis."""
        if step < self._diagnose_from:
            return False
        if self._logged_steps % self._diagnose_every == 0:
            return True
        last = self._diagnosed_at
        return step - (self._diagnose_from if last is None else last) >= DIAGNOSE_GAP_STEPS

    def _slow_signals_now(self) -> bool:
        """This logging step reads the slow signals (see SLOW_SIGNALS_EVERY)."""
        if self._measuring_end:
            return True
        done = self._logged_steps
        return done < 2 or done % SLOW_SIGNALS_EVERY == SLOW_SIGNALS_EVERY // 2

    def _measure_unit_similarity(self) -> None:
        for layer in self._layers:
            weight = getattr(layer.module, "weight", None)
            if isinstance(weight, torch.Tensor) and weight.dim() >= 2:
                similarity = self._guard.run("units", units_probe.unit_similarity, weight)
                if similarity is not None:
                    stats = self._pending_layers.setdefault(layer.name, {})
                    stats[fmt.LAYER_UNIT_SIMILARITY] = similarity

    def _optimizer_settings(self) -> dict[str, float]:
        if self.optimizer is None:
            return {}
        group = self.optimizer.param_groups[0]
        return {
            fmt.scalar_tag(fmt.LR): optimizer_probe.as_float(group.get("lr", 0.0)),
            fmt.scalar_tag(fmt.WEIGHT_DECAY): optimizer_probe.as_float(
                group.get("weight_decay", 0.0)
            ),
        }

    def _identity_check(self) -> dict[str, torch.Tensor]:
        inputs, target, args, kwargs = self._replay
        place = input_place(args, kwargs)

        def forward(x: torch.Tensor) -> torch.Tensor | None:
            self._in_probe = True
            try:
                call_args, call_kwargs = with_input(args, kwargs, place, x)
                output = self.model(*call_args, **call_kwargs)
            finally:
                self._in_probe = False
            return matching_shape(parse_output(output).reconstruction_values(), x)

        # fewer samples only where the input is the call's one tensor: others may be
        # per-sample too (labels, masks) and would no longer match
        alone = sum(isinstance(v, torch.Tensor) for v in (*args, *kwargs.values())) == 1
        return identity_probe.identity_stats(
            forward, inputs, matching_shape(target, inputs), self._generator, self.model,
            max_samples=identity_probe.IDENTITY_SAMPLES if alone else None,
        )

    # -- writing ---------------------------------------------------------------------------

    def _write_metadata(self) -> None:
        metadata = run_metadata.build_metadata(
            model=self.model,
            optimizer=self.optimizers,
            run_name=self.run_name,
            tags=self.tags,
            layers=self._init_layers,
            shapes=self._shapes,
            cadence=self.cadence.describe(),
            start_time=self._start_time,
            loop=self._loop,
        )
        if self._sync is not None:
            metadata["distributed"] = self._sync.describe()
        self._log.run_metadata(self.step, metadata)

    def _record_failure(self, probe: str, error: BaseException) -> None:
        self._log.record(self.step, {"kind": "probe_failed", "probe": probe,
                                     "error": f"{type(error).__name__}: {error}"})


def watch(
    model: nn.Module,
    optimizer: OptimizerArg = None,
    *,
    logdir: str | os.PathLike | None = None,
    run_name: str | None = None,
    latent: str | nn.Module | None = None,
    tags: dict[str, str] | None = None,
    target: TargetFn | None = None,
    overhead_budget: float = 0.02,
    log_every: int | None = None,
    on_collapse: object = "warn",
    identity_every: int = 4,
    diagnose_every: int = 5,
) -> Monitor:
    """Watch an autoencoder's training; the loop itself stays as it is.

    Args:
        model: the autoencoder (its forward may return a tensor, a tuple or a dict), or the
            same wrapped in DataParallel / DistributedDataParallel / torch.compile (names
            come from the inner model; a compiled one is hooked from outside its graph).
        optimizer: any ``torch.optim.Optimizer`` (hooked, not wrapped), or a list of them
            (e.g. separate encoder and decoder optimizers: a step ends once each has
            stepped); None reads gradients as backward produces them and counts training
            forwards as steps.
        logdir: parent directory of the run (default ``runs``); files go to logdir/run_name.
        run_name: default: the start time and host name.
        latent: the bottleneck module or its dotted name; default: a submodule called
            ``encoder``/``enc``, else the narrowest output on the forward path.
        tags: free labels for comparing runs, e.g. ``{"team": "vision", "owner": "ana"}``.
        target: what the output should reconstruct when it is not the input (denoising):
            a callable taking the model input, or taking nothing.
        overhead_budget: the share of training time logging may take (default 2%).
        log_every: log every N steps instead of the adaptive cadence.
        on_collapse: "warn" (a console warning per newly found cause, with its fix),
            "raise" (stop with ``CollapseDetected`` once the run is diagnosed collapsed),
            a callable taking the Diagnosis, or None. Checked every ``diagnose_every``
            logging steps from step 20, and at any logging step 500 or more steps after
            the last check.
        identity_every: run the identity check (two eval forwards) every N logging steps.

    Raises:
        ValueError: no trainable parameters, an invalid argument, or a run directory that
            cannot be created (a file in its way).
        PermissionError: the run directory is not writable.

    Example::

        monitor = aelog.watch(model, optimizer, logdir="runs/exp1", tags={"team": "vision"})
        for x in loader:                      # the loop stays as it is
            optimizer.zero_grad()
            loss = F.mse_loss(model(x), x)
            loss.backward()
            optimizer.step()
        monitor.close()                       # optional: also done at exit
    """
    return Monitor(
        model, optimizer, logdir=logdir, run_name=run_name, latent=latent, tags=tags,
        target=target, overhead_budget=overhead_budget, log_every=log_every,
        on_collapse=on_collapse, identity_every=identity_every, diagnose_every=diagnose_every,
    )
