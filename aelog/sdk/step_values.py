"""A logging step's values: computed once at its end, read to the host in one transfer,
written, and handed to the cadence and the live diagnosis.

A part of :class:`aelog.sdk.monitor.Monitor`, which holds the state these methods read.
"""

from __future__ import annotations

import math
import time

import torch

from aelog.diagnosis.symptom import AT_RISK_SPREAD
from aelog.logfile import format as fmt
from aelog.probes import identity as identity_probe
from aelog.probes import optimizer as optimizer_probe
from aelog.probes import symptom as symptom_probe
from aelog.probes import units as units_probe
from aelog.sdk.loss_scale import (
    raw_gradient_shrink,
)
from aelog.sdk.nonfinite_watch import nonfinite_layers
from aelog.sdk.outputs import parse_output
from aelog.sdk.tensor_utils import HostBatch, input_place, matching_shape, with_input

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

def _headline_alarming(values: dict[str, float]) -> bool:
    """A headline the engine might call collapsed or at risk: outputs keeping little of the
    targets' spread, an error worse than predicting the mean, or no finite error."""
    error = values.get(fmt.scalar_tag(fmt.RELATIVE_ERROR))
    spread = values.get(fmt.scalar_tag(fmt.OUTPUT_VARIANCE_RATIO))
    if error is None or spread is None or not math.isfinite(error):
        return True
    return spread <= AT_RISK_SPREAD or error > 1.0


class StepValues:
    """One part of :class:`~aelog.sdk.monitor.Monitor` (see the module); the state it reads
    is the Monitor's, set up in its ``__init__``."""

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
        full = not self._headline_step
        compute = self._compute_step if full else self._compute_headline
        values = self._guard.run("signals", compute, step)
        if values is not None:
            self._log.scalars(step, values)
        if self._log.metadata is None:
            self._guard.run("metadata", self._write_metadata)
        if full:
            self._logged_steps += 1
            self._last_logged_step = step
        watching = self._nonfinite.active
        if watching:  # before the live diagnosis, which reads the record
            self._guard.run("nonfinite", self._check_nonfinite, step)
        found_nonfinite = watching and not self._nonfinite.active
        diagnosis = None
        if self._alert.enabled and self._diagnose_now(step, full, values, found_nonfinite):
            self._diagnosed_at, self._diagnosed_point = step, self.cadence.logged
            diagnosis = self._guard.run("diagnosis", self._alert.diagnose, self.run_data())
        now = time.perf_counter()
        span = None if self._capture_started is None else now - self._capture_started
        self._capture_started = None
        self.cadence.logged_step(step, self._cost + now - started, span, full=full)
        if self._nonfinite.active:
            self._nonfinite.plan(step + 1, self.cadence.next_step)
            self._nonfinite_at = self._nonfinite.next_check(step)
        return diagnosis

    def _check_nonfinite(self, step: int) -> None:
        """The first NaN/Inf since the last logging step, dated and placed, recorded once."""
        found = self._nonfinite.read()
        if found is None:
            return
        self._nonfinite_stop()
        found.update(nonfinite_layers(self.model))
        self._log.record(step, {"kind": fmt.NONFINITE_RECORD, **found})

    def _compute_headline(self, step: int) -> dict[str, float]:
        """A headline point's signals (and any validation pass since the last point), read
        back in one transfer."""
        batch = HostBatch()
        for signal, value in self._pending.items():
            batch.add(fmt.scalar_tag(signal), value)
        values = {tag: numbers[0] for tag, numbers in batch.read().items()}
        error = values.get(fmt.scalar_tag(fmt.RELATIVE_ERROR))
        if self._headline_output is not None and error is not None:
            # a finite error means finite outputs: their share is read only where it is not
            values[fmt.scalar_tag(fmt.NONFINITE_OUTPUT_FRACTION)] = 0.0 if math.isfinite(
                error) else float(symptom_probe.nonfinite_fraction(self._headline_output))
        if self._val_batches:
            values.update(self._validation_values())
        return values

    def _compute_step(self, step: int) -> dict[str, float]:
        """Every signal of this logging step, read back to the host in one transfer."""
        self._guard.run("symptom", self._measure_as_logits)
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
        for weight in (fmt.RECON_TERM_WEIGHT, fmt.KL_TERM_WEIGHT):  # read off scaled gradients
            if fmt.scalar_tag(weight) in values and loss_scale:
                values[fmt.scalar_tag(weight)] /= loss_scale
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

    def _diagnose_now(self, step: int, full: bool, values: dict[str, float] | None,
                      found_nonfinite: bool) -> bool:
        """From the warm-up's end: every ``diagnose_every``-th full point, any full point
        DIAGNOSE_GAP_STEPS or more after the last diagnosis, and a headline point that
        found a first NaN/Inf, or whose headline looks collapsed or at risk and comes
        ``diagnose_every`` points or more after the last diagnosis (a run of headline
        points, late in a short run, still warns of a collapse as it happens)."""
        if step < self._diagnose_from:
            return False
        if not full:
            if found_nonfinite:
                return True
            since = self.cadence.logged - self._diagnosed_point
            return since >= self._diagnose_every and _headline_alarming(values or {})
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
            parsed = self._output_space.apply(parse_output(output))
            return matching_shape(parsed.reconstruction_values(), x)

        # fewer samples only where the input is the call's one tensor: others may be
        # per-sample too (labels, masks) and would no longer match
        alone = sum(isinstance(v, torch.Tensor) for v in (*args, *kwargs.values())) == 1
        return identity_probe.identity_stats(
            forward, inputs, matching_shape(target, inputs), self._generator, self.model,
            max_samples=identity_probe.IDENTITY_SAMPLES if alone else None,
        )
