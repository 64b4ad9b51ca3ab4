"""``aelog compare RUN_A RUN_B``: what differs in configuration, and where the signals part."""

from __future__ import annotations

import argparse
import os

from aelog.cli.loading import diagnose_runs, load_single_run
from aelog.cli.table import format_number, format_table
from aelog.cli.terminal_text import one_line, terminal_safe
from aelog.diagnosis.compare import compare_runs
from aelog.diagnosis.types import Diagnosis
from aelog.logfile import storage

DESCRIPTION = """\
Compare two aelog runs: their configuration and tag differences, and the first step
where a headline signal (relative_error, output_variance_ratio, code_effective_rank, ...)
differs beyond a tolerance, on the steps both runs logged.

RUN_A and RUN_B are run directories (or event files). With --logdir, they are run names
relative to that logdir, as TensorBoard shows them (e.g. vision/healthy)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare", help="compare two runs", description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run_a", metavar="RUN_A", help="first run directory (or run name)")
    parser.add_argument("run_b", metavar="RUN_B", help="second run directory (or run name)")
    parser.add_argument("--logdir", default=None,
                        help="read RUN_A and RUN_B as run names inside this logdir")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    paths = [args.run_a, args.run_b]
    if args.logdir is not None:
        paths = [storage.join(args.logdir, p) if storage.is_remote(args.logdir)
                 else os.path.join(args.logdir, p) for p in paths]
    a, b = (load_single_run(p) for p in paths)
    a.name, b.name = args.run_a, args.run_b  # as the user named them
    print(terminal_safe(render_comparison(compare_runs(a, b), diagnose_runs([a, b]))))
    return 0


def render_comparison(result: dict, diagnoses: list[Diagnosis]) -> str:
    name_a, name_b = result["runs"]
    parts = [f"A: {one_line(name_a)}  ({_verdict(diagnoses[0])})\n"
             f"B: {one_line(name_b)}  ({_verdict(diagnoses[1])})"]

    differences = result["config_differences"]
    if differences:
        rows = [[d["key"], format_number(d["a"]), format_number(d["b"])] for d in differences]
        parts.append(f"Configuration differences ({len(differences)}):\n"
                     + format_table(["key", "A", "B"], rows, max_widths=[36, 30, 30]))
    else:
        parts.append("Configuration differences: none (same config and tags)")

    compared = ", ".join(result["compared_signals"]) or "none"
    step = result["signals_part_at_step"]
    if step is None:
        parts.append(f"Signals do not part: no headline signal differs beyond its tolerance "
                     f"on the steps both runs logged (compared: {compared}).")
    else:
        rows = [[d["signal"], str(d["step"]), format_number(d["a"]), format_number(d["b"])]
                for d in result["diverging_signals"]]
        parts.append(f"Signals part at step {step}:\n"
                     + format_table(["signal", "first step", "A", "B"], rows))
    return "\n\n".join(parts)


def _verdict(d: Diagnosis) -> str:
    text = d.status + ("" if d.since_step is None else f" since step {d.since_step}")
    if d.causes:
        text += f", top cause {d.causes[0].id} ({d.causes[0].confidence:.2f})"
    return text
