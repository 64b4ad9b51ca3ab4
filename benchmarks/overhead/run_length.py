"""What aelog's default cadence costs a whole run, by the run's length, measured.

    python -m benchmarks.overhead.run_length [--workloads mlp_digits,conv_digits] [--write]

The cadence does not know a run's length: it logs every step to 20, then a point in every
tenth of the steps reached (a gap of at most 10% of the step), as its books allow (at most
max(2% of the time, 0.5 s) over the whole run), and measures the end at close. What that
costs depends on the length, so this trains the bare loop, a second bare loop (the noise
floor), aelog and TensorBoard's histograms every 100 steps (the peers' default) side by
side for one long run and reads several lengths of it: the first 100 steps, the first
200, and so on, each what a run of that length would have cost, aelog's close (the end
measurement) added as measured at the end of the long run. Per length: the whole run over
bare, aelog's extra seconds against max(2% of bare, 0.5 s), and the steady state (the
second half of that length over bare's). Timing as in ``python -m benchmarks.overhead``
(interleaved blocks, non-logging steps at their median, logging steps and the step after
each in full).
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
from benchmarks.overhead.report import ALLOWANCE_SECONDS, BUDGET
from benchmarks.overhead.timing import ArmTiming, compare, robust_total, time_rounds
from benchmarks.overhead.workloads import by_name
from benchmarks.results_file import RESULTS, replace_section

HEADING = "## Overhead by run length (python -m benchmarks.overhead.run_length)"
DEFAULT_STEPS = {"mlp_digits": 100_000, "conv_digits": 10_000, "wide_mlp_10m": 1_000}
ARMS = ("bare", "bare_control", "aelog", "tensorboard")


def prefix_lengths(steps: int) -> list[int]:
    """1, 2, 5 times powers of ten from 100 up to ``steps``, and ``steps`` itself."""
    lengths = [m * 10 ** e for e in range(2, 8) for m in (1, 2, 5) if m * 10 ** e < steps]
    return lengths + [steps]


def _between(timing: ArmTiming, start: int, end: int) -> ArmTiming:
    return ArmTiming(timing.name, rounds=[r[start:end] for r in timing.rounds],
                     logged={s - start for s in timing.logged if start <= s < end})


def prefix_ratio(arm: ArmTiming, bare: ArmTiming, length: int) -> float:
    """The first ``length`` steps' whole-run time over bare's, as the overhead benchmark
    reads a run of that length."""
    return compare(_between(arm, 0, length), _between(bare, 0, length)).total_ratio


def steady_ratio(arm: ArmTiming, bare: ArmTiming, length: int) -> float:
    """The second half of a run of ``length`` steps over bare's: where the run settles."""
    start = length // 2
    return compare(_between(arm, start, length), _between(bare, start, length)).total_ratio


def close_seconds(arm: ArmTiming) -> float:
    return float(np.median(arm.close_seconds)) if arm.close_seconds else 0.0


def measure(workload_name: str, steps: int, rounds: int = 1, arms=ARMS, echo=print) -> dict:
    """Every prefix length's figures for each arm against the bare loop, and what aelog
    logged; raises if an arm failed (a benchmark of a broken arm measures nothing)."""
    workload = by_name(workload_name)
    with tempfile.TemporaryDirectory(prefix="aelog-bench-run-length-") as workdir:
        timings = time_rounds(workload, list(arms), steps, None, workdir, rounds, echo=echo)
    failed = {n: t.error for n, t in timings.items() if not t.ok}
    if failed:
        raise RuntimeError(f"{workload_name}: arms failed: {failed}")
    bare, aelog = timings["bare"], timings["aelog"]
    end = close_seconds(aelog)
    peers = [name for name in arms if name not in ("bare", "bare_control", "aelog")]
    rows = []
    for length in prefix_lengths(steps):
        bare_seconds = float(np.median([
            robust_total(r[:length], np.zeros(length, dtype=bool)) for r in bare.rounds]))
        ratio = prefix_ratio(aelog, bare, length) + end / bare_seconds
        rows.append({
            "steps": length,
            "bare_seconds": bare_seconds,
            "aelog": ratio,
            "extra_seconds": (ratio - 1) * bare_seconds,
            "steady": steady_ratio(aelog, bare, length),
            "noise": abs(prefix_ratio(timings["bare_control"], bare, length) - 1),
            "logged": len([s for s in aelog.logged if s < length]) + 1,
            "peers": {name: prefix_ratio(timings[name], bare, length)
                      + close_seconds(timings[name]) / bare_seconds for name in peers},
        })
    return {"workload": workload_name, "description": workload.description,
            "steps": steps, "rounds": rounds, "rows": rows, "end_seconds": end,
            "peers": {name: timings[name].label for name in peers}}


def allowed_seconds(bare_seconds: float) -> float:
    return max(BUDGET * bare_seconds, ALLOWANCE_SECONDS)


def within(row: dict) -> bool:
    """aelog's extra seconds within max(2%, 0.5 s), the noise floor allowed."""
    return row["extra_seconds"] <= allowed_seconds(row["bare_seconds"]) + (
        row["noise"] * row["bare_seconds"])


def render(results: list[dict], context: dict) -> str:
    lines = [
        HEADING, "",
        f"`{context['command']}` on {context['machine']}; {context['date']}; "
        f"{context['seconds']:.0f} s in all. torch {context['torch']}, 1 thread. One run per "
        "workload of the bare loop, a second bare loop, `aelog.watch` at default settings "
        "and the peers at their default interval, interleaved in blocks of 10 steps; each "
        "row reads the first N steps of that run, what a run of N steps would have cost "
        "(the cadence does not know the run's length), plus each tool's close as measured "
        "after the last step (aelog's: the end measurement). *steady state*: the second half "
        "of those N steps over bare's. *within*: aelog's extra seconds at most max(2% of "
        "bare, 0.5 s), the noise floor allowed. Timing as in the overhead benchmark.", "",
    ]
    for result in results:
        peers = result.get("peers", {})
        lines += [f"#### {result['description']} ({result['steps']:,} steps, "
                  f"{result['rounds']} round{'s' if result['rounds'] > 1 else ''}; aelog's "
                  f"close took {result.get('end_seconds', 0.0) * 1e3:.0f} ms)", "",
                  "| run length | bare loop | aelog whole run / bare | aelog extra seconds "
                  "(allowed) | within | aelog steady state / bare | two bare loops differ by "
                  "| points logged (end included) | "
                  + "".join(f"{label} whole run / bare | " for label in peers.values()),
                  "|---" * (8 + len(peers)) + "|"]
        for row in result["rows"]:
            lines.append(
                f"| {row['steps']:,} | {row['bare_seconds']:.1f} s | {row['aelog']:.3f} | "
                f"{row['extra_seconds']:+.2f} s ({allowed_seconds(row['bare_seconds']):.2f} s)"
                f" | {'yes' if within(row) else 'no'} | {row['steady']:.3f} | "
                f"+-{row['noise']:.3f} | {row['logged']} | "
                + "".join(f"{row['peers'][name]:.3f} | " for name in peers))
        lines.append("")
        lines.append(f"- {result['workload']}: {verdict(result['rows'])}")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def verdict(rows: list[dict]) -> str:
    """Which lengths kept within max(2%, 0.5 s), and where the steady state settles."""
    over = [row for row in rows if not within(row)]
    longest = rows[-1]
    settle = (f"steady state {longest['steady']:.3f} of bare over the second half of "
              f"{longest['steps']:,} steps")
    if not over:
        return (f"every length from {rows[0]['steps']:,} to {longest['steps']:,} steps within "
                f"max(2%, 0.5 s) ({rows[0]['extra_seconds']:+.2f} s at {rows[0]['steps']:,}, "
                f"{longest['aelog']:.3f} at {longest['steps']:,}); {settle}.")
    listed = ", ".join(f"{row['steps']:,} ({row['extra_seconds']:+.2f} s, allowed "
                       f"{allowed_seconds(row['bare_seconds']):.2f} s)" for row in over)
    return f"over max(2%, 0.5 s) at {listed}; {settle}."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default="mlp_digits,conv_digits")
    parser.add_argument("--steps", type=int, help="steps per arm (default: per workload, "
                        + ", ".join(f"{k} {v:,}" for k, v in DEFAULT_STEPS.items()) + ")")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--arms", default=",".join(ARMS),
                        help="bare, bare_control and aelog, and any peers of the overhead "
                             "benchmark (tensorboard, wandb, cockpit)")
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
    if args.steps is not None and args.steps < 100:
        parser.error(f"--steps must be 100 or more, got {args.steps}")
    arms = tuple(args.arms.split(","))
    if not {"bare", "bare_control", "aelog"} <= set(arms):
        parser.error("--arms must include bare, bare_control and aelog")
    if args.aelog_from:
        use_aelog_from(args.aelog_from)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    pin_malloc_thresholds()
    started = time.monotonic()
    try:
        results = [measure(name, args.steps or DEFAULT_STEPS[name], args.rounds, arms)
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
