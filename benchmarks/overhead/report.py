"""The overhead benchmark's section of benchmarks/RESULTS.md: tables, then verdicts.

Every verdict carries its numbers. The section is replaced in place on each run; the
other sections of the shared file are kept as they are.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from benchmarks.overhead.arms import PEER_DEFAULT_EVERY
from benchmarks.overhead.peers import PeerStatus
from benchmarks.overhead.timing import BLOCK_STEPS, STEADY_FROM, ArmTiming, Comparison, compare
from benchmarks.results_file import RESULTS, replace_section

HEADING = "## Overhead: aelog against the bare loop and its peers (benchmarks/overhead)"
BUDGET = 0.02
ALLOWANCE_SECONDS = 0.5
"""a whole run may cost max(BUDGET of its time, this): what a user does not feel."""
NOISE_ALLOWANCE = 0.01
"""non-logging steps count as indistinguishable from bare within the noise floor + 1%."""
MIB = 1024 * 1024


@dataclass
class SettingResult:
    setting: str
    """"default" or "every step"."""
    steps: int
    timings: dict[str, ArmTiming]

    def comparisons(self) -> dict[str, Comparison]:
        bare = self.timings["bare"]
        return {name: compare(t, bare) for name, t in self.timings.items()
                if t.ok and name != "bare" and bare.ok}


@dataclass
class WorkloadResult:
    name: str
    description: str
    parameters: int
    settings: list[SettingResult] = field(default_factory=list)
    memory: dict[str, dict] = field(default_factory=dict)
    left_out: dict[str, str] = field(default_factory=dict)
    hooks: dict = field(default_factory=dict)
    """a non-logging step phase by phase: aelog's extra seconds (see hook_cost)."""


def _phase_line(hooks: dict) -> str:
    """The phase-by-phase measure of non-logging steps, with its reference arms."""
    extra, spread, noop = hooks["extra"], hooks["bare_spread"], hooks["noop_extra"]
    total, floor, step = sum(extra.values()), sum(spread.values()), hooks["bare_step"]
    return (
        f"phase by phase over {hooks['steps']:,} steps beside three bare copies, aelog's "
        f"non-logging step takes {total * 1e6:+.1f} us ({total / step:+.1%} of "
        f"{step * 1e3:.2f} ms; bare copies +-{floor * 1e6:.1f} us); PyTorch no-op hooks at the "
        f"same two places take {sum(noop.values()) * 1e6:+.1f} us: "
        + ", ".join(f"{k} {extra[k] * 1e6:+.1f} us (no-op hooks {noop[k] * 1e6:+.1f}, bare "
                    f"copies +-{spread[k] * 1e6:.1f})" for k in extra)
    )


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _bytes(value: float) -> str:
    if value >= MIB:
        return f"{value / MIB:.1f} MiB"
    return f"{value / 1024:.1f} KiB"


def _step_table(result: WorkloadResult) -> list[str]:
    rounds = max((len(t.rounds) for s in result.settings if s.setting == "default"
                  for t in s.timings.values()), default=0)
    lines = [
        f"#### {result.description} ({result.parameters:,} parameters; {rounds} rounds at "
        "default settings)",
        "",
        "| arm | steps | median step | median / bare | non-logging steps / bare | "
        f"whole run / bare | from step {STEADY_FROM} / bare | steps logged | "
        "series per logging step | event bytes per 1,000 steps | page faults per step |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for setting in result.settings:
        comparisons = setting.comparisons()
        for name, timing in setting.timings.items():
            if not timing.ok:
                lines.append(f"| {name} ({setting.setting}) | failed: {timing.error} |"
                             + " |" * 9)
                continue
            seconds = sorted(s for r in timing.rounds for s in r)
            median_ms = seconds[len(seconds) // 2] * 1000
            c = comparisons.get(name)
            per_thousand = timing.output_bytes / setting.steps * 1000
            lines.append(
                f"| {timing.label} | {setting.steps:,} | {median_ms:.2f} ms | "
                f"{_ratio(c.median_ratio if c else 1.0)} | "
                f"{_ratio(c.non_logging_ratio if c else 1.0)} | "
                f"{_ratio(c.total_ratio if c else 1.0)} | "
                f"{_ratio(c.steady_ratio if c else 1.0)} | {_logged(timing)} | "
                f"{timing.series or '-'} | {_bytes(per_thousand) if per_thousand else '-'} | "
                f"{_faults(timing)} |"
            )
    for arm, reason in result.left_out.items():
        lines.append(f"| {arm}: not run here: {reason} |" + " |" * 10)
    return lines + [""]


def _faults(timing: ArmTiming) -> str:
    """Minor page faults per step, median over the rounds (what the allocator cost it)."""
    if not timing.page_faults:
        return "-"
    return f"{statistics.median(timing.page_faults):,.0f}"


def _memory_table(results: list[WorkloadResult]) -> list[str]:
    lines = [
        "| workload | arm | steps, then 10x more | peak RSS added by training | RSS growth over "
        "the 10x more steps | Python heap peak | Python heap growth over the 10x more steps "
        "| start-up (import + set-up) | close |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        for arm, m in result.memory.items():
            if "error" in m:
                lines.append(f"| {result.name} | {arm} | failed: {m['error']} | | | | | | |")
                continue
            lines.append(
                f"| {result.name} | {arm} | {m['steps']:,}, {m['total_steps'] - m['steps']:,} | "
                f"{(m['peak_rss'] - m['rss_start']) / MIB:+.1f} MiB | "
                f"{(m['rss_second'] - m['rss_first']) / MIB:+.1f} MiB | "
                f"{_bytes(m['heap_peak'])} | "
                f"{(m['heap_second'] - m['heap_first']) / 1024:+.1f} KiB | "
                f"{_ms(m.get('setup_seconds'))} | {_ms(m.get('close_seconds'))} |"
            )
    return lines + [""]


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e3:,.0f} ms"


def start_and_close_extra(result: WorkloadResult, arm: str) -> float | None:
    """Seconds the tool's start-up and close add over the bare loop's, in a fresh process
    (the memory subprocesses); None where either was not measured."""
    def both(name: str) -> float | None:
        m = result.memory.get(name, {})
        if "setup_seconds" not in m or "close_seconds" not in m:
            return None
        return m["setup_seconds"] + m["close_seconds"]

    mine, bare = both(arm), both("bare")
    return None if mine is None or bare is None else mine - bare


def verdicts(results: list[WorkloadResult]) -> list[str]:
    lines = []
    for result in results:
        for setting in result.settings:
            c = setting.comparisons()
            aelog = c.get("aelog")
            if aelog is None:
                lines.append(f"- {result.name}, {setting.setting}: aelog did not run.")
                continue
            control = c.get("bare_control")
            noise = abs(control.non_logging_ratio - 1) if control else 0.0
            peers = {n: v for n, v in c.items()
                     if n not in ("aelog", "aelog_peer_interval", "bare_control")}
            prefix = f"- {result.name}, {setting.setting}:"
            if setting.setting == "default":
                steady = aelog.steady_ratio
                extra = (aelog.total_ratio - 1) * aelog.bare_seconds
                allowed = max(BUDGET * aelog.bare_seconds, ALLOWANCE_SECONDS)
                within = extra <= allowed + _noise(control) * aelog.bare_seconds
                lines.append(
                    f"{prefix} aelog's whole run {aelog.total_ratio:.3f} of bare over "
                    f"{setting.steps:,} steps: {extra:+.2f} s against max(2% of bare, 0.5 s) = "
                    f"{allowed:.2f} s (noise floor +-{_noise(control):.3f}): "
                    f"{'met' if within else 'MISSED'}. From step {STEADY_FROM} "
                    f"{_ratio(steady)} of bare against at most {1 + BUDGET:.2f} "
                    f"(noise floor +-{_noise(control, steady=True):.3f}): "
                    f"{_steady_verdict(steady, control)}; its first {STEADY_FROM} steps "
                    f"({_early(setting.timings['aelog'])} logging steps) a one-off "
                    f"{aelog.start_seconds * 1e3:.0f} ms over bare"
                    + (f" (two bare loops: {control.start_seconds * 1e3:+.0f} ms over the "
                       "same steps)" if control else "") + "."
                    + (" From step " + str(STEADY_FROM) + ", each round: "
                       + ", ".join(f"{r:.3f}" for r in aelog.steady_rounds) + "."
                       if len(aelog.steady_rounds) > 1 else "")
                    + _books_line(setting.timings["aelog"])
                )
                quiet = aelog.non_logging_ratio
                # one-sided: a quiet step measured faster than bare is noise, not a cost
                same = quiet is not None and quiet - 1 <= noise + NOISE_ALLOWANCE
                lines.append(
                    f"{prefix} non-logging steps {_ratio(quiet)} of bare, two identical bare "
                    f"loops {_ratio(control.non_logging_ratio if control else None)}: "
                    f"{'indistinguishable' if same else 'DISTINGUISHABLE'} "
                    f"(allowance: noise floor + {NOISE_ALLOWANCE:.0%})."
                )
                if result.hooks:
                    lines.append(f"{prefix} {_phase_line(result.hooks)}")
            if not peers:
                continue
            if setting.setting == "default":
                logged = {n: len(setting.timings[n].logged) for n in ("aelog", *peers)}
                lines.append(
                    f"{prefix} whole run at each tool's own schedule: aelog "
                    f"{aelog.total_ratio:.3f} ({logged['aelog']} logging steps, "
                    f"{_early(setting.timings['aelog'])} of them in the first {STEADY_FROM} "
                    "steps) vs " + ", ".join(f"{n} {v.total_ratio:.3f} ({logged[n]})"
                                             for n, v in peers.items())
                    + _behind_or_ahead(aelog.total_ratio,
                                       {n: v.total_ratio for n, v in peers.items()},
                                       _noise(control)) + "."
                )
                started = _with_start_and_close(result, {"aelog": aelog, **peers})
                if started is not None:
                    lines.append(
                        f"{prefix} the same counting each tool's start-up and close in a fresh "
                        f"process (import, set-up, final flush; bare loop "
                        f"{setting.steps:,} steps = {aelog.bare_seconds:.2f} s): aelog "
                        f"{started['aelog']:.3f} vs "
                        + ", ".join(f"{n} {v:.3f}" for n, v in started.items() if n != "aelog")
                        + _behind_or_ahead(started["aelog"], {n: v for n, v in started.items()
                                                              if n != "aelog"},
                                           _noise(control)) + "."
                    )
                if aelog.steady_ratio is not None and all(
                        v.steady_ratio is not None for v in peers.values()):
                    lines.append(_against_peers(
                        prefix, f"from step {STEADY_FROM} at each tool's own schedule,", aelog,
                        "aelog", peers, setting, steady=True,
                        noise=_noise(control, steady=True)))
                same = c.get("aelog_peer_interval")
                if same is not None:
                    lines.append(_against_peers(prefix, "on the peers' schedule (every "
                                                f"{PEER_DEFAULT_EVERY} steps),", same,
                                                "aelog_peer_interval", peers, setting,
                                                noise=_noise(control)))
            else:
                lines.append(_against_peers(prefix, "whole run", aelog, "aelog", peers,
                                            setting, noise=_noise(control)))
        bare = result.memory.get("bare", {})
        mine = result.memory.get("aelog", {})
        if "rss_second" in mine and "rss_second" in bare:
            growth = (mine["rss_second"] - mine["rss_first"]) / MIB
            bare_growth = (bare["rss_second"] - bare["rss_first"]) / MIB
            heap = (mine["heap_second"] - mine["heap_first"]) / 1024
            lines.append(
                f"- {result.name}, memory: aelog RSS {growth:+.1f} MiB over "
                f"{mine['total_steps'] - mine['steps']:,} more steps (bare {bare_growth:+.1f} "
                f"MiB), Python heap {heap:+.1f} KiB (its in-memory copy of the series, "
                "log-spaced)."
            )
    return lines


def _behind_or_ahead(mine: float, peers: dict[str, float], noise: float = 0.0) -> str:
    """Where aelog stands: a peer whose ratio is within ``noise`` of aelog's (what two
    identical bare loops differed by) is level with it, not ahead or behind."""
    behind = [n for n, v in peers.items() if v < mine - noise]
    level = [n for n, v in peers.items() if abs(v - mine) <= noise]
    floor = f" within the noise floor (+-{noise:.3f})"
    if behind:
        return f": BEHIND {', '.join(behind)}" + (
            f", level with {', '.join(level)}{floor}" if level else "")
    if level:
        rest = ", ahead of the rest" if len(level) < len(peers) else ""
        return f": level with {', '.join(level)}{floor}{rest}"
    return ": ahead of every peer"


def _noise(control: Comparison | None, steady: bool = False) -> float:
    """What two identical bare loops differed by, over the same part of the run."""
    if control is None:
        return 0.0
    ratio = control.steady_ratio if steady else control.total_ratio
    return abs(ratio - 1) if ratio is not None else 0.0


def _steady_verdict(steady: float | None, control: Comparison | None) -> str:
    """After the dense start aelog keeps to the budget: met within the bare loops' noise."""
    if steady is None:
        return "not measured"
    return "met" if steady - 1 <= BUDGET + _noise(control, steady=True) else "MISSED"


def _with_start_and_close(result: WorkloadResult, arms: dict[str, Comparison]
                          ) -> dict[str, float] | None:
    """Whole-run ratios with each tool's start-up and close added, for the tools where they
    were measured; None unless aelog's and at least one peer's were."""
    ratios = {}
    for name, comparison in arms.items():
        extra = start_and_close_extra(result, name)
        if extra is not None and comparison.bare_seconds:
            ratios[name] = comparison.total_ratio + extra / comparison.bare_seconds
    return ratios if "aelog" in ratios and len(ratios) > 1 else None


def _books_line(timing: ArmTiming) -> str:
    """What aelog's cadence counted from STEADY_FROM on, beside what the benchmark measured."""
    if not timing.own_accounts:
        return ""
    shares = ", ".join(f"{share:.1%}" for share in timing.own_accounts)
    return f" Its own books from step {STEADY_FROM} (each round): {shares}."


def _logged(timing: ArmTiming) -> str:
    """Steps logged, and how many of those measured the headline alone (aelog)."""
    count = f"{len(timing.logged):,}"
    return f"{count} ({timing.headline_only} headline)" if timing.headline_only else count


def _early(timing: ArmTiming) -> int:
    return len([s for s in timing.logged if s < STEADY_FROM])


def _against_peers(prefix: str, what: str, mine: Comparison, name: str,
                   peers: dict[str, Comparison], setting: SettingResult,
                   steady: bool = False, noise: float = 0.0) -> str:
    """aelog's run against each peer's, and what each logs: whole runs, or (``steady``)
    the part after aelog's dense start, where helper processes are not split out;
    ``noise``: what two identical bare loops differed by there."""
    def ratio(c: Comparison) -> float:
        return c.steady_ratio if steady else c.total_ratio

    behind = [n for n, v in peers.items() if ratio(v) < ratio(mine) - noise]
    helped = {} if steady else {n: v.with_helpers_ratio for n, v in peers.items()
                                if v.with_helpers_ratio is not None}
    behind_all_cpu = [n for n in behind if helped.get(n, 0.0) < ratio(mine) - noise]
    series = setting.timings[name].series
    more = all(series > setting.timings[n].series for n in peers)
    verdict = _behind_or_ahead(ratio(mine), {n: ratio(v) for n, v in peers.items()}, noise)
    if behind and not behind_all_cpu:
        verdict += " in training-process time, ahead of every peer counting all the CPU used"
    return (
        f"{prefix} {what} aelog {ratio(mine):.3f} vs "
        + ", ".join(f"{n} {ratio(v):.3f}" + (
            f" ({helped[n]:.3f} with its helper processes' CPU time)" if n in helped else "")
            for n, v in peers.items())
        + verdict
        + f", logging {series} series per logging step vs "
        + ", ".join(f"{n} {setting.timings[n].series}" for n in peers)
        + ("" if more else " (NOT more)") + "."
    )


def render(results: list[WorkloadResult], context: dict, peers: list[PeerStatus],
           cuda: dict) -> str:
    lines = [
        HEADING,
        "",
        f"`{context['command']}` on {context['machine']}; {context['date']}; "
        f"{context['seconds']:.0f} s in all. torch {context['torch']}, 1 thread; "
        f"{context.get('allocator', 'malloc thresholds at their defaults')}.",
        "",
        "How it is measured: every arm trains its own copy of the model (same seed, same "
        "batches, Adam, MSE, batch 128), all arms interleaved in blocks of "
        f"{BLOCK_STEPS} steps in a fresh random order each block (warm caches, as in a real "
        "loop), each step timed on its own, after a short warm-up and a full garbage "
        "collection (the one imports and set-ups owe, tens of milliseconds, would otherwise "
        "land in "
        "whichever arm next allocates); at default settings "
        "several rounds (each table says how many), each with fresh copies of every arm "
        "(one copy of a model can run a few percent faster than another), ratios are medians "
        "over "
        "the rounds. aelog's cadence "
        "budgets against a clock that runs only during its own arm's steps, as it would "
        "alone. *median / bare*: median step time over bare's. *whole run*: the run's time "
        "over bare's, counting non-logging steps at their median (summed ~1 ms steps move "
        "a few percent between identical runs on a shared machine) and logging steps, with "
        "the step after each, in "
        f"full. *from step {STEADY_FROM}*: the same after aelog's first {STEADY_FROM} steps "
        "(every step to 20 in full, where a full point costs under 10 ms; steps 0-2 where "
        "it costs more; then a point in every tenth of the steps reached). aelog's budget: "
        "at most max(2% of the run's time, 0.5 s) over the whole run, and 2% after the "
        "dense start; a point the books cannot pay for in full measures the headline "
        "(error, spread) alone, and *steps logged* counts those. The bare loop "
        "again is the noise floor. Peers at default settings log every "
        f"{PEER_DEFAULT_EVERY} steps (wandb.watch's own default is 1000), and so does a "
        f"second aelog arm (`log_every={PEER_DEFAULT_EVERY}`), like for like; 'every step' "
        "sets every tool to 1. Step times are the training process's; wandb hands its "
        "histograms to processes of its own (wandb-core, wandb-symon), whose CPU time "
        "from the first step to `run.finish()` (read from /proc) the verdicts add where "
        "they say 'with its helper processes' CPU time'. glibc's malloc keeps fixed "
        "thresholds while arms are timed: with its defaults, whether a step of the 10M "
        "model faults its ~100 MB of temporaries back in depends on what the process freed "
        "before (4,000 to 8,000 page faults a step between identical arms, two bare "
        "loops 5% apart; `benchmarks/overhead/allocator.py`); *page faults per step* "
        "shows what is left.",
        "",
        "### Step time",
        "",
    ]
    for result in results:
        lines += _step_table(result)
    lines += ["### Memory (default settings, one fresh process per arm)", ""]
    lines += _memory_table(results)
    lines += [
        "RSS: resident memory of the whole process (psutil), before the first step, after "
        "the first steps and after 10x more, each read after a garbage collection and "
        "glibc's `malloc_trim(0)` (free memory glibc keeps moves RSS by tens of MB between "
        "readings on the 10M model, either way: growth is what stays in use); peak: the "
        "kernel's high-water mark (VmHWM), "
        "reset before the first step. Python heap: tracemalloc, from the first step on. "
        "Start-up: in the same fresh process, from before the tool's import to the end of "
        "its set-up (`aelog.watch`; `SummaryWriter()`; `wandb.init` + `wandb.watch`; "
        "Cockpit's import, `extend` and `Cockpit()`), what a user's script pays once; close: "
        "its final flush (`monitor.close()`, `writer.close()`, `run.finish()`, "
        "`cockpit.write`). The bare loop's row is the optimizer's set-up alone.",
        "",
        "### Verdicts",
        "",
    ]
    lines += verdicts(results)
    lines += ["", "### Peers", ""]
    for peer in peers:
        if not peer.available:
            lines.append(f"- {peer.name}: not measured: {peer.error}")
        else:
            notes = "; ".join(peer.notes)
            lines.append(f"- {peer.name} {peer.version}: measured" + (f" ({notes})" if notes
                                                                     else ""))
    lines += ["", "### GPU", ""]
    if not cuda.get("available"):
        lines.append(
            f"Not run: {cuda.get('reason')}. `benchmarks/overhead/cuda_sync.py` repeats the "
            "first workload on CUDA with `torch.cuda.set_sync_debug_mode(\"error\")` around "
            "non-logging steps whenever a GPU is present."
        )
    else:
        lines.append(
            f"{cuda['device']}: {cuda['steps']} non-logging steps; host-device "
            f"synchronisations: {cuda['synchronisations']}; median step bare "
            f"{cuda['bare_median_ms']:.3f} ms, aelog {cuda['aelog_median_ms']:.3f} ms."
        )
    return "\n".join(lines) + "\n"


def write_section(text: str, heading: str = HEADING, path: str = RESULTS) -> None:
    """Replace this benchmark's section of the shared file, keeping every other one."""
    replace_section(text, heading, path)
