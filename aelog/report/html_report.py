"""Build the self-contained HTML report: a summary table, then one card per run.

No script, no external URL (a Content-Security-Policy forbids fetching anything), every
user-controlled string (run names, tags, evidence) HTML-escaped.
"""

from __future__ import annotations

import datetime as _dt
from html import escape

from aelog import __version__
from aelog.diagnosis.teams import STATUS_ORDER, team_overview
from aelog.diagnosis.types import Diagnosis
from aelog.logfile import format as fmt
from aelog.logfile.run_data import RunData
from aelog.report.svg import Line, line_chart

CHARTS: tuple[tuple[str, tuple[tuple[str, str, bool], ...], bool], ...] = (
    ("Relative error (1 = the batch mean)",
     ((fmt.RELATIVE_ERROR, "relative_error", False),
      (fmt.RANK_K_ERROR, "best rank-k linear code", True),
      (fmt.VAL_RELATIVE_ERROR, "validation", False)), False),
    ("Output variance / target variance",
     ((fmt.OUTPUT_VARIANCE_RATIO, "output_variance_ratio", False),), False),
    ("Code effective rank", ((fmt.CODE_EFFECTIVE_RANK, "code_effective_rank", False),), False),
    ("VAE: KL per latent dimension", ((fmt.KL_PER_DIM, "kl_per_dim", False),), False),
    ("Gradient norm", ((fmt.GRAD_NORM, "grad_norm", False),), True),
    ("Update / weight ratio", ((fmt.UPDATE_RATIO, "update_ratio", False),), True),
)
"""(title, ((signal, legend label, dashed), ...), log scale): charts drawn when logged."""

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1180px;color:#1f2328;
padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:0;display:inline}
.meta{color:#57606a;margin:0 0 16px}
table{border-collapse:collapse;margin:8px 0 20px}th,td{border-bottom:1px solid #d0d7de;
padding:4px 10px;text-align:left;vertical-align:top}th{background:#f6f8fa}
.status{display:inline-block;border-radius:10px;padding:0 9px;font-weight:600;font-size:13px;
margin-left:8px}
.healthy{background:#dafbe1;color:#116329}.at_risk{background:#fff8c5;color:#7d4e00}
.collapsed{background:#ffebe9;color:#a40e26}
.card{border:1px solid #d0d7de;border-radius:8px;padding:14px 16px;margin:0 0 18px}
.tags{color:#57606a;margin:4px 0 8px}.tag{background:#eef1f4;border-radius:4px;padding:0 6px;
margin-right:6px}
.cause{margin:8px 0 8px 0;padding-left:10px;border-left:3px solid #d0d7de}
.cause h3{font-size:15px;margin:0}
pre.fix{background:#f6f8fa;padding:6px 8px;white-space:pre-wrap;margin:4px 0}
.charts{display:flex;flex-wrap:wrap;gap:8px;margin-top:10px}
.chart{border:1px solid #eaeef2;border-radius:4px;background:#fff}
.chart-title{font-size:12px;font-weight:600;fill:#1f2328}.tick{font-size:10px;fill:#57606a}
.legend{font-size:11px}.axis{stroke:#8c959f;fill:none}.chart-empty{font-size:12px;fill:#8c959f}
.marker{stroke:#a40e26;stroke-dasharray:3 3}.marker-label{font-size:10px;fill:#a40e26}
.note{color:#57606a}
"""

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def build_report(source: str, items: list[tuple[RunData, Diagnosis]]) -> str:
    """The whole HTML document for runs read from ``source``."""
    counts = {s: sum(d.status == s for _, d in items) for s in ("collapsed", "at_risk", "healthy")}
    summary = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in counts.items())
    generated = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body = [
        "<h1>aelog collapse report</h1>",
        f'<p class="meta">{len(items)} runs from {escape(source)}: {escape(summary)}. '
        f"Generated {generated} by aelog {escape(__version__)}.</p>",
        _team_overview(items),
        _summary_table(items),
        *(_run_card(i, run, d) for i, (run, d) in enumerate(items)),
    ]
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>aelog report: {escape(source)}</title><style>{STYLE}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )


RUN_LINKS = 12
"""runs linked per cause in the team overview; the rest are counted."""


def _team_overview(items: list[tuple[RunData, Diagnosis]]) -> str:
    """Per team: how many runs are healthy, at risk, collapsed, and the most frequent top
    causes, each with links to its runs' cards."""
    rows = []
    for team in team_overview([d for _, d in items]):
        counts = "".join(f"<td>{team.statuses.get(status, 0)}</td>" for status in STATUS_ORDER)
        causes = []
        for cause, runs in team.causes.items():
            links = ", ".join(f'<a href="#run-{i}">{escape(items[i][1].run)}</a>'
                              for i in runs[:RUN_LINKS])
            more = f" and {len(runs) - RUN_LINKS} more" if len(runs) > RUN_LINKS else ""
            causes.append(f'<div data-cause="{escape(cause)}"><b>{escape(cause)}</b> '
                          f"({len(runs)}): {links}{more}</div>")
        rows.append(f'<tr data-team="{escape(team.team)}"><td>{escape(team.team)}</td>'
                    f"<td>{len(team.runs)}</td>{counts}<td>{''.join(causes) or '-'}</td></tr>")
    return ('<table class="teams"><thead><tr><th>team</th><th>runs</th><th>healthy</th>'
            "<th>at risk</th><th>collapsed</th><th>most frequent causes</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def _summary_table(items: list[tuple[RunData, Diagnosis]]) -> str:
    rows = []
    for i, (run, d) in enumerate(items):
        top = d.causes[0] if d.causes else None
        rows.append(
            f'<tr><td><a href="#run-{i}">{escape(d.run)}</a></td>'
            f"<td>{escape(run.tags.get('team', '-'))}</td>"
            f"<td>{escape(run.tags.get('owner', '-'))}</td>"
            f'<td><span class="status {escape(d.status)}">{escape(d.status)}</span></td>'
            f"<td>{'-' if d.since_step is None else d.since_step}</td>"
            f"<td>{escape(f'{top.id} ({top.confidence:.2f})') if top else '-'}</td></tr>"
        )
    return ('<table class="summary"><thead><tr><th>run</th><th>team</th><th>owner</th>'
            "<th>status</th><th>since step</th><th>top cause</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def _run_card(index: int, run: RunData, d: Diagnosis) -> str:
    since = "" if d.since_step is None else f" since step {d.since_step}"
    parts = [
        f'<section class="card" id="run-{index}" data-run="{escape(d.run)}">',
        f'<h2>{escape(d.run)}</h2><span class="status {escape(d.status)}">'
        f"{escape(d.status.replace('_', ' '))}{escape(since)}</span>",
    ]
    tags = {**run.tags, **d.tags}
    if tags:
        spans = "".join(f'<span class="tag">{escape(k)}: {escape(v)}</span>'
                        for k, v in sorted(tags.items()))
        parts.append(f'<div class="tags">{spans}</div>')
    parts += [f"<p>{escape(s)}</p>" for s in d.symptom]
    if not d.causes and d.status == "healthy":
        parts.append("<p>No cause of collapse found.</p>")
    for rank, cause in enumerate(d.causes, 1):
        cause_since = "" if cause.since_step is None else f", since step {cause.since_step}"
        evidence = "".join(f"<li>{escape(e)}</li>" for e in cause.evidence)
        parts.append(
            f'<div class="cause" data-cause="{escape(cause.id)}">'
            f"<h3>{rank}. {escape(cause.id)} "
            f"<small>(confidence {cause.confidence:.2f}{escape(cause_since)})</small></h3>"
            f"<ul>{evidence}</ul><div>Fix:</div><pre class=\"fix\">{escape(cause.fix)}</pre>"
            "</div>"
        )
    if d.notes:
        notes = "".join(f"<li>{escape(n)}</li>" for n in d.notes)
        count = f"{len(d.notes)} note{'s' if len(d.notes) > 1 else ''}"
        parts.append(f'<details class="note"><summary>{count} on the limits of this verdict'
                     f"</summary><ul>{notes}</ul></details>")
    parts.append(f'<div class="charts">{_charts(run, d)}</div></section>')
    return "".join(parts)


def _charts(run: RunData, d: Diagnosis) -> str:
    charts = []
    for title, wanted, log_scale in CHARTS:
        lines = [Line(label, series, dashed)
                 for signal, label, dashed in wanted
                 if (series := run.signal(signal)) is not None]
        if lines:
            charts.append(line_chart(title, lines, log_scale=log_scale,
                                     marker_step=d.since_step, marker_label=d.status))
    return "".join(charts) or '<p class="note">No headline signals were logged.</p>'
