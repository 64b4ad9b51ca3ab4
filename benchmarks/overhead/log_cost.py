"""Where a logging step's time goes: aelog's own parts, timed inside a real run.

``python -m benchmarks.overhead.log_cost --workload wide_mlp_10m --steps 40`` trains one
of the benchmark's workloads with ``log_every=1`` (``--every N``: a logging step every N,
each one after N - 1 plain steps, as late in a run; the rest at defaults: live diagnosis
on, its warnings not shown) and times each part of aelog's logging
work (the monitor's capture and computation, each probe, the live diagnosis, the event
writer) by wrapping it, then prints per part: calls, total, per logging step and median
per call. Parts nest (``_compute_step`` holds the identity check), so the column does not
add up to a step. A profiler of Python frames (py-spy) slows tensor code unevenly; this
costs one clock reading per call and leaves the tensor work as it is.
"""

from __future__ import annotations

import argparse
import functools
import tempfile
import time
import warnings
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F

import aelog
from aelog.logfile import event_writer, run_log
from aelog.probes import code, data, identity, loss_terms, optimizer, symptom, units
from aelog.sdk import live_alert, monitor, tensor_utils
from benchmarks.overhead.workloads import LEARNING_RATE, Batches, by_name

PARTS = (
    (monitor.Monitor, ("_log_step", "_compute_step", "_capture_forward", "_capture_layer",
                       "_identity_check", "_measure_unit_similarity", "_snapshot_before_step",
                       "_read_gradients_after_step", "_start_capture", "_read_raw_gradients")),
    (live_alert.CollapseAlert, ("diagnose",)),
    (run_log.RunLog, ("scalars", "run_data")),
    (event_writer.EventWriter, ("write_scalars",)),
    (tensor_utils.HostBatch, ("read",)),
    (optimizer, ("snapshot_weights", "read_updates", "read_gradients", "step_stats",
                 "weight_fingerprint")),
    (code, ("code_stats",)),
    (symptom, ("symptom_stats",)),
    (data, ("input_stats",)),
    (units, ("activation_stats", "unit_similarity")),
    (identity, ("identity_stats",)),
    (loss_terms, ("reconstruction_weight", "kl_weight")),
)
"""(owner, attributes): the monitor calls probes through their modules, so a module's
attribute replaced here is the one it calls."""


@contextmanager
def timed_parts(spent: dict[str, list[float]]) -> Iterator[None]:
    """Every part in PARTS wrapped to add its call's seconds to ``spent``; restored after."""
    originals = []
    for owner, names in PARTS:
        for name in names:
            original = getattr(owner, name)
            label = f"{owner.__name__.rsplit('.', 1)[-1]}.{name}"  # Monitor._log_step, units.x
            originals.append((owner, name, original))
            setattr(owner, name, _timed(original, label, spent))
    try:
        yield
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


def _timed(function, label: str, spent: dict[str, list[float]]):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[label].append(time.perf_counter() - started)

    return wrapper


def measure(workload_name: str, steps: int, every: int = 1
            ) -> tuple[dict[str, list[float]], int, float]:
    """(seconds per call of each part, logging steps, loop seconds) of one run."""
    torch.set_num_threads(1)
    workload = by_name(workload_name)
    model, batches = workload.model(), Batches(workload, steps)
    opt = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    spent: dict[str, list[float]] = defaultdict(list)
    with (tempfile.TemporaryDirectory() as logdir, timed_parts(spent),
          warnings.catch_warnings()):
        warnings.simplefilter("ignore", live_alert.CollapseWarning)  # diagnosed, not shown
        with aelog.watch(model, opt, logdir=logdir, log_every=every):
            started = time.perf_counter()
            for step in range(steps):
                x = batches[step]
                opt.zero_grad()
                F.mse_loss(model(x), x).backward()
                opt.step()
            loop = time.perf_counter() - started
    return dict(spent), len(spent.get("Monitor._log_step", [])), loop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", default="mlp_digits")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--every", type=int, default=1, help="log every N steps")
    args = parser.parse_args(argv)
    if args.every < 1:
        parser.error(f"--every must be a positive number of steps, got {args.every}")
    spent, logs, loop = measure(args.workload, args.steps, args.every)
    every = f" --every {args.every}" if args.every != 1 else ""
    print(f"python -m benchmarks.overhead.log_cost --workload {args.workload} --steps "
          f"{args.steps}{every}: {logs} logging steps in {loop:.2f} s "
          f"(log_every={args.every}, 1 thread)")
    print(f"{'part':36} {'calls':>6} {'total ms':>9} {'per log us':>11} {'median us':>10}")
    for label, seconds in sorted(spent.items(), key=lambda item: -sum(item[1])):
        print(f"{label:36} {len(seconds):6d} {sum(seconds) * 1e3:9.1f} "
              f"{sum(seconds) / max(1, logs) * 1e6:11.0f} {np.median(seconds) * 1e6:10.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
