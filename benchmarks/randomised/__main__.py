"""The randomised out-of-sample benchmark: drawn scenarios, a tune range and a report range.

    python -m benchmarks.randomised                       # 48 tune seeds, 48 fresh report seeds
    python -m benchmarks.randomised --count 12 --write    # smaller; replace the RESULTS section
    python -m benchmarks.randomised --report-from 917000  # re-run a reported range

Each seed draws a scenario (benchmarks/randomised/draw.py): architecture, data, optimizer,
learning rate, batch, length and a defect at a drawn severity, or none. The defective run
and its fixed twin are trained with the two aelog lines; a scenario counts only if it
manifests, checked on held-out inputs without aelog: the twin is a sound run, and the
defect made the run unsound (outputs or error near the mean's) and measurably worse than
its twin, or showed its own symptom (memorisation, identity, an inactive KL). Every twin
that is sound is also a healthy run, and must be called healthy. Runs are named by a
hash, so the engine sees nothing but what it measured; ``aelog diagnose LOGDIR --json``
reads them in a subprocess.

The engine is tuned, when at all, on the tune range (seeds from 0); the report range is
drawn fresh each time unless given, and is never looked at while changing the engine.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import secrets
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass

import torch

from benchmarks.holdout import diagnose_cli
from benchmarks.randomised.build import held_out_check, one_batch_drawn_once, train
from benchmarks.randomised.draw import DEFECTS, HEALTHY, OUTSIDE, Spec, draw
from benchmarks.results_file import replace_section

HEADING = "## Randomised out-of-sample benchmark"
SOUND_ERROR = 0.8
"""a run is sound when its held-out relative error is at most this ..."""
SOUND_SPREAD = 0.2
"""... and its outputs keep at least this share of the targets' variance."""


@dataclass
class Outcome:
    spec: Spec
    run: str
    twin: str | None
    manifested: bool
    twin_sound: bool
    check: str
    seconds: float
    mild: bool = False
    """the defect made the run worse than its sound twin but left it sound itself: not a
    manifested defect (a healthy draw like it must be called healthy), reported apart."""


def _name(seed: int, role: str, salt: str) -> str:
    return "r" + hashlib.sha1(f"{salt}:{seed}:{role}".encode()).hexdigest()[:10]


def _sound(check: dict[str, float]) -> bool:
    return check["error"] <= SOUND_ERROR and check["spread"] >= SOUND_SPREAD


def manifests(spec: Spec, bad: dict[str, float], twin: dict[str, float],
              bad_train: dict[str, float]) -> bool:
    """The defect shows in the run, measured against its twin on held-out inputs."""
    def memorised() -> bool:
        return (bad["error"] - bad_train["error"] >= 0.3
                and bad["error"] >= twin["error"] + 0.1)

    if spec.defect == "under_regularized":
        return memorised()
    if one_batch_drawn_once(spec) and memorised():
        return True  # one batch fed at every step shows as memorising it
    if spec.defect == "latent_too_large":
        # identity-like: at least 40% of a random input's variance passes the code
        return (bad.get("noise_error", 1.0) <= 0.6
                and twin.get("noise_error", 0.0) >= 1.5 * bad.get("noise_error", 1.0))
    if spec.defect == "posterior_collapse":
        return (bad.get("active_units", 1) == 0 and twin.get("active_units", 0) >= 1
                and bad["error"] >= twin["error"] + 0.1)
    # Every other defect shows as the product's symptom: the run is no longer sound (its
    # outputs near the mean, or its error near the mean's) where its twin is. A run that is
    # merely worse than its twin but sound would have to be called healthy were it a
    # healthy draw: it cannot also be a miss.
    if _sound(bad):
        return False
    return _worse(bad, twin)


def _worse(bad: dict[str, float], twin: dict[str, float]) -> bool:
    worse = bad["error"] >= max(twin["error"] + 0.15, 1.3 * twin["error"])
    drained = bad["spread"] <= 0.5 * twin["spread"] and bad["spread"] < SOUND_SPREAD
    return worse or drained


def _fmt(check: dict[str, float]) -> str:
    parts = [f"err {check['error']:.2f}", f"spread {check['spread']:.2f}"]
    if "active_units" in check:
        parts.append(f"active {check['active_units']:.0f}")
    if "noise_error" in check:
        parts.append(f"noise err {check['noise_error']:.2f}")
    return " ".join(parts)


def run_scenario(job: tuple[Spec, str, str]) -> Outcome:
    """Train one scenario and its twin; a scenario that cannot be built or trained (a bug
    in the benchmark, not in aelog) is reported as such, and the others go on."""
    spec, logdir, salt = job
    torch.set_num_threads(1)
    started = time.perf_counter()
    try:
        return _run_scenario(spec, logdir, salt, started)
    except Exception as error:  # noqa: BLE001
        return Outcome(spec, _name(spec.seed, "run", salt), None, False, False,
                       f"FAILED to train: {type(error).__name__}: {error}",
                       time.perf_counter() - started)


def _run_scenario(spec: Spec, logdir: str, salt: str, started: float) -> Outcome:
    run = _name(spec.seed, "run", salt)
    model, train_data, held_out = train(spec, logdir, run)
    check = held_out_check(spec, model, held_out)
    if spec.defect == HEALTHY:
        return Outcome(spec, run, None, False, _sound(check), f"run {_fmt(check)}",
                       time.perf_counter() - started)
    train_check = held_out_check(spec, model, train_data[:512])
    twin = _name(spec.seed, "twin", salt)
    twin_model, _, twin_held_out = train(spec.fixed(), logdir, twin)
    twin_check = held_out_check(spec.fixed(), twin_model, twin_held_out)
    shown = manifests(spec, check, twin_check, train_check) and _sound(twin_check)
    mild = not shown and _sound(twin_check) and _sound(check) and _worse(check, twin_check)
    text = f"run {_fmt(check)}; twin {_fmt(twin_check)}"
    return Outcome(spec, run, twin, shown, _sound(twin_check), text,
                   time.perf_counter() - started, mild)


# ------------------------------------------------------------------------------ scoring


def _top(result: dict, truth: str) -> list[str]:
    ranked = [c["id"] for c in result["causes"]]
    if (truth == "latent_too_small" and not ranked and any(
            n.startswith("bottleneck-limited") for n in result.get("notes", []))):
        return ["latent_too_small"]  # the designed answer for outputs that still vary
    return ranked


@dataclass
class Scored:
    outcome: Outcome
    truth: str
    predicted: str
    """the top cause, "healthy" for a healthy verdict with no cause, OUTSIDE for a run
    flagged with no cause and a "cause not among the 15" note, or "none"."""
    top2: bool
    status: str
    mild: bool = False
    """a mild defect (see Outcome.mild): reported apart, in no figure above it."""


def score(outcomes: list[Outcome], results: dict[str, dict]) -> list[Scored]:
    scored = []
    for outcome in outcomes:
        pairs = []
        if outcome.spec.defect == HEALTHY:
            if outcome.twin_sound:
                pairs.append((HEALTHY, outcome.run))
        else:
            if outcome.manifested or outcome.mild:
                pairs.append((outcome.spec.truth, outcome.run))
            if outcome.twin_sound:
                pairs.append((HEALTHY, outcome.twin))
        for truth, run in pairs:
            result = results[run]
            ranked = _top(result, truth)
            healthy = result["status"] == "healthy" and not ranked
            outside = any(n.startswith("cause not among the 15")
                          for n in result.get("notes", []))
            predicted = ranked[0] if ranked else (
                HEALTHY if healthy else OUTSIDE if outside else "none")
            mild = outcome.mild and truth != HEALTHY
            scored.append(Scored(outcome, truth, predicted,
                                 truth in ranked[:2] or predicted == truth, result["status"],
                                 mild))
    return scored


def summary(scored: list[Scored]) -> dict[str, float | int]:
    defects = [s for s in scored if s.truth != HEALTHY]
    healthy = [s for s in scored if s.truth == HEALTHY]
    return {
        "defects": len(defects),
        "top1": sum(s.predicted == s.truth for s in defects),
        "top2": sum(s.top2 for s in defects),
        "healthy": len(healthy),
        "false_alarms": sum(s.predicted != HEALTHY for s in healthy),
    }


def per_cause(scored: list[Scored]) -> list[tuple[str, int, int, int]]:
    """(cause, true positives, predicted, actual) for each cause id."""
    rows = []
    for cause in (*DEFECTS, OUTSIDE):
        predicted = sum(s.predicted == cause for s in scored)
        actual = sum(s.truth == cause for s in scored)
        hits = sum(s.predicted == cause and s.truth == cause for s in scored)
        rows.append((cause, hits, predicted, actual))
    return rows


def _ratio(a: int, b: int) -> str:
    return f"{a / b:.2f} ({a}/{b})" if b else "-"


def render_range(label: str, seeds: range, outcomes: list[Outcome], scored: list[Scored],
                 seconds: float) -> list[str]:
    mild = [x for x in scored if x.mild]
    scored = [x for x in scored if not x.mild]
    s = summary(scored)
    drawn = Counter(o.spec.defect for o in outcomes)
    shown = sum(o.manifested for o in outcomes if o.spec.defect != HEALTHY)
    lines = [
        f"### {label}: seeds {seeds.start}-{seeds.stop - 1}", "",
        f"{len(outcomes)} scenarios drawn ({drawn[HEALTHY]} healthy, "
        f"{len(outcomes) - drawn[HEALTHY]} with a defect, of which {shown} manifested), "
        f"trained and diagnosed in {seconds:.0f} s.", "",
        f"- top-1 {_ratio(s['top1'], s['defects'])}, top-2 {_ratio(s['top2'], s['defects'])} "
        "on the defects that manifested",
        f"- false alarms on sound healthy runs (healthy draws and fixed twins): "
        f"{_ratio(s['false_alarms'], s['healthy'])}",
        f"- mild defects, apart (the run worse than its twin but still sound, so not "
        f"manifested): {len(mild)}; the injected cause named first in "
        f"{sum(x.predicted == x.truth for x in mild)}, the run called healthy in "
        f"{sum(x.predicted == HEALTHY for x in mild)}"
        + ("" if not mild else " (" + ", ".join(
            f"{x.truth}: {x.predicted}" for x in mild) + ")"), "",
        "| cause | precision | recall |", "|---|---|---|",
    ]
    failed = [o for o in outcomes if o.check.startswith("FAILED")]
    if failed:
        lines[6:6] = [f"- {len(failed)} scenario(s) could not be trained (a benchmark bug, "
                      "left out): " + "; ".join(f"seed {o.spec.seed}: {o.check}"
                                                 for o in failed)]
    for cause, hits, predicted, actual in per_cause(scored):
        if predicted or actual:
            lines.append(f"| {cause} | {_ratio(hits, predicted)} | {_ratio(hits, actual)} |")
    wrong = [x for x in scored if x.predicted != x.truth]
    if wrong:
        lines += ["", "Where it went wrong:", "", "| seed | injected | scenario | held-out check "
                  "| status | top cause |", "|---|---|---|---|---|---|"]
        for x in wrong:
            role = " (fixed twin)" if x.truth == HEALTHY and x.outcome.spec.defect != HEALTHY \
                else ""
            lines.append(f"| {x.outcome.spec.seed} | {x.truth}{role} | "
                         f"{x.outcome.spec.describe()} | {x.outcome.check} | {x.status} | "
                         f"{x.predicted} |")
    order = (*DEFECTS, OUTSIDE, HEALTHY, "none")
    labels = [c for c in order if any(x.truth == c for x in scored)]
    columns = sorted({x.predicted for x in scored}, key=order.index)
    lines += ["", f"Confusion (rows: injected, columns: top cause; {OUTSIDE} = no cause, "
              "with that note; none = flagged, no cause, no such note):", "",
              "| injected | " + " | ".join(columns) + " |",
              "|---|" + "---|" * len(columns)]
    for truth in labels:
        counts = Counter(x.predicted for x in scored if x.truth == truth)
        lines.append(f"| {truth} | " + " | ".join(str(counts.get(c, "")) for c in columns)
                     + " |")
    return lines


def run_range(seeds: range, workers: int, salt: str) -> tuple[list[Outcome], list[Scored],
                                                             float]:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="aelog-randomised-") as logdir:
        jobs = [(draw(seed), logdir, salt) for seed in seeds]
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            outcomes = []
            for outcome in pool.imap_unordered(run_scenario, jobs):
                outcomes.append(outcome)
                print(f"  seed {outcome.spec.seed} {outcome.spec.defect}: "
                      f"{outcome.spec.describe()}; {outcome.check}; "
                      f"manifested={outcome.manifested} ({outcome.seconds:.0f} s)",
                      file=sys.stderr, flush=True)
        results = diagnose_cli(logdir)
    outcomes.sort(key=lambda o: o.spec.seed)
    return outcomes, score(outcomes, results), time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=48, help="scenarios per seed range")
    parser.add_argument("--report-from", type=int, default=None,
                        help="first report seed (default: drawn fresh)")
    parser.add_argument("--tune-only", action="store_true", help="skip the report range")
    parser.add_argument("--report-only", action="store_true", help="skip the tune range")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--write", action="store_true",
                        help=f"replace the '{HEADING}' section of benchmarks/RESULTS.md")
    args = parser.parse_args()
    report_from = args.report_from if args.report_from is not None else \
        1_000_000 + secrets.randbelow(1_000_000) * 1000
    ranges = [] if args.report_only else [("tune", range(0, args.count))]
    if not args.tune_only:
        ranges.append(("report", range(report_from, report_from + args.count)))
    salt = secrets.token_hex(4)
    command = "python -m benchmarks.randomised " + " ".join(sys.argv[1:])
    lines = [HEADING, "", f"`{command.strip()}`, {args.workers} worker(s), one torch thread "
             "each. Scenarios are drawn from seeds by benchmarks/randomised/draw.py; a defect "
             "counts only if it manifested on held-out inputs against its fixed twin (checked "
             "without aelog). Run names are hashes; `aelog diagnose --json` reads them.", ""]
    for label, seeds in ranges:
        print(f"{label}: seeds {seeds.start}-{seeds.stop - 1}", file=sys.stderr)
        outcomes, scored, seconds = run_range(seeds, args.workers, salt)
        lines += render_range(label, seeds, outcomes, scored, seconds) + [""]
    text = "\n".join(lines)
    print(text)
    if args.write:
        replace_section(text, HEADING)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
