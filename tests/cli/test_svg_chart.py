"""The report's inline SVG charts: gaps at NaN, divergence spikes kept from flattening."""

from __future__ import annotations

import re

from aelog.logfile.run_data import Series
from aelog.report.svg import Line, line_chart


def _polylines(svg: str) -> list[list[tuple[float, float]]]:
    found = re.findall(r'<polyline[^>]* points="([^"]+)"', svg)
    return [[tuple(map(float, p.split(","))) for p in pts.split()] for pts in found]


def test_nan_breaks_the_line_and_is_counted():
    series = Series.from_points(range(6), [1.0, 0.8, float("nan"), 0.5, 0.4, 0.3])
    svg = line_chart("error", [Line("relative_error", series)])
    lines = _polylines(svg)
    assert [len(points) for points in lines] == [2, 3]
    assert "relative_error (1 not plotted)" in svg


def test_a_divergence_spike_is_pinned_to_the_top_and_reported():
    values = [1.0, 0.9, 1e13, 0.8, 0.7, 0.6, 0.6, 0.5, 0.5, 0.5, 0.4, 0.4]
    svg = line_chart("error", [Line("relative_error", Series.from_points(range(12), values))])
    (points,) = _polylines(svg)
    ys = [y for _, y in points]
    top, bottom = min(ys), max(ys)
    assert ys.index(top) == 2  # the spike sits at the top edge
    assert ys[0] > top + 0.2 * (bottom - top)  # while the rest keeps its shape
    assert "1 above, max 1e+13" in svg


def test_labels_are_escaped_and_empty_series_say_so():
    svg = line_chart("<b>t</b>", [Line("<i>x</i>", Series.from_points([0], [float("nan")]))])
    assert "<b>" not in svg and "<i>" not in svg
    assert "no finite values to plot" in svg
