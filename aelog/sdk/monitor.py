"""Monitor: what ``aelog.watch`` returns; holds one run's state and its lifecycle.

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

from aelog.logfile import storage
from aelog.logfile.remote_run import RemoteRun
from aelog.logfile.run_data import RunData
from aelog.logfile.run_dir import checked_run_name
from aelog.logfile.run_log import RunLog, open_run, open_writer
from aelog.probes import data as data_probe
from aelog.probes import linalg as linalg_probe
from aelog.probes import optimizer as optimizer_probe
from aelog.sdk import distributed, run_metadata
from aelog.sdk.cadence import Cadence
from aelog.sdk.capture import StepCapture
from aelog.sdk.end_of_run import EndOfRun
from aelog.sdk.hooks import HookPoints
from aelog.sdk.live_alert import CollapseAlert
from aelog.sdk.model_inspect import (
    resolve_latent,
    watched_layers,
)
from aelog.sdk.nonfinite_watch import NonFiniteWatch
from aelog.sdk.output_space import OutputSpace
from aelog.sdk.probe_guard import AelogWarning, ProbeGuard, user_stacklevel
from aelog.sdk.skipped_steps import SkippedSteps
from aelog.sdk.step_values import StepValues
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

_ACTIVE: weakref.WeakKeyDictionary[nn.Module, Monitor] = weakref.WeakKeyDictionary()
"""the open monitor of each watched model: a second watch() replaces it, never doubles hooks."""

class Monitor(HookPoints, StepCapture, StepValues, EndOfRun):
    """Logs collapse signals of one training run to ``logdir/run_name``.

    Cadence: the step is the optimizer's step count (with several optimizers, one step of
    each; training forwards when there is no optimizer). Steps 0-19 are all logged in full
    (where a logging step costs under 10 ms; a costlier model, steps 0-2), then a point in
    every tenth of the steps reached: in full where the budget of max(``overhead_budget``
    of the time, 0.5 s) pays for it, with ``overhead_budget`` of the time after the dense
    start, else the headline (error and spread) off the training forward (see
    :class:`aelog.sdk.cadence.Cadence`); ``log_every=N`` logs every N steps in full instead.
    ``close()`` (also at exit) measures the run's end once more, in full.

    The class is assembled from parts with one job each: :class:`HookPoints` (where aelog
    meets the loop: hooks and the step count), :class:`StepCapture` (what a logging step
    captures while the user's step runs), :class:`StepValues` (a logging step's values,
    computed, read back once, written) and :class:`EndOfRun` (the end, measured at close);
    this class holds their shared state and the lifecycle.

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

        logdir = storage.local_path(os.fspath(logdir)) if logdir is not None else "runs"
        requested = checked_run_name(run_name) if run_name not in (None, "") else None
        self.run_name = requested or default_run_name(logdir)
        self.run_dir = os.path.join(logdir, self.run_name)
        writer = distributed.writer_for_rank()
        self._remote: RemoteRun | None = None
        """the upload of a run logged to a URL (s3://...): staged locally, uploaded behind."""
        local_dir = None
        if writer is None:  # the writing rank: a directory of its own, claimed
            if storage.is_remote(logdir):
                self._remote = RemoteRun(logdir, self.run_name)
                self.run_name, self.run_dir = self._remote.run_name, self._remote.url
                local_dir = self._remote.local_dir
                writer = open_writer(local_dir)
            else:
                self.run_name, self.run_dir = open_run(logdir, self.run_name)
            if requested is not None and self.run_name != requested:
                warnings.warn(
                    f"aelog: run '{requested}' already exists in {logdir} (another process, "
                    f"or an earlier run); this run is written as '{self.run_name}'.",
                    AelogWarning, stacklevel=user_stacklevel())
        self._log = RunLog(local_dir or self.run_dir, self.run_name, writer=writer,
                           on_write=self._remote.changed if self._remote else None)
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
        self._diagnosed_point = 0
        """the cadence's count of points at the last live diagnosis."""
        self._cost = 0.0

        self._code_name: str | None = None
        self._code_module: nn.Module | None = None
        self._code_size: int | None = None
        self._shapes: dict = {}
        self._generator = torch.Generator(device="cpu")
        self._generator.manual_seed(0xAE106)
        self._nonfinite = NonFiniteWatch()
        self._nonfinite.plan(0, self.cadence.next_step)
        self._nonfinite_at = 0
        """the next step the NaN/Inf watch checks: the hooks compare the step with it."""
        self._nonfinite_hooks: list = []
        self._input_fingerprint = data_probe.FingerprintDirection()
        self._previous_input_fingerprint: torch.Tensor | None = None
        self._reset_step_state()
        self._val_sums: torch.Tensor | None = None
        self._val_batches = 0
        self._output_space = OutputSpace()

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
            self.optimizer, self.cadence.plan_after, self._guard,
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

    def close(self, *, measure_end: bool = True) -> None:
        """Finish an open logging step, measure the run's end (see :class:`EndOfRun`), write
        what is pending, detach hooks, flush the file. ``measure_end=False`` skips the end's
        forward (a loop that stopped on an error in its own forward)."""
        if self._closed:
            return
        try:
            if self.optimizer is None and self._step_open and self._logging:
                self._finish_step(self.step)
            elif self._stepped and self._logging:  # not every optimizer stepped: finish anyway
                if not self._headline_step:
                    self._guard.run("optimizer", self._read_gradients_after_step, self.optimizer)
                self._finish_step(self.step)
            elif self.step == 0 and self._captured:
                # forwards but never a step (a loop that skips every step on a NaN loss):
                # what the first forward showed is all there is to judge
                self._finish_step(self.step)
            if self._log.metadata is None:
                self._guard.run("metadata", self._write_metadata)
            if self._nonfinite.active:  # the steps since the last logging step
                self._guard.run("nonfinite", self._check_nonfinite, self.step)
            self._final_step = None
            if measure_end and self.step > 0 and self._last_kwargs is not None:
                self._guard.run("end of run", self._measure_end)
            if self._val_batches:
                self._log.scalars(self.step, self._validation_values())
            if self.step > 0 or self._logged_steps:
                self._guard.run("metadata", self._record_close)
                self._guard.run("verdict", self._record_verdict)
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
            if self._remote is not None:  # the last upload, then the staged copy goes
                self._remote.close()

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc_info: object) -> None:
        # Ctrl-C ends a healthy loop: measure its end. Another error may come from the
        # model's own forward, which the end's forward would only raise again.
        self.close(measure_end=kind is None or issubclass(kind, KeyboardInterrupt))























































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
