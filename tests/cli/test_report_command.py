"""`aelog report`: one self-contained, escaped HTML file, checked as text and in Chromium."""

from __future__ import annotations

import os
import re

import pytest

from aelog.logfile import format as fmt
from cli.cli_runs import collapsed_signals, run_aelog, write_run

NASTY = "<script>alert(1)</script>"


@pytest.fixture
def report(logdir, tmp_path) -> str:
    # a third run whose name and tags try to inject markup, and a NaN in its series
    signals = collapsed_signals()
    signals[fmt.RELATIVE_ERROR][5] = float("nan")
    write_run(os.path.join(logdir, "speech", "x<img src=y>"), signals,
              tags={"team": "speech", "owner": NASTY})
    out = str(tmp_path / "report.html")
    result = run_aelog("report", logdir, "--out", out)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"wrote {out}: 3 runs, 2 collapsed"
    return out


def test_report_is_self_contained_and_escaped(report):
    html = open(report, encoding="utf-8").read()
    assert not re.search(r"(https?:)?//[a-z0-9]", html, re.I), "no external URL"
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "x&lt;img src=y&gt;" in html
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert html.count('<section class="card"') == 3
    assert html.count("<svg") >= 3 * 3  # error, spread and rank charts for every run
    assert "relative_error (1 not plotted)" in html  # the NaN is counted, not drawn


def test_report_of_a_bad_path_fails_cleanly(tmp_path):
    result = run_aelog("report", str(tmp_path / "nope"), "--out", str(tmp_path / "r.html"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "r.html").exists()


def test_report_to_an_unwritable_place_fails_cleanly(logdir, tmp_path):
    result = run_aelog("report", logdir, "--out", str(tmp_path / "missing" / "dir" / "r.html"))
    assert result.returncode == 2
    assert "cannot write" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.browser
def test_report_renders_in_headless_chromium(report, tmp_path):
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists("/usr/bin/chromium"):
        pytest.skip("Debian's chromium is not installed")
    requests: list[str] = []
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium")
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            dialogs: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto("file://" + report)
            assert page.title().startswith("aelog report")
            cards = page.locator("section.card")
            assert cards.count() == 3
            collapsed = page.locator('section.card[data-run="speech/collapsed"]')
            assert "collapsed since step 0" in collapsed.inner_text()
            assert "owner: chen" in collapsed.inner_text()
            healthy = page.locator('section.card[data-run="vision/healthy"]')
            assert "healthy" in healthy.locator(".status").inner_text()
            nasty = page.locator("section.card").filter(has_text="x<img src=y>")
            assert NASTY in nasty.inner_text()  # shown as text, not run
            charts = page.locator("svg.chart")
            assert charts.count() >= 9
            box = charts.first.bounding_box()
            assert box and box["width"] > 200 and box["height"] > 100
            summary_rows = page.locator("table.summary tbody tr")
            assert summary_rows.count() == 3
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            browser.close()
    assert dialogs == []
    assert all(url.startswith("file://") for url in requests), requests


def test_report_opens_on_each_teams_counts_and_causes_linked_to_their_runs(report):
    html = open(report, encoding="utf-8").read()
    overview = html[html.index('<table class="teams">'):html.index('<table class="summary">')]
    rows = dict(re.findall(r'<tr data-team="([^"]*)">(.*?)</tr>', overview))
    assert sorted(rows) == ["speech", "vision"]
    cells = {team: re.findall(r"<td>(.*?)</td>", row) for team, row in rows.items()}
    assert cells["vision"][:5] == ["vision", "1", "1", "0", "0"]  # runs, healthy, risk, collapsed
    assert cells["speech"][:5] == ["speech", "2", "0", "0", "2"]
    causes = re.findall(r'<div data-cause="([^"]*)"><b>[^<]*</b> \((\d+)\)', rows["speech"])
    assert sum(int(count) for _, count in causes) == 2  # both collapsed runs, by top cause
    links = re.findall(r'href="#(run-\d+)"', rows["speech"])
    assert len(links) == 2
    for anchor in links:  # each link leads to a collapsed run's card
        card = html[html.index(f'id="{anchor}"'):]
        card = card[:card.index("</section>")]
        assert '<span class="status collapsed">' in card
        top = re.search(r'<div class="cause" data-cause="([^"]*)"', card)
        assert (top.group(1) if top else "no cause among the 15") in dict(causes)
    assert "<td>-</td>" in rows["vision"]  # a healthy team: no cause to list
