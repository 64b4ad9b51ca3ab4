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

from aelog import format as fmt
from aelog import run_metadata
from aelog.cadence import Cadence
from aelog.live_alert import CollapseAlert, CollapseDetected
from aelog.model_inspect import (
    WatchedLayer,
    named_encoder,
    narrowest,
    output_activation,
    per_sample_width,
    resolve_latent,
    watched_layers,
)
from aelog.outputs import ParsedOutput, UnexpectedOutput, parse_output, parse_pair
from aelog.probe_guard import AelogWarning, ProbeGuard, user_stacklevel
from aelog.probes import code as code_probe
from aelog.probes import data as data_probe
from aelog.probes import identity as identity_probe
from aelog.probes import optimizer as optimizer_probe
from aelog.probes import symptom as symptom_probe
from aelog.probes import units as units_probe
from aelog.run_data import RunData
from aelog.run_log import RunLog
from aelog.tensor_utils import HostBatch, first_tensor, input_place, matching_shape, with_input
from aelog.watch_args import (
    TargetFn,
    check_model,
    default_run_name,
    initial_layer_stats,
    target_reader,
    trained_params,
)

_ACTIVE: weakref.WeakKeyDictionary[nn.Module, Monitor] = weakref.WeakKeyDictionary()
"""the open monitor of each watched model: a second watch() replaces it, never doubles hooks."""
_WEIGHT_FINGERPRINTS = "weight fingerprints"


class Monitor:
    """Logs collapse signals of one training run to ``logdir/run_name``.

    Cadence: the step is the optimizer's step count (training forwards when there is no
    optimizer). Steps 0-19 are all logged, the first hundred steps at least every 10th,
    then the gap grows with the step and stretches further whenever the measured cost of
    logging would exceed ``overhead_budget`` of the training time (see
    :class:`aelog.cadence.Cadence`); ``log_every=N`` fixes it instead.

    Promises:

    * training is unchanged: no draws from the global RNG, no BatchNorm statistics
      touched, module modes restored after the identity check's eval forward;
    * a failing probe (an exception, an output we cannot read) warns once and is switched
      off; a failing writer (disk full) warns once and stops writing; training goes on;
    * a step that does not log meets one forward pre-hook and one optimizer post-hook
      (layer hooks exist during logging steps only), each a few Python comparisons: no
      tensor operation, no allocation, no host-device synchronisation;
    * every record is written with one ``os.write`` as it is produced, so ``close()``
      (also run at exit) only flushes, and a killed process loses nothing already logged.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer | None = None,
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
        self.model = model
        self.optimizer = optimizer
        self.tags = {str(k): str(v) for k, v in (tags or {}).items()}
        self.cadence = Cadence(budget=overhead_budget, every=log_every)
        self._alert = CollapseAlert(on_collapse)
        self._target = target_reader(target)
        self._identity_every = max(1, int(identity_every))
        self._diagnose_every = max(1, int(diagnose_every))
        self._diagnose_from = self.cadence.warmup
        self._latent_request = resolve_latent(model, latent) if latent is not None else None

        self._layers = watched_layers(model)
        self._params = trained_params(model, optimizer)
        self._all_params = list(model.parameters())
        self._previous_weight_fingerprints: list[float] | None = None
        in_optimizer = {id(item.tensor) for item in self._params if item.group is not None}
        self._init_layers = initial_layer_stats(model, in_optimizer)

        logdir = os.fspath(logdir) if logdir is not None else "runs"
        self.run_name = run_name or default_run_name(logdir)
        self.run_dir = os.path.join(logdir, self.run_name)
        self._log = RunLog(self.run_dir, self.run_name)
        self._start_time = time.time()

        self._guard = ProbeGuard(self._record_failure)
        self._closed = False

        self.step = 0
        self._logging = self.cadence.should_log(0)
        self._capturing = False
        self._captured = False
        self._in_probe = False
        self._step_open = False
        self._logged_steps = 0
        self._cost = 0.0

        self._code_name: str | None = None
        self._code_module: nn.Module | None = None
        self._code_size: int | None = None
        self._shapes: dict = {}
        self._generator = torch.Generator(device="cpu")
        self._generator.manual_seed(0xAE106)
        self._input_fingerprint_generator = torch.Generator(device="cpu")
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
        _ACTIVE[model] = self
        atexit.register(self.close)

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
            if self._log.metadata is None:
                self._guard.run("metadata", self._write_metadata)
            if self._val_batches:
                self._log.scalars(self.step, self._validation_values())
        finally:
            self._closed = True
            for handles in self._all_handles():
                self._detach(handles)
            self._log.close()
            atexit.unregister(self.close)
            if _ACTIVE.get(self.model) is self:
                del _ACTIVE[self.model]

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- hooks -----------------------------------------------------------------------------

    def _attach(self) -> None:
        """Two permanent hooks; everything else is attached for one logging step only.

        A module with hooks takes PyTorch's slower call path, so between logging steps the
        layers carry no hooks at all: a plain step pays one forward pre-hook and one
        optimizer post-hook, each a few Python comparisons.
        """
        self._handles.append(self.model.register_forward_pre_hook(self._on_forward_start))
        if self.optimizer is not None:
            self._handles.append(self.optimizer.register_step_post_hook(self._after_step))
        bottleneck = self._latent_request or named_encoder(self.model)
        if bottleneck is not None:
            self._code_name, self._code_module = bottleneck

    def _attach_capture_hooks(self) -> None:
        self._detach(self._capture_hooks)
        hooks = self._capture_hooks
        hooks.append(self.model.register_forward_hook(self._on_forward_end, with_kwargs=True))
        for layer in self._layers:
            hooks.append(layer.module.register_forward_hook(self._layer_hook(layer)))
        if self._code_module is not None:
            hooks.append(self._code_module.register_forward_hook(self._on_code))
        if self.optimizer is not None and not self._step_hooks:
            self._step_hooks.append(self.optimizer.register_step_pre_hook(self._before_step))

    @staticmethod
    def _detach(handles: list) -> None:
        while handles:
            handles.pop().remove()

    def _is_training_forward(self, module: nn.Module) -> bool:
        return module.training and torch.is_grad_enabled()

    def _on_forward_start(self, module: nn.Module, args: tuple) -> None:
        if self._closed or self._in_probe:
            return
        try:
            if not self._is_training_forward(module):
                self._detach(self._validation_hooks)
                self._validation_hooks.append(
                    module.register_forward_hook(self._on_validation_end, with_kwargs=True)
                )
                return
            if self.optimizer is None:
                self._next_step_without_optimizer()
            if self._logging and not self._captured:
                self._start_capture(args)
        except CollapseDetected:
            raise
        except Exception as error:  # noqa: BLE001 - the user's forward must run regardless
            self._stop_after_failure(error)

    def _start_capture(self, args: tuple) -> None:
        started = time.perf_counter()
        self._capturing = True
        inputs = first_tensor(args, {})
        self._batch_hint = int(inputs.shape[0]) if inputs is not None and inputs.dim() else None
        self._attach_capture_hooks()
        if self.optimizer is None:
            self._guard.run("optimizer", self._start_measure_without_optimizer)
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
        return (self._handles, self._capture_hooks, self._step_hooks, self._validation_hooks,
                self._grad_hooks)

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
        if self._closed or not self._logging:
            return
        started = time.perf_counter()
        self._guard.run("optimizer", self._read_gradients_and_weights)
        self._cost += time.perf_counter() - started

    def _after_step(self, optimizer, args, kwargs) -> None:
        if self._closed:
            return
        try:
            if self._logging:
                self._finish_step(self.step)
        except CollapseDetected:
            raise
        except Exception as error:  # noqa: BLE001 - the user's step has already happened
            self._stop_after_failure(error)
        self.step += 1
        self._logging = self.cadence.should_log(self.step)

    def _next_step_without_optimizer(self) -> None:
        """Without an optimizer a training forward opens a step and closes the previous one."""
        if self._step_open:
            if self._logging:
                self._finish_step(self.step)
            self.step += 1
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
        self._last_unit_dim = -1
        self._executed: list[tuple[str, int, nn.Module]] = []
        self._executed_outputs: dict[str, object] = {}
        self._output_owners: dict[int, str] = {}
        self._replay: tuple | None = None
        self._batch_hint: int | None = None
        self._cost = 0.0

    def _capture_layer(self, layer: WatchedLayer, output) -> None:
        if isinstance(output, (tuple, list)):
            output = output[0] if output and isinstance(output[0], torch.Tensor) else None
        if not isinstance(output, torch.Tensor) or not output.is_floating_point():
            return
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
                output, unit_dim if output.dim() > 1 else -1, layer.limits
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
        if self._log.metadata is None:
            self._inspect_first_forward(inputs, parsed)
        code, logvar = self._code if self._code is not None else (None, None)
        if parsed is not None and parsed.mu is not None:
            code, logvar = parsed.mu.detach(), parsed.logvar
        if code is not None:
            self._code_size = int(code[0].numel())
            self._shapes.setdefault("latent_size", self._code_size)
            stats = self._guard.run("code", code_probe.code_stats, code)
            self._pending.update(stats or {})
            if logvar is not None:
                self._pending.update(
                    self._guard.run("vae", code_probe.vae_stats, code, logvar) or {}
                )
        if parsed is not None and self._guard.active("symptom"):
            recon = matching_shape(parsed.reconstruction_values(), target)
            stats = self._guard.run(
                "symptom", symptom_probe.symptom_stats, recon, target.detach(), self._code_size
            )
            self._pending.update(stats or {})
        result = self._guard.run(
            "data", data_probe.input_stats, inputs, self._input_fingerprint_generator,
            self._previous_input_fingerprint,
        )
        if result is not None:
            stats, self._previous_input_fingerprint = result
            self._pending.update(stats)
        if parsed is not None:
            self._replay = (inputs.detach(), target.detach(), args, kwargs)

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

    def _read_gradients_and_weights(self) -> None:
        optimizer_probe.read_gradients(self._params, self._measure)
        optimizer_probe.snapshot_weights(self._params, self._measure)

    def _start_measure_without_optimizer(self) -> None:
        """Weights now; gradients when backward accumulates them (the loop may zero them)."""
        optimizer_probe.snapshot_weights(self._params, self._measure)
        count = len(self._params)
        self._measure.grad_sq = [torch.zeros(())] * count
        self._measure.grad_dot_weight = [torch.zeros(())] * count
        self._measure.grad_nonfinite = [torch.zeros(())] * count
        for index, item in enumerate(self._params):
            self._grad_hooks.append(
                item.tensor.register_post_accumulate_grad_hook(self._grad_reader(index))
            )

    def _grad_reader(self, index: int):
        def read(param: torch.Tensor) -> None:
            grad_sq, dot, nonfinite = optimizer_probe.gradient_terms(param)
            self._measure.grad_sq[index] = grad_sq
            self._measure.grad_dot_weight[index] = dot
            self._measure.grad_nonfinite[index] = nonfinite

        return read

    # -- the end of a logging step: compute, one host transfer, write ---------------------------

    def _finish_step(self, step: int) -> None:
        """Compute and write this step's signals, plan the next one, maybe diagnose."""
        started = time.perf_counter()
        try:
            diagnosis = self._guard.run("step", self._log_step, step, started)
        finally:
            self._detach(self._grad_hooks)
            self._detach(self._step_hooks)
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
        diagnosis = None
        if (
            self._alert.enabled
            and step >= self._diagnose_from
            and self._logged_steps % self._diagnose_every == 0
        ):
            diagnosis = self._guard.run("diagnosis", self._alert.diagnose, self.run_data())
        self.cadence.logged_step(step, self._cost + time.perf_counter() - started)
        return diagnosis

    def _compute_step(self, step: int) -> dict[str, float]:
        """Every signal of this logging step, read back to the host in one transfer."""
        measure = self._measure
        have_update = bool(self._params) and len(measure.before) == len(self._params)
        if have_update:
            self._guard.run("optimizer", optimizer_probe.read_updates, self._params, measure)
            have_update = self._guard.active("optimizer")
        self._measure_unit_similarity()
        if self._replay is not None and self._logged_steps % self._identity_every == 0:
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
        batch.extend(_WEIGHT_FINGERPRINTS, [
            value for p in self._all_params for value in optimizer_probe.weight_fingerprint(p)
        ])
        host = batch.read()

        fingerprints = host.pop(_WEIGHT_FINGERPRINTS)
        measured = {key: host.pop(key) for key in optimizer_probe.StepMeasure.HOST_FIELDS
                    if key in host}
        values = {tag: numbers[0] for tag, numbers in host.items()}
        if have_update:
            result = self._guard.run("optimizer", optimizer_probe.step_stats, self._params,
                                     measured)
            headline, per_layer = result if result is not None else ({}, {})
            values.update({fmt.scalar_tag(k): v for k, v in headline.items()})
            for layer, stats in per_layer.items():
                values.update({fmt.layer_tag(layer, k): v for k, v in stats.items()})
        if self._previous_weight_fingerprints is not None:
            sizes = [p.numel() for p in self._all_params]
            values[fmt.scalar_tag(fmt.FROZEN_FRACTION)] = optimizer_probe.frozen_fraction(
                sizes, self._previous_weight_fingerprints, fingerprints
            )
        self._previous_weight_fingerprints = fingerprints
        values.update(self._optimizer_settings())
        if self._val_batches:
            values.update(self._validation_values())
        elapsed = time.time() - self._start_time
        values[fmt.scalar_tag(fmt.LOGGING_OVERHEAD)] = self.cadence.overhead(elapsed)
        return values

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

        return identity_probe.identity_stats(
            forward, inputs, matching_shape(target, inputs), self._generator, self.model
        )

    # -- writing ---------------------------------------------------------------------------

    def _write_metadata(self) -> None:
        metadata = run_metadata.build_metadata(
            model=self.model,
            optimizer=self.optimizer,
            run_name=self.run_name,
            tags=self.tags,
            layers=self._init_layers,
            shapes=self._shapes,
            cadence=self.cadence.describe(),
            start_time=self._start_time,
        )
        self._log.run_metadata(self.step, metadata)

    def _record_failure(self, probe: str, error: BaseException) -> None:
        self._log.record(self.step, {"kind": "probe_failed", "probe": probe,
                                     "error": f"{type(error).__name__}: {error}"})


def watch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
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
        model: the autoencoder (its forward may return a tensor, a tuple or a dict).
        optimizer: any ``torch.optim.Optimizer`` (hooked, not wrapped); None reads
            gradients as backward produces them and counts training forwards as steps.
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
            logging steps from step 20.
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
