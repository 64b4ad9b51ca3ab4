"""What aelog's default cadence costs a whole run, by the run's length, measured.

    python -m benchmarks.overhead.run_length [--workloads mlp_digits,conv_digits] [--write]

The dense start (every step to 20, every 8th to 104) is a one-off: on a short run it is a
large share of the time, on a long one a small one, and after it the cadence pays it back
and then spaces logging steps further as the run grows. Extrapolating from a short run
gets this wrong either way, so this trains the bare loop, a second bare loop (the noise
floor) and aelog side by side for one long run and reads the whole-run ratio at several
lengths of the same run: the first 1,000 steps, the first 2,000, and so on. Each prefix is
what a run of that length would have cost (the cadence does not know the run's length).
Same timing as ``python -m benchmarks.overhead`` (interleaved blocks, non-logging steps at
their median, logging steps and the step after each in full).
"""

from __future__ import annotations

import argparse
import datetime
import sys
import tempfile
import time

import numpy as np
import torch

from benchmarks.overhead.__main__ import machine, use_aelog_from
from benchmarks.overhead.allocator import pin_malloc_thresholds
from benchmarks.overhead.report import BUDGET
from benchmarks.overhead.timing import ArmTiming, compare, robust_total, time_rounds
from benchmarks.overhead.workloads import by_name
from benchmarks.results_file import RESULTS, replace_section

HEADING = "## Overhead by run length (python -m benchmarks.overhead.run_length)"
DEFAULT_STEPS = {"mlp_digits": 20_000, "conv_digits": 4_000, "wide_mlp_10m": 1_000}
ARMS = ("bare", "bare_control", "aelog")


def prefix_lengths(steps: int) -> list[int]:
    """1, 2, 5 times powers of ten up to ``steps``, and ``steps`` itself."""
    lengths = [m * 10 ** e for e in range(2, 8) for m in (1, 2, 5) if m * 10 ** e < steps]
    return [n for n in lengths if n >= 200] + [steps]


def _first(timing: ArmTiming, length: int) -> ArmTiming:
    return ArmTiming(timing.name, rounds=[r[:length] for r in timing.rounds],
                     logged={s for s in timing.logged if s < length})


def prefix_ratio(arm: ArmTiming, bare: ArmTiming, length: int) -> float:
    """The first ``length`` steps' whole-run time over bare's, as the overhead benchmark
    reads a run of that length."""
    return compare(_first(arm, length), _first(bare, length)).total_ratio


def measure(workload_name: str, steps: int, rounds: int = 1, echo=print) -> dict:
    """Every prefix length's ratios for aelog and the second bare loop, and what aelog
    logged; raises if an arm failed (a benchmark of a broken arm measures nothing)."""
    workload = by_name(workload_name)
    with tempfile.TemporaryDirectory(prefix="aelog-bench-run-length-") as workdir:
        timings = time_rounds(workload, list(ARMS), steps, None, workdir, rounds, echo=echo)
    failed = {n: t.error for n, t in timings.items() if not t.ok}
    if failed:
        raise RuntimeError(f"{workload_name}: arms failed: {failed}")
    bare, aelog = timings["bare"], timings["aelog"]
    rows = []
    for length in prefix_lengths(steps):
        rows.append({
            "steps": length,
            "bare_seconds": float(np.median([
                robust_total(r[:length], np.zeros(length, dtype=bool)) for r in bare.rounds])),
            "aelog": prefix_ratio(aelog, bare, length),
            "noise": abs(prefix_ratio(timings["bare_control"], bare, length) - 1),
            "logged": len([s for s in aelog.logged if s < length]),
        })
    return {"workload": workload_name, "description": workload.description,
            "steps": steps, "rounds": rounds, "rows": rows}


def render(results: list[dict], context: dict) -> str:
    lines = [
        HEADING, "",
        f"`{context['command']}` on {context['machine']}; {context['date']}; "
        f"{context['seconds']:.0f} s in all. torch {context['torch']}, 1 thread. One run per "
        "workload of the bare loop, a second bare loop and `aelog.watch` at default "
        "settings, interleaved in blocks of 10 steps; each row reads the first N steps of "
        "that run, what a run of N steps would have cost (the cadence does not know the "
        "run's length). Timing as in the overhead benchmark above.", "",
    ]
    for result in results:
        lines += [f"#### {result['description']} ({result['steps']:,} steps, "
                  f"{result['rounds']} round{'s' if result['rounds'] > 1 else ''})", "",
                  "| run length | bare loop | aelog whole run / bare | two bare loops differ by "
                  "| steps logged | within 2% |", "|---|---|---|---|---|---|"]
        for row in result["rows"]:
            within = row["aelog"] <= 1 + BUDGET + row["noise"]
            lines.append(
                f"| {row['steps']:,} | {row['bare_seconds']:.1f} s | {row['aelog']:.3f} | "
                f"+-{row['noise']:.3f} | {row['logged']} | {'yes' if within else 'no'} |")
        lines.append("")
        lines.append(f"- {result['workload']}: {verdict(result['rows'])}")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def verdict(rows: list[dict]) -> str:
    """From which run length on the whole run stayed within the budget (noise floor
    allowed), at every longer length measured too."""
    within = [row["aelog"] <= 1 + BUDGET + row["noise"] for row in rows]
    first = next((i for i in range(len(rows)) if all(within[i:])), None)
    if first is None:
        last = rows[-1]
        return (f"over the budget at every length measured, up to {last['steps']:,} steps "
                f"({last['aelog']:.3f}, noise floor +-{last['noise']:.3f}).")
    row = rows[first]
    shorter = (f"; shorter runs pay the dense start on top ({rows[0]['steps']:,} steps: "
               f"{rows[0]['aelog']:.3f})" if first > 0 else "")
    longest = (f", {rows[-1]['aelog']:.3f} at {rows[-1]['steps']:,}"
               if first < len(rows) - 1 else "")
    return (f"whole run within {BUDGET:.0%} of the bare loop from {row['steps']:,} steps "
            f"({row['bare_seconds']:.0f} s of bare training) on: {row['aelog']:.3f} there"
            f"{longest}{shorter}.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default="mlp_digits,conv_digits")
    parser.add_argument("--steps", type=int, help="steps per arm (default: per workload, "
                        + ", ".join(f"{k} {v:,}" for k, v in DEFAULT_STEPS.items()) + ")")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--write", action="store_true", help="replace its RESULTS.md section")
    parser.add_argument("--out", default=RESULTS)
    parser.add_argument("--aelog-from", metavar="CHECKOUT",
                        help="measure the aelog of this checkout (e.g. a git worktree of an "
                             "earlier commit), for a before and after")
    args = parser.parse_args(argv)
    names = args.workloads.split(",")
    unknown = [n for n in names if n not in DEFAULT_STEPS]
    if unknown:
        parser.error(f"unknown workload {', '.join(unknown)}; choose from "
                     f"{', '.join(DEFAULT_STEPS)}")
    if args.steps is not None and args.steps < 200:
        parser.error(f"--steps must be 200 or more (the dense start alone is 106), got "
                     f"{args.steps}")
    if args.aelog_from:
        use_aelog_from(args.aelog_from)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    pin_malloc_thresholds()
    started = time.monotonic()
    try:
        results = [measure(name, args.steps or DEFAULT_STEPS[name], args.rounds)
                   for name in names]
    finally:
        torch.set_num_threads(threads)
    context = {
        "command": "python -m benchmarks.overhead.run_length"
                   + ("" if not (argv or sys.argv[1:]) else " " + " ".join(argv or sys.argv[1:])),
        "machine": machine(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "seconds": time.monotonic() - started,
        "torch": torch.__version__,
    }
    text = render(results, context)
    print(text)
    if args.write:
        replace_section(text, HEADING, path=args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
