"""What a step that does not log costs, in CPU instructions: exact, whatever the machine does.

    python -m benchmarks.overhead.instructions [--steps 500] [--before CHECKOUT] [--write]

A few microseconds on a ~1 ms step are below what timing resolves on a shared machine;
valgrind's callgrind counts instructions instead, the same count on every run. Each arm
trains the MLP digits workload under callgrind twice, for WARMUP and for WARMUP + steps
steps; the difference over ``steps`` is the instructions of one step, start-up cancelled.

Arms: the bare loop; the same loop with PyTorch no-op hooks where aelog puts its own (a
forward pre-hook on the model, an optimizer step post-hook): the floor any hook-based tool
pays; and ``aelog.watch`` with only step 0 logging, so every measured step is a quiet one.
``--before`` adds the same for the aelog of another checkout (an earlier commit, made with
``git worktree add``), for a before-and-after of a change.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

HEADING = "## Non-logging steps in CPU instructions (python -m benchmarks.overhead.instructions)"
ARMS = ("bare", "bare_again", "aelog")
LABELS = {
    "bare": "bare loop",
    "bare_again": "bare loop again (the count's own spread)",
    "noop_hooks": "bare loop + PyTorch no-op hooks (model pre-hook, step post-hook)",
    "aelog": "aelog.watch, steps that do not log",
}
WARMUP = 10


def child(arm: str, steps: int, aelog_from: str | None = None) -> None:
    """The training loop valgrind runs: WARMUP + ``steps`` steps of one arm."""
    if aelog_from:
        sys.path.insert(0, aelog_from)  # that checkout's aelog, this one's benchmarks
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(1)
    from benchmarks.overhead.workloads import Batches, by_name

    workload = by_name("mlp_digits")
    batches = Batches(workload, 50, seed=0)
    model = workload.model(seed=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    if arm in ("aelog", "before"):
        import aelog

        logdir = tempfile.mkdtemp(prefix="aelog-instructions-")
        aelog.watch(model, optimizer, logdir=logdir, log_every=10**9, on_collapse=None)
    elif arm == "noop_hooks":
        model.register_forward_pre_hook(lambda module, args: None)
        optimizer.register_step_post_hook(lambda opt, args, kwargs: None)
    # Python's cyclic collector runs when allocation counts say so, at different steps in
    # different runs; one full collection more or less moves the count by thousands of
    # instructions per step. Its cost is not a hook's: it is kept out of the count.
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        for step in range(WARMUP + steps):
            x = batches[step % len(batches)]
            optimizer.zero_grad()
            F.mse_loss(model(x), x).backward()
            optimizer.step()
    finally:  # the collector as it was, for a caller in the same process (the tests)
        gc.enable()
        gc.unfreeze()


def count(arm: str, steps: int, before: str | None = None) -> int:
    """Instructions callgrind collects over a whole child run."""
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
               sys.executable, "-m", "benchmarks.overhead.instructions", "--child", arm,
               str(steps)]
    if shutil.which("setarch"):  # the same addresses every run: malloc takes the same paths
        command = ["setarch", platform.machine(), "-R", *command]
    if arm == "before":
        command += ["--aelog-from", before]
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "PYTHONPATH": root, "PYTHONHASHSEED": "0"}  # same dict layouts
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False,
                          cwd=root)
    found = re.search(r"Collected\s*:\s*(\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"callgrind run of {arm} failed ({done.returncode}): "
                           f"{done.stderr.strip().splitlines()[-1:]}")
    return int(found.group(1))


def measure(steps: int, before: str | None = None, jobs: int = 2) -> dict[str, float]:
    """Instructions per step of each arm."""
    arms = [*ARMS, "before"] if before else list(ARMS)
    runs = [(arm, n) for arm in arms for n in (0, steps)]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        counts = dict(zip(runs, pool.map(lambda run: count(*run, before), runs), strict=True))
    return {arm: (counts[(arm, steps)] - counts[(arm, 0)]) / steps for arm in arms}


def describe_checkout(path: str) -> str:
    done = subprocess.run(["git", "-C", path, "log", "-1", "--format=%h %s"],
                          capture_output=True, text=True, check=False)
    return done.stdout.strip()[:80] or path


def render(per_step: dict[str, float], steps: int, seconds: float, machine: str,
           labels: dict[str, str], command: str) -> str:
    bare = per_step["bare"]
    rows = [f"| {labels[arm]} | {per_step[arm] / 1e6:.3f} M | "
            f"{(per_step[arm] - bare) / 1e3:+.1f} k | {100 * (per_step[arm] / bare - 1):+.2f}% |"
            for arm in per_step]
    return "\n".join([
        HEADING, "",
        f"`{command}` on {machine}; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {seconds:.0f} s. MLP "
        "autoencoder on digits (batch 128, Adam), one thread. Instructions per training step "
        f"(callgrind, {WARMUP} and {WARMUP + steps} steps, the difference over {steps}), "
        "with Python's cyclic garbage collector off in the measured loop, string hashing "
        "seeded and address randomisation off, so that runs repeat: the bare loop run twice "
        "shows how far they still differ. Instructions are not time (cache misses are not "
        "counted), but they are what Python code costs, free of the machine's noise.", "",
        "| arm | instructions per step | over bare | share of the bare step |",
        "|---|---|---|---|",
        *rows, "",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--write", action="store_true",
                        help="replace this benchmark's section of benchmarks/RESULTS.md")
    parser.add_argument("--before", metavar="CHECKOUT",
                        help="also measure the aelog of this checkout (e.g. a git worktree)")
    parser.add_argument("--child", nargs=2, metavar=("ARM", "STEPS"), help=argparse.SUPPRESS)
    parser.add_argument("--aelog-from", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], int(args.child[1]), args.aelog_from)
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2
    from benchmarks.overhead.__main__ import machine
    from benchmarks.results_file import replace_section

    started = time.perf_counter()
    before = os.path.abspath(args.before) if args.before else None
    per_step = measure(args.steps, before)
    labels = dict(LABELS)
    command = f"python -m benchmarks.overhead.instructions --steps {args.steps}"
    if before:
        labels["before"] = f"aelog.watch before ({describe_checkout(before)})"
        command += f" --before {args.before}"
    text = render(per_step, args.steps, time.perf_counter() - started, machine(), labels,
                  command + (" --write" if args.write else ""))
    print(text)
    if args.write:
        replace_section(text, HEADING)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
