"""Inline SVG line charts: no script, no network, every label escaped."""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

import numpy as np

from aelog.logfile.run_data import Series

WIDTH, HEIGHT = 360, 190
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 26, 34
COLORS = ("#1f6fb2", "#c2410c", "#15803d", "#7c3aed")


@dataclass(frozen=True)
class Line:
    label: str
    series: Series
    dashed: bool = False


def line_chart(title: str, lines: list[Line], *, log_scale: bool = False,
               marker_step: int | None = None, marker_label: str = "") -> str:
    """One chart as an ``<svg>`` element. Non-finite points break the line and are counted
    in the legend; on a log scale, values <= 0 are left out the same way."""
    cleaned = [(line, *_plottable(line.series, log_scale)) for line in lines]
    finite = [(steps, values) for _, steps, values in cleaned if steps.size]
    height = HEIGHT + 14 * (len(lines) - 1)  # one legend row per line
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
             f'height="{height}" role="img" aria-label="{escape(title)}">',
             f'<text x="{LEFT}" y="14" class="chart-title">{escape(title)}</text>']
    if not finite:
        parts.append(f'<text x="{LEFT}" y="{HEIGHT // 2}" class="chart-empty">'
                     "no finite values to plot</text></svg>")
        return "".join(parts)

    all_steps = np.concatenate([s for s, _ in finite])
    all_values = np.concatenate([v for _, v in finite])
    x0, x1 = float(all_steps.min()), float(all_steps.max())
    y0, y1 = float(all_values.min()), float(all_values.max())
    if log_scale:
        y0, y1 = math.log10(y0), math.log10(y1)
        if y1 - y0 < 1e-12:
            y0, y1 = y0 - 0.5, y1 + 0.5
    else:
        y0 = min(y0, 0.0)  # ratios and ranks read against zero
        y1 = _robust_top(all_values, y1)
        if y1 - y0 < 1e-12:
            y1 = y0 + 1.0
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1

    def px(step: float) -> float:
        return LEFT + (step - x0) / (x1 - x0) * (WIDTH - LEFT - RIGHT)

    def py(value: float) -> float:
        v = math.log10(value) if log_scale else min(value, y1)  # spikes pinned at the top
        return TOP + (y1 - v) / (y1 - y0) * (HEIGHT - TOP - BOTTOM)

    bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT
    parts.append(f'<path class="axis" d="M{LEFT},{TOP} V{bottom} H{right}"/>')
    top_label = 10**y1 if log_scale else y1
    low_label = 10**y0 if log_scale else y0
    parts.append(f'<text x="{LEFT - 4}" y="{TOP + 4}" class="tick" text-anchor="end">'
                 f"{_short(top_label)}</text>")
    parts.append(f'<text x="{LEFT - 4}" y="{bottom}" class="tick" text-anchor="end">'
                 f"{_short(low_label)}</text>")
    parts.append(f'<text x="{LEFT}" y="{bottom + 14}" class="tick">{int(x0)}</text>')
    parts.append(f'<text x="{right}" y="{bottom + 14}" class="tick" text-anchor="end">'
                 f"step {int(x1)}</text>")
    if log_scale:
        parts.append(f'<text x="{right}" y="14" class="tick" text-anchor="end">log scale</text>')

    if marker_step is not None and x0 <= marker_step <= x1:
        mx = px(marker_step)
        parts.append(f'<path class="marker" d="M{mx:.1f},{TOP} V{bottom}"/>')
        parts.append(f'<text x="{mx + 3:.1f}" y="{TOP + 20}" class="marker-label">'
                     f"{escape(marker_label)}</text>")

    for i, (line, steps, _) in enumerate(cleaned):
        color = COLORS[i % len(COLORS)]
        dash = ' stroke-dasharray="5 3"' if line.dashed else ""
        for segment in _segments(line.series, log_scale):
            points = " ".join(f"{px(s):.1f},{py(v):.1f}" for s, v in segment)
            if len(segment) == 1:
                s, v = segment[0]
                parts.append(f'<circle cx="{px(s):.1f}" cy="{py(v):.1f}" r="2" fill="{color}"/>')
            else:
                parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.6"{dash} '
                             f'points="{points}"/>')
        label = line.label + _legend_notes(line.series, steps.size, None if log_scale else y1)
        parts.append(f'<text x="{LEFT}" y="{bottom + 28 + 14 * i}" class="legend" '
                     f'fill="{color}">{"- -" if line.dashed else "—"} {escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _robust_top(values: np.ndarray, top: float) -> float:
    """A few exploding points (a divergence) would flatten the rest of the line to zero:
    when the maximum is over 10x the 90th percentile, the chart stops at 1.5x that."""
    typical = float(np.percentile(values, 90))
    if typical > 0 and top > 10 * typical:
        return 1.5 * typical
    return top


def _legend_notes(series: Series, plotted: int, top: float | None) -> str:
    notes = []
    dropped = len(series) - plotted
    if dropped:
        notes.append(f"{dropped} not plotted")
    if top is not None:
        finite = series.values[np.isfinite(series.values)]
        above = int((finite > top).sum())
        if above:
            notes.append(f"{above} above, max {_short(float(finite.max()))}")
    return f" ({'; '.join(notes)})" if notes else ""


def _plottable(series: Series, log_scale: bool) -> tuple[np.ndarray, np.ndarray]:
    ok = np.isfinite(series.values)
    if log_scale:
        ok &= series.values > 0
    return series.steps[ok], series.values[ok]


def _segments(series: Series, log_scale: bool) -> list[list[tuple[float, float]]]:
    """Runs of plottable points; a NaN (or a non-positive value on a log scale) ends one."""
    segments: list[list[tuple[float, float]]] = [[]]
    for step, value in zip(series.steps.tolist(), series.values.tolist(), strict=True):
        if math.isfinite(value) and (value > 0 or not log_scale):
            segments[-1].append((step, value))
        elif segments[-1]:
            segments.append([])
    return [s for s in segments if s]


def _short(value: float) -> str:
    return f"{value:.3g}"
