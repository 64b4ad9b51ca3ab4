"""What a logging step captures while the user's step runs: inputs, outputs, the code,
layer activations and gradients, as tensors, with no host transfer.

A part of :class:`aelog.sdk.monitor.Monitor`, which holds the state these methods read.

Each capture keeps references or small reductions on the device; the values are read
back in one transfer when the step ends (:class:`StepValues`).
"""

from __future__ import annotations

import time

import torch
from torch import nn

from aelog.logfile import format as fmt
from aelog.probes import code as code_probe
from aelog.probes import data as data_probe
from aelog.probes import loss_terms
from aelog.probes import optimizer as optimizer_probe
from aelog.probes import symptom as symptom_probe
from aelog.probes import tokens as token_probe
from aelog.probes import units as units_probe
from aelog.sdk.backward_end import BackwardEnd
from aelog.sdk.loss_scale import (
    find_grad_scaler,
    skipped_inside_step,
    step_scale,
)
from aelog.sdk.model_inspect import (
    WatchedLayer,
    narrowest,
    output_activation,
    per_sample_width,
)
from aelog.sdk.outputs import (
    ParsedOutput,
    UnexpectedOutput,
    parse_output,
    parse_pair,
    recurrent_code,
)
from aelog.sdk.tensor_utils import first_tensor, matching_shape


class StepCapture:
    """One part of :class:`~aelog.sdk.monitor.Monitor` (see the module); the state it reads
    is the Monitor's, set up in its ``__init__``."""

    def _discard_capture(self) -> None:
        self._detach(self._capture_hooks)
        self._detach(self._grad_hooks)
        self._reset_step_state()

    def _full_now(self) -> bool:
        """This logging step measures every signal, not the headline only (the cadence's
        plan; a framework's batch, read from the layers' outputs, is always measured in
        full, and so is the run's end)."""
        return (self.cadence.next_full or self._batch_inputs is not None
                or self._measuring_end)

    def _start_capture(self, args: tuple) -> None:
        started = time.perf_counter()
        self._capture_started = started
        self._capturing = True
        if not self._full_now():
            self._headline_step = True
            self._capture_hooks.append(self._entry.register_forward_hook(
                self._on_forward_end, with_kwargs=True))
            self._cost += time.perf_counter() - started
            return
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

    def _reset_step_state(self) -> None:
        self._captured = False
        self._capturing = False
        self._headline_step = False
        self._headline_output: torch.Tensor | None = None
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
        width = None
        if self._log.metadata is None:
            self._output_owners.setdefault(id(output), layer.name)
            width = per_sample_width(output, self._batch_hint or output.shape[0])
            if width is not None:  # what dead units leave of a layer is judged on its units
                self._shapes.setdefault("widths", {})[layer.name] = {
                    "units": int(output.shape[unit_dim]), "values_per_sample": width}
        by_name = self._code_name is not None and self._latent_request is None
        if (self._code_name is None or by_name) and self._log.metadata is None:
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
        """Copy only the outputs that may turn out to be the code: those at the two
        narrowest widths so far (the narrowest may be the reconstruction's own layers,
        which are never the code: see ``narrowest``)."""
        smallest = sorted({w for _, w, _ in self._executed})[:2]
        if width > smallest[-1]:
            return
        widths = {n: w for n, w, _ in self._executed}
        self._executed_outputs = {
            n: kept for n, kept in self._executed_outputs.items() if widths[n] in smallest
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

    def _capture_code(self, output, module: nn.Module | None = None) -> None:
        code, logvar = parse_pair(recurrent_code(module, output))
        self._code = (code.detach().clone(), None if logvar is None else logvar.detach().clone())

    def _capture_headline(self, args: tuple, kwargs: dict, output) -> None:
        """A headline point (see :mod:`aelog.sdk.cadence`): the error and spread of the
        output this forward made, and whether it is finite: the signals the verdict's
        status reads."""
        inputs = first_tensor(args, kwargs)
        if inputs is None or inputs.dim() == 0 or inputs.shape[0] < 2:
            return
        parsed = self._output_space.apply(self._guard.run("output", parse_output, output))
        if parsed is None or not self._guard.active("symptom"):
            return
        target = (self._target(inputs) if self._target else inputs).detach()
        layout = token_probe.token_layout(parsed.reconstruction, target)
        if layout is not None:
            stats = self._guard.run("symptom", token_probe.token_symptom_stats,
                                    parsed.reconstruction, target, layout)
        else:
            output = matching_shape(parsed.reconstruction_values(), target)
            stats = self._guard.run("symptom", symptom_probe.reconstruction_stats,
                                    output, target)
            self._headline_output = output  # its finite share, read only if the error is not
        self._pending.update(stats or {})
        if self._sync is not None:  # every rank's batch, for rank 0 to measure as a whole
            self._sync.stash(parsed.reconstruction if layout is not None
                             else parsed.reconstruction_values(), target, None)

    def _capture_forward(self, args: tuple, kwargs: dict, output) -> None:
        if self._headline_step:
            self._capture_headline(args, kwargs, output)
            return
        inputs = first_tensor(args, kwargs)
        if inputs is None:
            raise UnexpectedOutput("the model was called without a tensor input")
        if inputs.dim() == 0 or inputs.shape[0] < 2:
            return  # batch statistics need two samples; the next logging step will have them
        parsed = self._output_space.apply(self._guard.run("output", parse_output, output))
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
            self._pending.update(self._guard.run(
                "symptom", self._symptom_stats, parsed, target.detach(), slow) or {})
            if self._guard.active("loss_gradient"):
                self._guard.run("loss_gradient", self._watch_loss_gradient, parsed, target)
                tokens = token_probe.token_layout(parsed.reconstruction, target) is not None
                activation = self._shapes.get("output_activation", "none") != "none"
                self._output_space.hold(parsed, target.detach(), slow, activation, tokens)
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
            tokens = token_probe.token_layout(parsed.reconstruction, target) is not None
            self._sync.stash(parsed.reconstruction if tokens else parsed.reconstruction_values(),
                             target, code)

    def _watch_loss_gradient(self, parsed: ParsedOutput, target: torch.Tensor) -> None:
        """How the user's loss pulls on the output, read from the gradient backward leaves
        on it (a hook on this step's output only; it goes away with the step's graph).

        The hooks hold detached views only: a hook that held the tensor it hangs on would
        make a reference cycle through autograd's graph, kept alive past the step."""
        output = parsed.reconstruction
        if not (output.requires_grad and output.grad_fn is not None):
            return
        values, target = output.detach(), target.detach()
        layout = token_probe.token_layout(values, target)
        pending = self._pending
        guard = self._guard

        def read(gradient: torch.Tensor) -> dict[str, torch.Tensor]:
            if layout is not None:
                return token_probe.token_reconstruction_weight(gradient, values, target, layout)
            return loss_terms.reconstruction_weight(
                matching_shape(gradient, target), matching_shape(values, target), target)

        def on_gradient(gradient: torch.Tensor) -> None:
            pending.update(guard.run("loss_gradient", read, gradient) or {})

        output.register_hook(on_gradient)
        mu, logvar = parsed.mu, parsed.logvar
        if mu is None or logvar is None or not (mu.requires_grad and logvar.requires_grad):
            return
        mu_values, logvar_values = mu.detach(), logvar.detach()
        gradients: dict[str, torch.Tensor] = {}

        def on_latent_gradient(name: str):
            def hook(gradient: torch.Tensor) -> None:
                gradients[name] = gradient
                if len(gradients) == 2:
                    pending.update(guard.run(
                        "loss_gradient", loss_terms.kl_weight, mu_values, logvar_values,
                        gradients["mu"], gradients["logvar"]) or {})
            return hook

        mu.register_hook(on_latent_gradient("mu"))
        logvar.register_hook(on_latent_gradient("logvar"))

    def _measure_as_logits(self) -> None:
        """The loss's gradient showed the output to be logits: this step's symptom is
        measured again on sigmoid(output), and eval batches summed before are dropped."""
        held = self._output_space.decide(self._pending)
        if held is None:
            return
        parsed, target, slow = held
        self._pending.update(self._guard.run(
            "symptom", self._symptom_stats, parsed, target, slow) or {})
        self._val_sums, self._val_batches = None, 0

    def _symptom_stats(self, parsed: ParsedOutput, target: torch.Tensor, slow: bool
                       ) -> dict[str, torch.Tensor]:
        """Scores over classes against integer tokens, or a reconstruction of the target."""
        layout = token_probe.token_layout(parsed.reconstruction, target)
        if layout is not None:
            return token_probe.token_symptom_stats(parsed.reconstruction, target, layout)
        recon = matching_shape(parsed.reconstruction_values(), target)
        return symptom_probe.symptom_stats(recon, target, self._code_size, data=slow)

    def _inspect_first_forward(self, inputs: torch.Tensor, parsed: ParsedOutput | None) -> None:
        """Shapes, output activation and (unless named) the bottleneck, from one forward."""
        self._shapes["input_shape"] = list(inputs.shape)
        self._shapes["batch_size"] = int(inputs.shape[0])
        if parsed is not None:
            self._shapes["output_shape"] = list(parsed.reconstruction.shape)
            self._shapes["is_vae"] = parsed.is_vae
            target = self._target(inputs) if self._target else inputs
            layout = token_probe.token_layout(parsed.reconstruction, target)
            if layout is not None:
                self._shapes["token_classes"] = int(parsed.reconstruction.shape[layout.class_dim])
        self._shapes["output_activation"] = output_activation([m for _, _, m in self._executed])
        by_name = self._code_name is not None and self._latent_request is None
        if by_name and self._code is not None and not (parsed is not None and parsed.is_vae):
            self._prefer_narrower_than_encoder()
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

    def _prefer_narrower_than_encoder(self) -> None:
        """A module named ``encoder`` is the code only when nothing after it is narrower:
        many models end the encoder wide and squeeze it in a separate layer (``fc``,
        ``head``, ``to_latent``)."""
        width = int(self._code[0][0].numel())
        choice = narrowest([(name, w) for name, w, _ in self._executed])
        if choice is None or choice[1] >= width or choice[0] not in self._executed_outputs:
            return
        name = choice[0]
        self._code_name, self._code_module = name, self.model.get_submodule(name)
        self._code = (self._executed_outputs[name], None)

    def _accumulate_validation(self, args: tuple, kwargs: dict, output) -> None:
        """Sums over eval batches between logging steps; one NaN-safe ratio at the next one."""
        inputs = first_tensor(args, kwargs)
        if inputs is None or inputs.shape[0] < 2:
            return
        parsed = self._output_space.apply(parse_output(output))
        target = self._target(inputs) if self._target else inputs
        layout = token_probe.token_layout(parsed.reconstruction, target)
        if layout is not None:
            sums = token_probe.token_validation_sums(parsed.reconstruction, target, layout)
        else:
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
