"""Arms interleaved in short blocks (bare, aelog, peers, bare, ...), each step timed.

A round trains every arm from the same seed on the same batches: steps i..i+9 of every
arm, in a fresh random order each block (so no arm always follows the same one), then
the next block.
A noisy machine's slow spells (two cores shared with other work) fall on all arms alike.
aelog's cadence reads a clock that only runs during its own arm's steps (see
``Arm.own_clock``), so it budgets against its own loop as it would training alone.
Medians compare typical steps; each round's total against the same round's bare total
compares whole runs, logging included.
"""

from __future__ import annotations

import gc
import os
import resource
import time
from dataclasses import dataclass, field

import numpy as np

from benchmarks.overhead.arms import ARMS, STEADY_FROM, Arm
from benchmarks.overhead.helper_cpu import descendants_cpu_seconds
from benchmarks.overhead.workloads import Batches, Workload

BLOCK_STEPS = 10
"""arms take turns in blocks of this many consecutive steps: a real loop runs the same
code step after step (warm caches); switching models at every step would charge every
arm's Python code a cold start the user never pays. A block of the MLP is ~10 ms, short
enough that the machine's slow spells still fall on all arms alike."""
WARMUP_STEPS = 30
WARMUP_SECONDS = 1.0
"""untimed steps of a throwaway model first (30, or 1 s): the process's one-off costs."""


@dataclass
class ArmTiming:
    name: str
    label: str = ""
    rounds: list[np.ndarray] = field(default_factory=list)
    """wall time of each training step, one array per round."""
    logged: set[int] = field(default_factory=set)
    headline_only: int | None = None
    """aelog's points that measured the headline alone (the budget did not pay for more)."""
    series: int = 0
    output_bytes: int = 0
    helper_seconds: list[float] = field(default_factory=list)
    """per round, CPU seconds of the processes the tool started beside training."""
    own_accounts: list[float] = field(default_factory=list)
    """per round, the share of time the tool's own books give logging from STEADY_FROM on."""
    page_faults: list[float] = field(default_factory=list)
    """per round, minor page faults per step during its blocks (counted around each block:
    what the allocator makes its steps pay the kernel, the same for any code)."""
    close_seconds: list[float] = field(default_factory=list)
    """per round, what the tool's close took after the last step (aelog: the end
    measurement, the last flush)."""
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.rounds)


@dataclass
class Comparison:
    """One arm against the bare loop over the same steps."""

    median_ratio: float
    """median step time over bare's: what a typical step costs."""
    non_logging_ratio: float | None
    """median over the steps where the arm did not log, against bare at those steps."""
    total_ratio: float
    """the whole run's time over bare's (see :func:`robust_total`)."""
    steady_ratio: float | None
    """the same from step STEADY_FROM on (after aelog's dense start)."""
    start_seconds: float = 0.0
    """what the first STEADY_FROM steps took over bare's, in seconds: a one-off cost."""
    with_helpers_ratio: float | None = None
    """the whole run's ratio with the CPU time of the tool's helper processes added."""
    bare_seconds: float = 0.0
    """the bare loop's whole run in seconds (median over the rounds, see robust_total)."""
    steady_rounds: list[float] = field(default_factory=list)
    """``steady_ratio`` in each round (its median is ``steady_ratio``): one disturbed round
    shows here."""


def robust_total(seconds: np.ndarray, logged: np.ndarray) -> float:
    """A run's time with the machine's spikes filtered out of the steps that do not log.

    Non-logging steps count at their median (a summed run of ~1 ms steps on a shared
    machine moves by a few percent from one run to the next, hiding a 2% budget);
    logging steps and the step after each count in full, spikes included, so every cost
    of logging stays in (the step after one runs slower: caches, the allocator).
    """
    full = logged | np.concatenate([[False], logged[:-1]]) if len(logged) else logged
    quiet = seconds[~full]
    typical = float(np.median(quiet)) if len(quiet) else 0.0
    return typical * len(quiet) + float(seconds[full].sum())


def compare(arm: ArmTiming, bare: ArmTiming) -> Comparison:
    steps = len(arm.rounds[0])
    logged_step = np.array([i in arm.logged for i in range(steps)], dtype=bool)
    never = np.zeros(steps, dtype=bool)
    mine, base = np.concatenate(arm.rounds), np.concatenate(bare.rounds)
    quiet = ~np.tile(logged_step, len(arm.rounds))
    non_logging = (
        float(np.median(mine[quiet]) / np.median(base[quiet])) if quiet.any() else None
    )

    def ratios(start: int) -> list[float]:
        return [
            robust_total(a[start:], logged_step[start:]) / robust_total(b[start:], never[start:])
            for a, b in zip(arm.rounds, bare.rounds, strict=False)
        ]

    def ratio(start: int) -> float:
        return float(np.median(ratios(start)))

    def start_extra() -> float:
        return float(np.median([
            robust_total(a[:STEADY_FROM], logged_step[:STEADY_FROM])
            - robust_total(b[:STEADY_FROM], never[:STEADY_FROM])
            for a, b in zip(arm.rounds, bare.rounds, strict=False)
        ]))

    with_helpers = None
    if len(arm.helper_seconds) == len(arm.rounds):
        with_helpers = float(np.median([
            (robust_total(a, logged_step) + helper) / robust_total(b, never)
            for a, b, helper in zip(arm.rounds, bare.rounds, arm.helper_seconds, strict=False)
        ]))
    return Comparison(
        median_ratio=float(np.median(mine) / np.median(base)),
        non_logging_ratio=non_logging,
        total_ratio=ratio(0),
        steady_ratio=ratio(STEADY_FROM) if steps > STEADY_FROM else None,
        start_seconds=start_extra(),
        with_helpers_ratio=with_helpers,
        bare_seconds=float(np.median([robust_total(b, never) for b in bare.rounds])),
        steady_rounds=ratios(STEADY_FROM) if steps > STEADY_FROM else [],
    )


def _error_line(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}".splitlines()[0][:300]


def warm_up(workload: Workload, workdir: str) -> None:
    batches = Batches(workload, WARMUP_STEPS, seed=1)
    arm = Arm(workload.model(seed=1), workdir, None)
    started = time.perf_counter()
    for step in range(WARMUP_STEPS):
        arm.step(batches[step])
        if time.perf_counter() - started > WARMUP_SECONDS:
            break


def _run_round(results: dict[str, ArmTiming], workload: Workload, batches: Batches,
               every: int | None, workdir: str, seed: int, echo) -> None:
    """Every arm from the same seed, interleaved block by block in a random order."""
    arms: dict[str, Arm] = {}
    for name, result in results.items():
        if result.error is not None:
            continue
        try:
            arms[name] = ARMS[name](workload.model(seed), workdir, every)
            result.label = arms[name].label
        except Exception as error:  # noqa: BLE001 - a peer that cannot start is reported
            result.error = _error_line(error)
            echo(f"    {name}: cannot start: {result.error}")
    helpers_before = descendants_cpu_seconds()  # after the tools started: no start-up cost
    # A full garbage collection takes tens of milliseconds on a heap holding torch, wandb
    # and TensorBoard (``python -m benchmarks.overhead.micro``); the one the imports and
    # set-ups owe would land in whichever arm's step next allocates (a logging step,
    # mostly, counted in full). Pay it before timing.
    gc.collect()
    steps = len(batches)
    seconds = {name: np.zeros(steps) for name in arms}
    faults = dict.fromkeys(arms, 0)
    names = list(arms)
    shuffle = np.random.default_rng(seed)
    for start in range(0, steps, BLOCK_STEPS):
        for name in shuffle.permutation(names):
            faults_before = _minor_faults()
            for step in range(start, min(steps, start + BLOCK_STEPS)):
                arm = arms.get(name)
                if arm is None:
                    break
                try:
                    seconds[name][step] = arm.timed_step(batches[step])
                except Exception as error:  # noqa: BLE001
                    results[name].error = f"step {step}: {_error_line(error)}"
                    echo(f"    {name}: {results[name].error}")
                    del arms[name]
            if name in faults:
                faults[name] += _minor_faults() - faults_before
    for name, arm in arms.items():
        result = results[name]
        try:
            closing = time.perf_counter()
            arm.close()
            result.close_seconds.append(time.perf_counter() - closing)
        except Exception as error:  # noqa: BLE001
            result.error = f"close: {_error_line(error)}"
            continue
        helpers_after = descendants_cpu_seconds() if arm.starts_helpers else None
        if helpers_before is not None and helpers_after is not None:
            # only one arm starts helpers; its service may outlive the round, so the delta
            result.helper_seconds.append(max(0.0, helpers_after - helpers_before))
        result.rounds.append(seconds[name])
        result.page_faults.append(faults[name] / max(1, steps))
        result.logged = arm.logged_steps()
        result.headline_only = arm.headline_only()
        result.series = arm.series()
        result.output_bytes = arm.output_bytes()
        account = arm.own_account()
        if account is not None:
            result.own_accounts.append(account)


def _minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def time_rounds(
    workload: Workload, arm_names: list[str], steps: int, every: int | None, workdir: str,
    rounds: int = 1, seed: int = 0, echo=print,
) -> dict[str, ArmTiming]:
    """Train every arm ``rounds`` times for ``steps`` steps; a failing arm keeps its error."""
    batches = Batches(workload, steps, seed)
    results = {name: ArmTiming(name) for name in arm_names}
    warm_up(workload, os.path.join(workdir, "warmup"))
    for round_index in range(rounds):
        _run_round(results, workload, batches, every,
                   os.path.join(workdir, f"round{round_index}"), seed, echo)
    return results
