"""What aelog costs a training loop, against the bare loop and the tools users reach for.

    python -m benchmarks.overhead [--quick] [--workloads mlp_digits,...] [--no-write]

Writes its section of benchmarks/RESULTS.md with the command and the machine. Not a test:
a measurement (tests/benchmarks/ checks that it runs end to end).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass

import torch

from benchmarks.overhead import report
from benchmarks.overhead.allocator import pin_malloc_thresholds
from benchmarks.overhead.arms import DEFAULT_ONLY
from benchmarks.overhead.cuda_sync import check_cuda
from benchmarks.overhead.hook_cost import quiet_step_cost
from benchmarks.overhead.memory import measure_in_subprocess
from benchmarks.overhead.peers import cockpit_status, wandb_status
from benchmarks.overhead.timing import time_rounds
from benchmarks.overhead.workloads import WORKLOADS, Workload


@dataclass(frozen=True)
class Plan:
    steps: int
    every_step_steps: int
    memory_steps: int


def plan_for(workload: Workload, quick: bool, overrides: dict | None = None) -> Plan:
    """The workload's step counts, a tenth of them with --quick, or those given."""
    if quick:
        plan = Plan(max(30, workload.steps // 10), max(3, workload.every_step_steps // 10),
                    max(2, workload.memory_steps // 10))
    else:
        plan = Plan(workload.steps, workload.every_step_steps, workload.memory_steps)
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    return Plan(**{**plan.__dict__, **given})


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores (shared), Python {platform.python_version()}"


ALL_ARMS = ("bare", "bare_control", "aelog", "aelog_peer_interval", "tensorboard", "wandb",
            "cockpit")


def run(workloads: list[Workload], quick: bool, rounds: int | None, memory: bool,
        arms: list[str] | None = None, overrides: dict | None = None,
        echo=print) -> tuple[list[report.WorkloadResult], list]:
    peers = [wandb_status(), cockpit_status()]
    unavailable = {p.name for p in peers if not p.available}
    arms = [a for a in (arms or ALL_ARMS) if a not in unavailable]
    if "bare" not in arms:
        arms.insert(0, "bare")
    results = []
    for workload in workloads:
        plan = plan_for(workload, quick, overrides)
        result = report.WorkloadResult(workload.name, workload.description,
                                       workload.parameter_count(), left_out=workload.left_out)
        chosen = [a for a in arms if a not in workload.left_out]
        for setting, every, steps in (("default", None, plan.steps),
                                      ("every step", 1, plan.every_step_steps)):
            names = [a for a in chosen if every is None or a not in DEFAULT_ONLY]
            echo(f"{workload.name}, {setting}: {len(names)} arms x {steps} steps")
            with tempfile.TemporaryDirectory(prefix="aelog-bench-overhead-") as workdir:
                timings = time_rounds(workload, names, steps, every, workdir,
                                      (rounds or workload.rounds) if every is None else 1,
                                      echo=echo)
            result.settings.append(report.SettingResult(setting, steps, timings))
        if memory:
            for arm in [a for a in chosen if a not in ("bare_control", *DEFAULT_ONLY)]:
                echo(f"{workload.name}, memory: {arm}")
                result.memory[arm] = measure_in_subprocess(workload.name, arm, plan.memory_steps)
        if workload is workloads[0] and "aelog" in chosen:
            echo(f"{workload.name}: non-logging steps phase by phase")
            result.hooks = quiet_step_cost(workload, max(300, plan.steps))
        results.append(result)
    return results, peers


def use_aelog_from(checkout: str) -> None:
    """Import aelog from ``checkout`` from now on (the arms import it lazily)."""
    if "aelog" in sys.modules:
        raise RuntimeError("aelog was imported before --aelog-from could take effect")
    sys.path.insert(0, os.path.abspath(checkout))
    import aelog

    if not os.path.abspath(aelog.__file__).startswith(os.path.abspath(checkout)):
        raise RuntimeError(f"aelog still comes from {aelog.__file__}, not {checkout}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the steps")
    parser.add_argument("--workloads", default=",".join(w.name for w in WORKLOADS))
    parser.add_argument("--rounds", type=int,
                        help="rounds at default settings, each with fresh copies of every "
                             "arm (default: the workload's, 5 or 3 for the 10M model); "
                             "logging every step runs once, its ratios dwarf the noise")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory subprocesses")
    parser.add_argument("--arms", default=",".join(ALL_ARMS), help="which arms (bare always)")
    parser.add_argument("--steps", type=int, help="steps per arm at default settings")
    parser.add_argument("--every-step-steps", type=int, help="steps per arm logging every step")
    parser.add_argument("--memory-steps", type=int, help="steps before the first memory reading")
    parser.add_argument("--no-write", action="store_true", help="print, do not edit RESULTS.md")
    parser.add_argument("--malloc-defaults", action="store_true",
                        help="leave glibc's malloc thresholds at their defaults while timing "
                             "(to see what fixing them removes; see allocator.py)")
    parser.add_argument("--out", default=report.RESULTS)
    parser.add_argument("--aelog-from", metavar="CHECKOUT",
                        help="measure the aelog of this checkout (e.g. a git worktree of an "
                             "earlier commit) with this checkout's benchmark, for a before "
                             "and after; no memory subprocesses then")
    args = parser.parse_args(argv)
    if args.aelog_from:
        use_aelog_from(args.aelog_from)
        args.no_memory = True
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # steadier timings; restored for callers in the same process
    chosen = [w for w in WORKLOADS if w.name in args.workloads.split(",")]
    started = time.monotonic()
    allocator = (  # this process only: the memory part's processes are fresh
        "malloc thresholds at glibc's defaults (--malloc-defaults)" if args.malloc_defaults
        else pin_malloc_thresholds())
    overrides = {"steps": args.steps, "every_step_steps": args.every_step_steps,
                 "memory_steps": args.memory_steps}
    try:
        results, peers = run(chosen, args.quick, args.rounds, not args.no_memory,
                             args.arms.split(","), overrides)
        cuda = check_cuda()
    finally:
        torch.set_num_threads(threads)
    context = {
        "command": "python -m benchmarks.overhead" + (" " + " ".join(argv or sys.argv[1:])
                                                     if (argv or sys.argv[1:]) else ""),
        "machine": machine(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "seconds": time.monotonic() - started,
        "torch": torch.__version__,
        "allocator": allocator,
    }
    text = report.render(results, context, peers, cuda)
    print(text)
    if not args.no_write:
        report.write_section(text, path=args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
