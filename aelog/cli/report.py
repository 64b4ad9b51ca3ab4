"""``aelog report PATH --out report.html``: one self-contained HTML file to send around."""

from __future__ import annotations

import argparse

from aelog.cli.errors import CliError
from aelog.cli.loading import diagnose_runs, load_path
from aelog.cli.terminal_text import terminal_safe


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write a self-contained HTML report",
        description="Write one self-contained HTML file (charts inline, no network) with "
        "every run's diagnosis and charts, to attach to a ticket or send to another team.",
    )
    parser.add_argument("path", metavar="PATH",
                        help="logdir, run directory or event file: a local path or a URL "
                        "(s3://bucket/dir, gs://...)")
    parser.add_argument("--out", default="aelog-report.html",
                        help="file to write (default: aelog-report.html)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from aelog.report.html_report import build_report

    runs = load_path(args.path)
    diagnoses = diagnose_runs(runs)
    html = build_report(args.path, list(zip(runs, diagnoses, strict=True)))
    try:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(html)
    except OSError as error:
        raise CliError(f"{args.out}: cannot write: {error.strerror or error}") from None
    collapsed = sum(d.status == "collapsed" for d in diagnoses)
    print(terminal_safe(f"wrote {args.out}: {len(runs)} runs, {collapsed} collapsed"))
    return 0
