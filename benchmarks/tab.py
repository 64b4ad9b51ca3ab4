"""The Collapse Diagnosis tab on 100 runs x 2,000 logged steps, beside TensorBoard's Scalars tab.

Not a test: a measurement, written to benchmarks/RESULTS.md under its own heading.

    python -m benchmarks.tab [--logdir DIR] [--runs 100] [--steps 2000]

1. Writes (once; reused when DIR already holds it) 100 runs with aelog's EventWriter:
   every headline signal the SDK logs and 8 layers x 5 per-layer signals, 2,000 logging
   steps each, in 5 team folders, a third healthy and the rest collapsing at various steps.
2. Starts a real tensorboard (default Rust loader) with the background warmer off, waits
   until every run is loaded, and times the plugin's routes: the first /runs (cold: reads
   and diagnoses all 100 runs), then /runs, /run and /compare again (cached), and the
   Scalars plugin's own /tags and /scalars for scale.
3. In headless Chromium, times navigation to the tab until the comparison table shows all
   runs, and navigation to the Scalars tab until its first chart has drawn its lines.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import time
import urllib.parse

from aelog.logfile import format as fmt
from aelog.logfile.event_writer import EventWriter
from benchmarks.results_file import RESULTS, replace_section
from tests.plugin.tensorboard_process import TensorBoard

CHROMIUM = "/usr/bin/chromium"
SCREENSHOT = "/tmp/aelog-tab-benchmark-{tab}.png"
"""what each tab looked like when its time was taken, to check the measure by eye."""
HEADING = "## TensorBoard tab: 100 runs x 2,000 steps (benchmarks/tab.py)"
TEAMS = ("vision", "speech", "robotics", "nlp", "search")
LAYERS = tuple(f"{part}.{i}" for part in ("encoder", "decoder") for i in range(4))
HEADLINE = (
    fmt.OUTPUT_VARIANCE_RATIO, fmt.RELATIVE_ERROR, fmt.RANK_K_ERROR, fmt.DATA_EFFECTIVE_RANK,
    fmt.IDENTITY_RATIO, fmt.RANDOM_INPUT_ERROR, fmt.NONFINITE_OUTPUT_FRACTION, fmt.OUTPUT_MIN,
    fmt.OUTPUT_MAX, fmt.TARGET_MIN, fmt.TARGET_MAX, fmt.TARGET_MEAN, fmt.TARGET_STD,
    fmt.RECON_MSE, fmt.CODE_EFFECTIVE_RANK, fmt.CODE_VARIANCE, fmt.CODE_DEAD_FRACTION,
    fmt.CODE_UNIT_SIMILARITY, fmt.CODE_IDENTICAL_FRACTION, fmt.LR, fmt.WEIGHT_DECAY,
    fmt.GRAD_NORM, fmt.WEIGHT_NORM, fmt.UPDATE_RATIO, fmt.REGULARIZATION_PULL,
    fmt.GRAD_WEIGHT_COSINE, fmt.FROZEN_FRACTION, fmt.NONFINITE_GRAD_FRACTION,
    fmt.NONFINITE_WEIGHT_FRACTION, fmt.SKIPPED_STEPS, fmt.INPUT_STD, fmt.INPUT_BATCH_VARIANCE,
    fmt.INPUT_DUPLICATE_FRACTION, fmt.INPUT_SAME_AS_PREVIOUS, fmt.VAL_RELATIVE_ERROR,
)
LAYER_SIGNALS = (fmt.LAYER_ACTIVATION_STD, fmt.LAYER_DEAD_FRACTION, fmt.LAYER_GRAD_NORM,
                 fmt.LAYER_WEIGHT_NORM, fmt.LAYER_UPDATE_RATIO)


def write_benchmark_logdir(logdir: str, runs: int, steps: int) -> None:
    for index in range(runs):
        team = TEAMS[index % len(TEAMS)]
        collapse_at = None if index % 3 == 0 else int(steps * (0.1 + 0.8 * (index % 7) / 7))
        _write_run(os.path.join(logdir, team, f"run_{index:03d}"), team, index, steps,
                   collapse_at)


def _write_run(run_dir: str, team: str, index: int, steps: int, collapse_at: int | None):
    writer = EventWriter(run_dir)
    lr = 1e-3 * (1 + index % 4)
    writer.write_metadata({
        "format_version": fmt.FORMAT_VERSION, "run_name": os.path.basename(run_dir),
        "tags": {"team": team, "owner": f"user{index % 6}"},
        "config": {"optimizer": "Adam", "lr": lr, "weight_decay": 0.0, "latent_size": 16,
                   "init": "default"},
        "model": {"latent_size": 16, "layers": [{"name": name} for name in LAYERS]},
    })
    dying = LAYERS[2 + index % 3]
    for step in range(steps):
        collapsed = collapse_at is not None and step >= collapse_at
        wiggle = 0.02 * math.sin(step / 7 + index)
        spread = 0.01 + wiggle / 4 if collapsed else 0.9 - 0.5 * math.exp(-step / 200) + wiggle
        values = {fmt.scalar_tag(name): 0.5 + wiggle for name in HEADLINE}
        values[fmt.scalar_tag(fmt.OUTPUT_VARIANCE_RATIO)] = spread
        values[fmt.scalar_tag(fmt.RELATIVE_ERROR)] = (
            0.99 if collapsed else 0.1 + 0.8 * math.exp(-step / 200) + wiggle
        )
        values[fmt.scalar_tag(fmt.VAL_RELATIVE_ERROR)] = (
            1.05 * values[fmt.scalar_tag(fmt.RELATIVE_ERROR)]
        )
        values[fmt.scalar_tag(fmt.RANK_K_ERROR)] = 0.08
        values[fmt.scalar_tag(fmt.CODE_EFFECTIVE_RANK)] = 1.0 if collapsed else 12 + 5 * wiggle
        values[fmt.scalar_tag(fmt.CODE_DEAD_FRACTION)] = 0.94 if collapsed else 0.0
        values[fmt.scalar_tag(fmt.LR)] = lr
        for quiet in (fmt.NONFINITE_OUTPUT_FRACTION, fmt.NONFINITE_WEIGHT_FRACTION,
                      fmt.NONFINITE_GRAD_FRACTION, fmt.INPUT_DUPLICATE_FRACTION,
                      fmt.INPUT_SAME_AS_PREVIOUS, fmt.FROZEN_FRACTION, fmt.SKIPPED_STEPS,
                      fmt.CODE_IDENTICAL_FRACTION, fmt.WEIGHT_DECAY, fmt.REGULARIZATION_PULL,
                      fmt.GRAD_WEIGHT_COSINE):
            values[fmt.scalar_tag(quiet)] = 0.0
        values[fmt.scalar_tag(fmt.IDENTITY_RATIO)] = 4.0 + wiggle
        values[fmt.scalar_tag(fmt.UPDATE_RATIO)] = 1e-3
        values[fmt.scalar_tag(fmt.INPUT_STD)] = 1.0
        values[fmt.scalar_tag(fmt.INPUT_BATCH_VARIANCE)] = 1.0
        for layer in LAYERS:
            dead = collapsed and layer == dying
            for signal in LAYER_SIGNALS:
                values[fmt.layer_tag(layer, signal)] = 0.3 + wiggle
            values[fmt.layer_tag(layer, fmt.LAYER_DEAD_FRACTION)] = 1.0 if dead else 0.05
            values[fmt.layer_tag(layer, fmt.LAYER_GRAD_NORM)] = 0.0 if dead else 0.3 + wiggle
            values[fmt.layer_tag(layer, fmt.LAYER_UPDATE_RATIO)] = 0.0 if dead else 1e-3
        writer.write_scalars(step, values, wall_time=1.7e9 + step)
    writer.close()


def _timed_get(server: TensorBoard, path: str) -> tuple[float, int]:
    started = time.perf_counter()
    status, body = server.get(path)
    assert status == 200, (path, status, body[:200])
    return time.perf_counter() - started, len(body)


def _median_get(server: TensorBoard, path: str, repeat: int = 5) -> tuple[float, int]:
    results = [_timed_get(server, path) for _ in range(repeat)]
    return statistics.median(r[0] for r in results), results[0][1]


def _wait_until_loaded(server: TensorBoard, runs: int, steps: int) -> None:
    """Until the Rust loader has every run's last step (Scalars plugin's view)."""
    tag = urllib.parse.quote(fmt.scalar_tag(fmt.RELATIVE_ERROR))
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        try:
            listed = server.get_json("/data/runs")
            if len(listed) >= runs:
                last = server.get_json(f"/data/plugin/scalars/scalars?run={listed[-1]}&tag={tag}")
                if last and last[-1][1] == steps - 1:
                    return
        except (OSError, AssertionError):
            pass
        time.sleep(2)
    raise TimeoutError("tensorboard did not load the benchmark logdir in 15 minutes")


def measure_routes(server: TensorBoard, runs: int) -> dict:
    cold, size = _timed_get(server, "/data/plugin/aelog/runs")
    listed = json.loads(server.get("/data/plugin/aelog/runs")[1])["runs"]
    assert len(listed) == runs, len(listed)
    names = [row["run"] for row in listed]
    one = urllib.parse.urlencode({"run": names[1]})
    two = urllib.parse.urlencode({"run": names[:2]}, doseq=True)
    tag = urllib.parse.quote(fmt.scalar_tag(fmt.RELATIVE_ERROR))
    return {
        "aelog /runs, first call (reads + diagnoses all runs)": (cold, size),
        "aelog /runs, cached": _median_get(server, "/data/plugin/aelog/runs"),
        "aelog /run (one run, all series)": _median_get(server, f"/data/plugin/aelog/run?{one}"),
        "aelog /compare (two runs)": _median_get(server, f"/data/plugin/aelog/compare?{two}"),
        "scalars /tags": _median_get(server, "/data/plugin/scalars/tags"),
        "scalars /scalars (one run, one tag)": _median_get(
            server, f"/data/plugin/scalars/scalars?run={urllib.parse.quote(names[1])}&tag={tag}"
        ),
    }, {row["status"] for row in listed}


def measure_tabs(server: TensorBoard, runs: int, repeat: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    times: dict[str, list[float]] = {key: [] for key in TAB_MEASURES}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        for _ in range(repeat):
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            started = time.perf_counter()
            page.goto(server.url + "/#aelog")
            frame = page.frame_locator("iframe")
            frame.locator(f"tr.run-row >> nth={runs - 1}").wait_for(timeout=120_000)
            times["aelog"].append(time.perf_counter() - started)
            page.screenshot(path=SCREENSHOT.format(tab="aelog"))
            page.close()

            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            started = time.perf_counter()
            page.goto(server.url + "/#scalars")
            page.wait_for_function(_SCALAR_CHART_LINES, arg=0, timeout=120_000)
            times["scalars_open"].append(time.perf_counter() - started)
            if runs > 40:  # TensorBoard selects no run by default above 40: select all
                page.get_by_text("Toggle All Runs").click()
            page.wait_for_function(_SCALAR_CHART_LINES, arg=runs, timeout=120_000)
            times["scalars_all_runs"].append(time.perf_counter() - started)
            page.screenshot(path=SCREENSHOT.format(tab="scalars"))
            page.close()
        browser.close()
    return times


TAB_MEASURES = {
    "aelog": "Collapse Diagnosis tab: open to the comparison table listing all runs",
    "scalars_open": "Scalars tab: open to its first chart drawn (axes; no run selected "
    "by default above 40 runs)",
    "scalars_all_runs": "Scalars tab: open, then 'toggle all runs', to the first chart "
    "drawing every run's line",
}

_SCALAR_CHART_LINES = """(runs) => {
  const deep = (root, selector) => {
    const found = root.querySelector(selector);
    if (found) return found;
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) { const inner = deep(el.shadowRoot, selector); if (inner) return inner; }
    }
    return null;
  };
  const card = deep(document, 'tf-scalar-card');
  const chart = card && deep(card.shadowRoot || card, 'vz-line-chart2');
  const root = chart && (chart.shadowRoot || chart);
  if (!root || !root.querySelector('text.tick-label')) return false;
  const lines = [...root.querySelectorAll('path.line')]
    .filter((p) => (p.getAttribute('d') || '').length > 20);
  return lines.length >= runs;
}"""


def write_results(routes: dict, tabs: dict[str, list[float]], runs: int, steps: int,
                  load_s: float, statuses: set) -> str:
    lines = [
        HEADING,
        "",
        f"{runs} runs x {steps:,} logged steps, {len(HEADLINE)} headline + "
        f"{len(LAYERS)} x {len(LAYER_SIGNALS)} per-layer scalar series per run "
        f"({runs * (len(HEADLINE) + len(LAYERS) * len(LAYER_SIGNALS)):,} series), written with "
        "aelog's EventWriter; tensorboard 2.21 default (Rust) loader on 127.0.0.1, "
        "`--aelog_warm_cache=false` so the first /runs call is the cold one; headless "
        f"Chromium. Machine: {os.cpu_count()} CPU cores ({platform.machine()}), shared. "
        f"TensorBoard loaded the logdir in {load_s:.0f} s. Statuses seen: "
        f"{', '.join(sorted(statuses))}.",
        "",
        "| opened in the browser (navigation start to drawn) | median | each try |",
        "|---|---|---|",
    ]
    for name, values in tabs.items():
        lines.append(
            f"| {TAB_MEASURES[name]} | {statistics.median(values):.2f} s | "
            + ", ".join(f"{v:.2f}" for v in values) + " |"
        )
    lines += ["", "| route | latency | response |", "|---|---|---|"]
    for name, (seconds, size) in routes.items():
        lines.append(f"| {name} | {seconds * 1000:.0f} ms | {size / 1024:.0f} KiB |")
    lines += [
        "",
        "The tab's time includes TensorBoard's own page load (the same for both tabs) and a "
        "cached /runs. Under TensorBoard's defaults the plugin diagnoses new data in the "
        "background every 15 s, so the cold first call is paid off screen; with "
        "`--aelog_warm_cache=false` the first visitor pays it once.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--logdir", default="/tmp/aelog-tab-benchmark")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print, do not edit RESULTS.md")
    args = parser.parse_args()
    marker = os.path.join(args.logdir, f"complete-{args.runs}x{args.steps}")
    if not os.path.exists(marker):
        started = time.monotonic()
        write_benchmark_logdir(args.logdir, args.runs, args.steps)
        open(marker, "w").close()
        print(f"wrote {args.runs} runs in {time.monotonic() - started:.0f} s")
    server = TensorBoard(args.logdir, load_fast=True, log_path=args.logdir + ".tensorboard.log",
                         extra_args=("--aelog_warm_cache=false",))
    try:
        started = time.monotonic()
        _wait_until_loaded(server, args.runs, args.steps)
        load_s = time.monotonic() - started
        print(f"tensorboard loaded the logdir in {load_s:.0f} s", flush=True)
        routes, statuses = measure_routes(server, args.runs)
        for name, (seconds, size) in routes.items():
            print(f"{name}: {seconds * 1000:.0f} ms, {size / 1024:.0f} KiB", flush=True)
        tabs = measure_tabs(server, args.runs, args.repeat)
    finally:
        server.stop()
    text = write_results(routes, tabs, args.runs, args.steps, load_s, statuses)
    print(text)
    if not args.no_write:
        replace_section(text, HEADING, RESULTS)


if __name__ == "__main__":
    main()
