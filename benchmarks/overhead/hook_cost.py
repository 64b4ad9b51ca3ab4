"""What a non-logging step pays aelog, phase by phase, beside three bare copies of the loop.

A step-time ratio cannot resolve a few microseconds on a shared machine; timing each
phase (zero_grad, forward + loss, backward, optimizer step) of many non-logging steps,
interleaved in blocks of BLOCK_STEPS steps in a random order with three bare copies of
the same loop, can. The spread of the bare copies is the noise floor. A fifth copy carries
PyTorch no-op hooks where aelog has its own (a forward pre-hook on the model, an optimizer
step post-hook): what any hook-based tool pays there before running a line of its own.
"""

from __future__ import annotations

import tempfile
import time

import numpy as np
import torch.nn.functional as F

from benchmarks.overhead.arms import Arm
from benchmarks.overhead.timing import BLOCK_STEPS
from benchmarks.overhead.workloads import Batches, Workload

PHASES = ("zero_grad", "forward", "backward", "step")
BARE_COPIES = 3


def _phases(arm: Arm, x) -> tuple[float, float, float, float]:
    clock = time.perf_counter
    t0 = clock()
    arm.optimizer.zero_grad()
    t1 = clock()
    loss = F.mse_loss(arm.model(x), x)
    t2 = clock()
    loss.backward()
    t3 = clock()
    arm.optimizer.step()
    t4 = clock()
    return t1 - t0, t2 - t1, t3 - t2, t4 - t3


def quiet_step_cost(workload: Workload, steps: int = 3000, seed: int = 0) -> dict:
    """Median seconds per phase: aelog's extra over the bare copies' median, and their spread."""
    import aelog

    batches = Batches(workload, 100, seed)
    names = ["aelog", "noop_hooks"] + [f"bare{i}" for i in range(BARE_COPIES)]
    with tempfile.TemporaryDirectory(prefix="aelog-bench-quiet-") as logdir:
        arms = {name: Arm(workload.model(seed), logdir, None) for name in names}
        monitor = aelog.watch(arms["aelog"].model, arms["aelog"].optimizer, logdir=logdir,
                              log_every=10**9, on_collapse=None)
        arms["noop_hooks"].model.register_forward_pre_hook(lambda module, args: None)
        arms["noop_hooks"].optimizer.register_step_post_hook(lambda opt, args, kwargs: None)
        for step in range(30):  # step 0 logs; none after it does
            for arm in arms.values():
                arm.step(batches[step])
        steps -= steps % BLOCK_STEPS
        seconds = {name: np.zeros((steps, len(PHASES))) for name in names}
        shuffle = np.random.default_rng(seed)
        for start in range(0, steps, BLOCK_STEPS):
            for name in shuffle.permutation(names):
                for step in range(start, start + BLOCK_STEPS):
                    seconds[name][step] = _phases(arms[name], batches[step % len(batches)])
        monitor.close()
    medians = {name: np.median(s, axis=0) for name, s in seconds.items()}
    bare = np.median([medians[f"bare{i}"] for i in range(BARE_COPIES)], axis=0)
    spread = np.max([np.abs(medians[f"bare{i}"] - bare) for i in range(BARE_COPIES)], axis=0)
    return {
        "extra": dict(zip(PHASES, (medians["aelog"] - bare).tolist(), strict=True)),
        "noop_extra": dict(zip(PHASES, (medians["noop_hooks"] - bare).tolist(), strict=True)),
        "bare_spread": dict(zip(PHASES, spread.tolist(), strict=True)),
        "bare_step": float(bare.sum()),
        "steps": steps,
    }


def nan_watch_ab(workload: Workload, steps: int = 2000, rounds: int = 2) -> list[dict]:
    """The NaN/Inf watch's share of a non-logging step: :func:`quiet_step_cost` with the
    watch switched off (no input sums, no output checks) and on, alternating, in one
    process. Each row: whole step and forward phase over the bare copies, in seconds."""
    from aelog.sdk import nonfinite_watch

    watch = nonfinite_watch.NonFiniteWatch
    real = watch.inputs, watch.next_check
    rows = []
    try:
        for round_ in range(rounds):
            for mode in ("off", "on"):
                if mode == "off":
                    watch.inputs = lambda self, step, args, kwargs: None
                    watch.next_check = lambda self, step: 2**62
                else:
                    watch.inputs, watch.next_check = real
                cost = quiet_step_cost(workload, steps, seed=round_)
                rows.append({"watch": mode, "whole_step": sum(cost["extra"].values()),
                             "forward": cost["extra"]["forward"],
                             "bare_step": cost["bare_step"]})
    finally:
        watch.inputs, watch.next_check = real
    return rows


if __name__ == "__main__":
    from benchmarks.overhead.workloads import WORKLOADS

    mlp = WORKLOADS["mlp_digits"] if isinstance(WORKLOADS, dict) else next(
        w for w in WORKLOADS if w.name == "mlp_digits")
    print("python -m benchmarks.overhead.hook_cost: the NaN/Inf watch off and on, mlp_digits")
    for row in nan_watch_ab(mlp):
        print(f"watch {row['watch']:>3}: whole step +{row['whole_step'] * 1e6:.1f} us, "
              f"forward +{row['forward'] * 1e6:.1f} us over bare "
              f"({row['bare_step'] * 1e3:.3f} ms)")
