"""How reading scales with the number of runs: ``aelog diagnose`` and the plugin's run list.

    python -m benchmarks.scale [--sizes 1,10,100,1000] [--cli-sizes 10000] [--steps 2000]
                               [--no-write]

1. Trains one real run with ``aelog.watch`` (the MLP digits workload, default cadence).
2. For each size, writes that many runs with aelog's EventWriter: the real run's series,
   each run cut to its own length (200 up to ``--steps`` training steps) and scaled by a
   small per-run factor, with its own name and team tag; twice: as finished runs, each
   closed with the verdict ``close()`` stores (made by the engine on the copy), and as
   runs without one (still training, killed, or written by an older aelog).
3. Times ``aelog diagnose LOGDIR --json`` in a subprocess (checks it lists every run), and
   the plugin's ``/runs`` route in process over TensorBoard's data provider: TensorBoard's
   own load (``EventMultiplexer.Reload``), the first call (reads every run, and diagnoses
   those without a verdict that holds) and a second, cached one.
4. Writes a table to benchmarks/RESULTS.md with the growth from size to size: linear in
   runs means time per run stays flat.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

from aelog.logfile import format as fmt
from aelog.logfile.event_writer import EventWriter
from aelog.logfile.run_data import RunData

HEADING = "## Scale of reading: aelog diagnose and the plugin's run list (benchmarks/scale.py)"
RESULTS = os.path.join(os.path.dirname(__file__), "RESULTS.md")
TEAMS = ("vision", "speech", "robotics", "nlp", "search")
SHORTEST_RUN = 200
LINEAR_SLOPE = 1.15
"""log-log slope of time against runs up to which growth counts as linear."""


def train_template(steps: int, logdir: str) -> RunData:
    """One real run: the MLP digits workload under aelog.watch at default settings."""
    import torch

    import aelog
    from benchmarks.overhead.arms import Arm
    from benchmarks.overhead.workloads import Batches, by_name

    torch.set_num_threads(1)
    workload = by_name("mlp_digits")
    batches = Batches(workload, steps)
    arm = Arm(workload.model(), logdir, None)
    with aelog.watch(arm.model, arm.optimizer, logdir=logdir, run_name="template",
                     on_collapse=None) as monitor:
        for step in range(steps):
            arm.step(batches[step])
    return monitor.run_data()


def _tagged_points(run: RunData) -> dict[str, tuple[list[int], list[float]]]:
    points = {fmt.scalar_tag(name): (s.steps.tolist(), s.values.tolist())
              for name, s in run.signals.items()}
    for layer, signals in run.layers.items():
        for name, s in signals.items():
            points[fmt.layer_tag(layer, name)] = (s.steps.tolist(), s.values.tolist())
    return points


def write_runs(template: RunData, logdir: str, runs: int, max_steps: int,
               verdicts: bool, last_steps: dict[str, int] | None = None) -> int:
    """``runs`` copies of the template with their own length and scale, each closed with
    its verdict where ``verdicts``; returns events written. ``last_steps``, when given,
    receives each run's last written step under its run name (``team/run_0001``)."""
    from aelog.diagnosis.engine import diagnose_run
    from aelog.diagnosis.stored import verdict_payload

    points = _tagged_points(template)
    by_step: dict[int, dict[str, float]] = {}
    for tag, (steps, values) in points.items():
        for step, value in zip(steps, values, strict=True):
            by_step.setdefault(step, {})[tag] = value
    events = 0
    for index in range(runs):
        team = TEAMS[index % len(TEAMS)]
        name = f"run_{index:04d}"
        length = SHORTEST_RUN + (max_steps - SHORTEST_RUN) * ((index * 37) % 101) // 100
        scale = 1 + 0.02 * math.sin(index)
        writer = EventWriter(os.path.join(logdir, team, name))
        metadata = dict(template.metadata)
        metadata.update(run_name=name, tags={"team": team, "owner": f"user{index % 7}"})
        writer.write_metadata(metadata)
        written: dict[str, tuple[list[int], list[float]]] = {}
        for step in sorted(by_step):
            if step >= length:
                break
            values = {tag: v * scale for tag, v in by_step[step].items()}
            writer.write_scalars(step, values)
            for tag, value in values.items():
                steps, kept = written.setdefault(tag, ([], []))
                steps.append(step)
                kept.append(float(np.float32(value)))  # as the file holds it
            events += 1
        if last_steps is not None:
            last_steps[f"{team}/{name}"] = max(max(steps) for steps, _ in written.values())
        if verdicts:
            run = RunData.from_tagged_points(name, written, metadata)
            writer.write_verdict(run.last_step, verdict_payload(diagnose_run(run), run))
        writer.close()
    return events


def time_cli(logdir: str, runs: int) -> float:
    command = [sys.executable, "-m", "aelog.cli.main", "diagnose", logdir, "--json"]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise RuntimeError(f"aelog diagnose exited {done.returncode}: {done.stderr[-500:]}")
    listed = len(json.loads(done.stdout)["runs"])
    if listed != runs:
        raise RuntimeError(f"aelog diagnose listed {listed} runs, {runs} written")
    return seconds


def time_plugin(logdir: str, runs: int) -> dict[str, float]:
    """TensorBoard's Python loader and data provider, the plugin, an in-process client."""
    from aelog_tb_plugin.plugin import CollapseDiagnosisPlugin
    from tensorboard.backend import application
    from tensorboard.backend.event_processing import data_provider as event_data_provider
    from tensorboard.backend.event_processing import plugin_event_multiplexer
    from tensorboard.plugins import base_plugin
    from werkzeug import test as werkzeug_test

    started = time.perf_counter()
    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(logdir)
    multiplexer.Reload()
    load = time.perf_counter() - started
    provider = event_data_provider.MultiplexerDataProvider(multiplexer, logdir)
    context = base_plugin.TBContext(logdir=logdir, data_provider=provider)
    plugin = CollapseDiagnosisPlugin(context)
    client = werkzeug_test.Client(application.TensorBoardWSGI([plugin], data_provider=provider))
    timings = {"load": load}
    for key in ("first", "cached"):
        started = time.perf_counter()
        response = client.get("/data/plugin/" + fmt.PLUGIN_NAME + "/runs")
        timings[key] = time.perf_counter() - started
        if response.status_code != 200:
            raise RuntimeError(f"/runs answered {response.status_code}")
        listed = len(response.get_json()["runs"])
        if listed != runs:
            raise RuntimeError(f"/runs listed {listed} runs, {runs} written")
    return timings


def slope(sizes: list[int], seconds: list[float]) -> float | None:
    """Log-log slope between the two largest sizes: 1 is linear, 2 quadratic."""
    if len(sizes) < 2 or min(seconds[-2:]) <= 0:
        return None
    return math.log(seconds[-1] / seconds[-2]) / math.log(sizes[-1] / sizes[-2])


def render(rows: list[dict], context: dict) -> str:
    lines = [
        HEADING,
        "",
        f"`{context['command']}`; {context['machine']}; {context['date']}. Each run is a "
        f"copy of one real `aelog.watch` run (MLP on digits, default cadence, "
        f"{context['template_steps']:,} steps: {context['points']} logged steps x "
        f"{context['series']} series), cut to {SHORTEST_RUN}-{context['template_steps']:,} "
        "steps and scaled a little per run, written with aelog's EventWriter. "
        "`aelog diagnose --json` runs as a subprocess (Python start-up included); the "
        "plugin's `/runs` runs in process over TensorBoard's Python loader "
        "(`EventMultiplexer` + `MultiplexerDataProvider`), as `tests/plugin` builds it.",
        "",
        "Finished runs carry the verdict `close()` stores; the CLI and the plugin take it "
        "while it holds, and the run list then reads no series. Runs without one are read "
        "and diagnosed in full.",
        "",
        "| runs | verdict stored | events written | aelog diagnose --json | per run | "
        "TensorBoard load (Reload) | /runs first call | per run | /runs cached |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        n = r["runs"]
        plugin = ("| - | - | - | - |" if r["load"] is None else
                  f"| {r['load']:.2f} s | {r['first']:.2f} s | "
                  f"{r['first'] / n * 1000:.1f} ms | {r['cached'] * 1000:.0f} ms |")
        lines.append(
            f"| {n:,} | {'yes' if r['verdicts'] else 'no'} | {r['events']:,} | "
            f"{r['cli']:.2f} s | {r['cli'] / n * 1000:.1f} ms {plugin}"
        )
    lines.append("")
    for verdicts in (True, False):
        for key, label in (("cli", "aelog diagnose"), ("first", "/runs first call"),
                           ("load", "TensorBoard's load"), ("cached", "/runs cached")):
            group = [r for r in rows if r["verdicts"] == verdicts and r[key] is not None]
            sizes = [r["runs"] for r in group]
            value = slope(sizes, [r[key] for r in group])
            if value is None:
                continue
            verdict = "linear or better" if value <= LINEAR_SLOPE else "WORSE than linear"
            lines.append(
                f"- {label} ({'with' if verdicts else 'without'} verdicts): from "
                f"{sizes[-2]:,} to {sizes[-1]:,} runs time grew "
                f"x{group[-1][key] / group[-2][key]:.1f} for x{sizes[-1] // sizes[-2]} runs "
                f"(log-log slope {value:.2f}): {verdict}."
            )
    return "\n".join(lines) + "\n"


def write_section(text: str, path: str = RESULTS) -> None:
    from benchmarks.overhead.report import write_section as replace

    replace(text, heading=HEADING, path=path)


def measure(sizes: list[int], template_steps: int, root: str, echo=print,
            cli_sizes: list[int] = ()) -> tuple[list, dict]:
    started = time.perf_counter()
    template = train_template(template_steps, os.path.join(root, "template"))
    echo(f"template run: {template_steps} steps in {time.perf_counter() - started:.1f} s")
    rows = []
    for verdicts in (True, False):
        for runs in sorted(set(sizes) | set(cli_sizes)):
            logdir = os.path.join(root, f"runs_{runs}_{'closed' if verdicts else 'open'}")
            events = write_runs(template, logdir, runs, template_steps, verdicts)
            row = {"runs": runs, "verdicts": verdicts, "events": events,
                   "cli": time_cli(logdir, runs)}
            if runs in cli_sizes:
                row.update(load=None, first=None, cached=None)
                echo(f"{runs} runs ({'with' if verdicts else 'without'} verdicts): diagnose "
                     f"{row['cli']:.2f} s")
                rows.append(row)
                shutil.rmtree(logdir, ignore_errors=True)
                continue
            row.update(time_plugin(logdir, runs))
            shutil.rmtree(logdir, ignore_errors=True)
            echo(f"{runs} runs ({'with' if verdicts else 'without'} verdicts): diagnose "
                 f"{row['cli']:.2f} s, load {row['load']:.2f} s, /runs {row['first']:.2f} s, "
                 f"cached {row['cached'] * 1000:.0f} ms")
            rows.append(row)
    points = len({int(s) for series in template.signals.values() for s in series.steps})
    info = {"template_steps": template_steps, "points": points,
            "series": len(_tagged_points(template))}
    return rows, info


def main(argv: list[str] | None = None) -> int:
    from benchmarks.overhead.__main__ import machine

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1,10,100,1000")
    parser.add_argument("--cli-sizes", default="10000",
                        help="larger sizes timed with aelog diagnose alone (TensorBoard's "
                        "Python loader takes ~0.2 s a run to load; '' for none)")
    parser.add_argument("--steps", type=int, default=2000, help="training steps of the template")
    parser.add_argument("--no-write", action="store_true", help="print, do not edit RESULTS.md")
    parser.add_argument("--out", default=RESULTS)
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    with tempfile.TemporaryDirectory(prefix="aelog-bench-scale-") as root:
        cli_sizes = sorted(int(s) for s in args.cli_sizes.split(",") if s.strip())
        rows, info = measure(sizes, args.steps, root, cli_sizes=cli_sizes)
    shown = argv if argv is not None else sys.argv[1:]
    context = {
        "command": "python -m benchmarks.scale" + (" " + " ".join(shown) if shown else ""),
        "machine": machine(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        **info,
    }
    text = render(rows, context)
    print(text)
    if not args.no_write:
        write_section(text, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
