"""``aelog diagnose PATH``: every run's verdict as a table, or the JSON contract; a CI gate."""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys

from aelog.cli.loading import diagnose_runs, load_path
from aelog.cli.table import format_table
from aelog.cli.terminal_text import one_line, terminal_safe
from aelog.diagnosis.stored import verdict_holds
from aelog.diagnosis.types import AT_RISK, COLLAPSED, Diagnosis

FAIL_ON = {COLLAPSED: (COLLAPSED,), AT_RISK: (AT_RISK, COLLAPSED)}
"""--fail-on value -> the statuses that make the command exit 1."""
TABLE_WIDTH_WHEN_PIPED = 160
"""CI logs are wide: without a terminal (and no COLUMNS), the table is this wide."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "diagnose",
        help="diagnose every run under a path",
        description="Diagnose every aelog run under PATH (a logdir, a run directory or one "
        "event file). Exit status: 0, or 1 when a run meets --fail-on, or 2 for a bad path "
        "or bad arguments.",
    )
    parser.add_argument("path", metavar="PATH",
                        help="logdir, run directory or event file: a local path or a URL "
                        "(s3://bucket/dir, gs://...)")
    parser.add_argument("--json", action="store_true",
                        help='print the JSON contract {"runs": [...]} instead of a table')
    parser.add_argument("--fail-on", choices=sorted(FAIL_ON), default=None,
                        help="exit 1 when a run is collapsed (or at_risk or collapsed)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # a finished run whose stored verdict holds is not read past its verdict and metadata
    diagnoses = diagnose_runs(load_path(args.path, light_when=verdict_holds))
    if args.json:
        from aelog.diagnosis.api import diagnoses_to_json

        print(json.dumps(_finite(diagnoses_to_json(diagnoses)), indent=2))
    else:
        print(terminal_safe(render_diagnoses(diagnoses)))
    if args.fail_on:
        failing = [d for d in diagnoses if d.status in FAIL_ON[args.fail_on]]
        if failing:
            names = ", ".join(one_line(d.run) for d in failing)
            print(f"aelog: {len(failing)} of {len(diagnoses)} runs met --fail-on "
                  f"{args.fail_on}: {names}", file=sys.stderr)
            return 1
    return 0


def render_diagnoses(diagnoses: list[Diagnosis]) -> str:
    """The summary table, then per run that is not healthy its evidence and fix."""
    rows = []
    for d in diagnoses:
        top = d.causes[0] if d.causes else None
        rows.append([
            d.run,
            d.tags.get("team", "-"),
            d.status,
            "-" if d.since_step is None else str(d.since_step),
            f"{top.id} ({top.confidence:.2f})" if top else "-",
            top.evidence[0] if top and top.evidence else "-",
            top.fix if top else "-",
        ])
    header = ["run", "team", "status", "since step", "top cause", "evidence", "fix"]
    parts = [format_table(header, rows, max_widths=_column_widths(header, rows))]
    for d in diagnoses:
        details = _details(d)
        if details:
            parts.append("\n".join(details))
    counts = {s: sum(d.status == s for d in diagnoses) for s in ("healthy", AT_RISK, COLLAPSED)}
    parts.append(", ".join(f"{n} {s}" for s, n in counts.items()) + f" ({len(diagnoses)} runs)")
    return "\n\n".join(parts)


def _column_widths(header: list[str], rows: list[list[str]]) -> list[int]:
    """Fit the terminal: the short columns keep their size (capped), evidence and fix share
    what is left (at least 12 characters each; their full text follows the table)."""
    columns = shutil.get_terminal_size(fallback=(TABLE_WIDTH_WHEN_PIPED, 24)).columns
    caps = [32, 12, 9, 10, 28]
    fixed = [min(cap, max(len(r[i]) for r in [header, *rows])) for i, cap in enumerate(caps)]
    left = columns - sum(fixed) - 2 * (len(header) - 1)
    share = max(12, left // 2)
    return [*fixed, share, max(12, left - share)]


def _details(d: Diagnosis) -> list[str]:
    if not d.causes and not d.notes and d.status == "healthy":
        return []
    since = "" if d.since_step is None else f" since step {d.since_step}"
    lines = [f"{one_line(d.run)}: {d.status}{since}"]
    lines += [f"  symptom: {one_line(s)}" for s in d.symptom]
    for rank, cause in enumerate(d.causes, 1):
        cause_since = "" if cause.since_step is None else f", since step {cause.since_step}"
        lines.append(f"  {rank}. {cause.id} (confidence {cause.confidence:.2f}{cause_since})")
        lines += [f"     - {one_line(e)}" for e in cause.evidence]
        lines.append(f"     fix: {one_line(cause.fix)}")
    lines += [f"  note: {one_line(n)}" for n in d.notes]
    return lines


def _finite(value):
    """JSON has no NaN/Infinity: non-finite numbers become null so every parser reads it."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
