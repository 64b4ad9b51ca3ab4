"""Which workloads take the dense start, and how far each is from the line.

``python -m benchmarks.overhead.dense_start`` trains each workload with aelog's default
cadence for ``--steps`` steps (the decision comes after step 2) and prints the cheapest
early logging step the cadence measured, the line (``Cadence.dense_log_seconds``), the
decision and the steps logged. A workload near the line may take the dense start in one
run and not in another; the line is meant to sit far from every one of these.
"""

from __future__ import annotations

import argparse
import tempfile
import warnings

import torch
import torch.nn.functional as F

import aelog
from aelog.sdk import live_alert
from aelog.sdk.cadence import Cadence
from benchmarks.overhead.workloads import LEARNING_RATE, WORKLOADS, Batches, by_name


def decide(workload_name: str, steps: int) -> tuple[float | None, bool | None, list[int]]:
    """(cheapest early log in seconds, dense start taken, steps logged) of one run."""
    torch.set_num_threads(1)
    workload = by_name(workload_name)
    model, batches = workload.model(), Batches(workload, steps)
    opt = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    logged: list[int] = []
    with tempfile.TemporaryDirectory() as logdir, warnings.catch_warnings():
        warnings.simplefilter("ignore", live_alert.CollapseWarning)
        with aelog.watch(model, opt, logdir=logdir) as monitor:
            for step in range(steps):
                if monitor.cadence.should_log(step):
                    logged.append(step)
                x = batches[step]
                opt.zero_grad()
                F.mse_loss(model(x), x).backward()
                opt.step()
            cadence = monitor.cadence
            return cadence._cheapest, cadence._dense, logged


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default=",".join(w.name for w in WORKLOADS))
    parser.add_argument("--steps", type=int, default=40)
    args = parser.parse_args(argv)
    if args.steps < 3:
        parser.error(f"--steps must be 3 or more (the decision comes after step 2), "
                     f"got {args.steps}")
    line = Cadence().dense_log_seconds
    print(f"python -m benchmarks.overhead.dense_start --workloads {args.workloads} --steps "
          f"{args.steps}: line {line * 1e3:.0f} ms")
    for name in args.workloads.split(","):
        cheapest, dense, logged = decide(name, args.steps)
        shown = "-" if cheapest is None else f"{cheapest * 1e3:.1f} ms"
        print(f"{name:14} cheapest early log {shown:>9}  dense start {dense}  "
              f"logged {logged}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
