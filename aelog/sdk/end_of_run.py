"""The run's end, measured: one more forward of the last training batch at close.

A part of :class:`aelog.sdk.monitor.Monitor`, which holds the state these methods read.
"""

from __future__ import annotations

import time

import torch

from aelog.logfile import format as fmt
from aelog.probes.state import in_mode, untouched_buffers, untouched_rng


class EndOfRun:
    """One part of :class:`~aelog.sdk.monitor.Monitor` (see the module); the state it reads
    is the Monitor's, set up in its ``__init__``."""

    def _record_close(self) -> None:
        """How far the run trained, the step its end was measured at, and what logging cost
        it (seconds and share of the time): the tab's run card says it."""
        elapsed = time.time() - self._start_time
        values = (self.step, self.cadence.logged, self.cadence.overhead(elapsed))
        record = {"kind": fmt.CLOSED_RECORD, **dict(zip(fmt.CLOSED_FIELDS, values, strict=True)),
                  "logging_seconds": self.cadence.logging_seconds,
                  "headline_only": self.cadence.headline_only}
        if self._final_step is not None:
            record["final_step"] = self._final_step
        self._log.record(self.step, record)

    def _record_verdict(self) -> None:
        """The engine's verdict on the finished run, written into it: the CLI and the tab
        read it instead of diagnosing the run again (see :mod:`aelog.diagnosis.stored`).
        Not written where the in-memory copy the engine reads lost points the file keeps."""
        if self._log.thinned:
            return
        from aelog.diagnosis.engine import diagnose_run
        from aelog.diagnosis.stored import verdict_payload

        run = self._log.run_data(as_written=True)
        if run.last_step is None:
            return
        self._log.verdict(run.last_step, verdict_payload(diagnose_run(run), run))

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
            with torch.no_grad(), untouched_rng(self._all_params[0].device, self.model), \
                    untouched_buffers(self.model), in_mode(self.model, training=True):
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
