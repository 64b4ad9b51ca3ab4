"""The tab in a real browser: headless Chromium on a real tensorboard over SDK-written runs.

Screenshots go to the test's temporary directory (printed with -s) for a human to look at.
"""

from __future__ import annotations

import math
import os
import shutil

import pytest

from .sdk_runs import ALL_RUNS, HTML_RUN, HTML_TEAM, TEAM, TRAINING_STEPS, TRUE_TOP_CAUSE
from .synthetic_runs import write_run
from .tensorboard_process import TensorBoard, last_steps_on_disk

CHROMIUM = "/usr/bin/chromium"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed"),
]
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def served(sdk_logdir, tmp_path_factory):
    """A copy of the SDK logdir (this test adds a run to it) behind a real tensorboard."""
    logdir = tmp_path_factory.mktemp("browser") / "logs"
    shutil.copytree(sdk_logdir, logdir)
    server = TensorBoard(str(logdir), load_fast=True,
                         log_path=str(logdir.parent / "tensorboard.log"))
    try:
        server.wait_for_runs(len(ALL_RUNS), last_steps_on_disk(str(logdir)))
        yield server, logdir
    finally:
        server.stop()


@pytest.fixture
def page(served, tmp_path):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1300})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            yield page
            assert not errors, errors
        finally:
            browser.close()
            print(f"screenshots in {tmp_path}")


def _open_tab(page, url: str):
    page.goto(url + "/#aelog")
    page.get_by_role("tab", name="Collapse Diagnosis").wait_for(timeout=30_000)
    frame = page.frame_locator("iframe")
    frame.locator(".aelog[data-state=ready]").wait_for(timeout=30_000)
    return frame


def test_table_cards_and_diff(page, served, tmp_path):
    server, _ = served
    frame = _open_tab(page, server.url)
    page.screenshot(path=str(tmp_path / "tab.png"))

    for name in ALL_RUNS:  # the comparison table lists every run with its team
        row = frame.locator("tr.run-row").filter(has=frame.get_by_text(name, exact=True))
        assert row.count() == 1, name
        if name in TEAM:
            assert row.locator("td.cell-team").inner_text() == TEAM[name]

    for name, cause in TRUE_TOP_CAUSE.items():  # each card shows the run's true top cause
        frame.locator("tr.run-row td.cell-run", has_text=name).first.click()
        card = frame.locator(f".card[data-run='{name}']")
        card.wait_for()
        if cause is None:
            assert card.locator(".badge").inner_text() == "healthy"
            assert card.locator(".cause").count() == 0
        else:
            assert card.locator(".cause").first.get_attribute("data-cause") == cause
            assert card.locator(".cause .fix").first.inner_text().startswith("Fix:")
        assert frame.locator(".chart canvas").count() >= 3
        trained = card.locator(".trained").inner_text()
        assert trained.startswith(f"Trained {TRAINING_STEPS} steps, ")
        assert f"the end measured at step {TRAINING_STEPS}." in trained
        for x_max, labels_fit in _charts(frame):  # each chart spans the whole run
            assert x_max == TRAINING_STEPS and labels_fit, name
        frame.locator(".detail-area").screenshot(path=str(tmp_path / f"card_{cause}.png"))

    dying = frame.locator(".layer-table tr.dying-row")
    frame.locator("tr.run-row td.cell-run", has_text="speech/dead_bottleneck").click()
    frame.locator(".card[data-run='speech/dead_bottleneck']").wait_for()
    assert dying.count() >= 1  # the dead bottleneck stands out in the layer view

    for name in ("vision/healthy", "speech/weight_decay_3"):  # the two-run diff
        frame.locator("tr.run-row", has_text=name).first.locator("input.diff-pick").click()
    weight_decay = frame.locator(".diff-table tr[data-key='weight_decay'] td")
    weight_decay.first.wait_for()
    assert weight_decay.all_inner_texts() == ["weight_decay", "0", "3"]
    assert "part at step" in frame.locator(".diff .parting").inner_text()
    frame.locator(".diff-area").screenshot(path=str(tmp_path / "diff.png"))


CHART_FACTS = """
(root) => [...root.querySelectorAll('.chart')].filter((c) => c.plot).map((c) => {
  const plot = c.plot, axis = plot.axes[1], ctx = plot.ctx;
  ctx.save();
  ctx.font = axis.font[0];
  const widest = Math.max(0, ...(axis._values || []).map((v) => ctx.measureText(v).width));
  ctx.restore();
  return [plot.scales.x.max, widest + axis.ticks.size <= plot.bbox.left];
})
"""


def _charts(frame) -> list[list]:
    """Per chart of the open run: its x axis's end, and whether its y labels fit the axis."""
    return frame.locator(".detail-area").evaluate(CHART_FACTS)


def test_charts_flip_between_linear_and_log_axes(page, served, tmp_path):
    from aelog.logfile import format as fmt
    from aelog.logfile.runs import load_runs

    server, logdir = served
    frame = _open_tab(page, server.url)
    for name in TRUE_TOP_CAUSE:
        frame.locator("tr.run-row td.cell-run", has_text=name).first.click()
        frame.locator(f".card[data-run='{name}']").wait_for()
        (run,) = load_runs(str(logdir / name))
        error = [s.values for s in (run.signal(fmt.RELATIVE_ERROR), run.signal(fmt.RANK_K_ERROR))
                 if s is not None]
        positive = [v for values in error for v in values if v > 0]
        decades = math.log10(max(positive) / min(positive))
        chart = frame.locator(".chart", has_text="Relative error vs best rank-k error")
        assert chart.get_attribute("data-scale") == ("log" if decades > 3 else "linear"), name
        start = chart.get_attribute("data-scale")
        chart.locator("button.axis-toggle").click()
        assert chart.get_attribute("data-scale") == ("linear" if start == "log" else "log")
        assert all(labels_fit for _, labels_fit in _charts(frame)), name
        chart.screenshot(path=str(tmp_path / f"error_{name.replace('/', '_')}_flipped.png"))
        chart.locator("button.axis-toggle").click()
        assert chart.get_attribute("data-scale") == start


def test_names_and_tags_render_as_text(page, served):
    server, _ = served
    frame = _open_tab(page, server.url)
    cell = frame.locator("td.cell-run", has_text="odd/<img")
    assert cell.inner_text() == HTML_RUN
    frame.locator("select.group-by").select_option("team")
    assert frame.get_by_text(HTML_TEAM, exact=True).count() >= 1
    cell.click()
    frame.locator(".card .card-run", has_text="odd/<img").wait_for()
    assert frame.locator("img").count() == 0 and frame.locator("b[onmouseover]").count() == 0
    assert page.evaluate("() => document.querySelector('iframe').contentWindow.__pwned") is None


def test_sort_filter_group_and_dark_theme(page, served, tmp_path):
    server, _ = served
    page.emulate_media(color_scheme="dark")
    frame = _open_tab(page, server.url)
    frame.locator("input.filter").fill("team:speech")
    names = frame.locator("tr.run-row td.cell-run").all_inner_texts()
    assert sorted(names) == ["speech/dead_bottleneck", "speech/weight_decay_3"]
    frame.locator("input.filter").fill("")
    frame.locator("select.group-by").select_option("none")
    frame.locator("th[data-key='run']").click()
    names = frame.locator("tr.run-row td.cell-run").all_inner_texts()
    assert names == sorted(ALL_RUNS)
    frame.locator("th[data-key='run']").click()
    assert frame.locator("tr.run-row td.cell-run").all_inner_texts() == sorted(ALL_RUNS)[::-1]
    assert "theme-dark" in (frame.locator(".aelog").get_attribute("class") or "")
    page.screenshot(path=str(tmp_path / "dark.png"))


def test_reload_shows_a_new_run(page, served):
    """A reload asks only for what changed since the list it holds (``/runs?since=``)."""
    server, logdir = served
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/runs?" in r.url else None)
    frame = _open_tab(page, server.url)
    write_run(str(logdir / "late" / "arrival"), collapse_at=100, team="late")
    server.wait_for_runs(len(ALL_RUNS) + 1, last_steps_on_disk(str(logdir)))
    page.locator("app-header-reload button").click()  # TensorBoard's reload -> DataReloaded
    arrival = frame.locator("tr.run-row[data-run='late/arrival']")
    arrival.wait_for(timeout=20_000)
    assert "offset=0" in asked[0] and any("since=" in url for url in asked), asked
    assert not [url for url in asked[1:] if "since=" not in url], asked  # no page again
    assert frame.locator("tr.run-row").count() == len(ALL_RUNS) + 1
    assert "status-collapsed" in (arrival.get_attribute("class") or "")


def test_a_verdict_without_a_ranked_cause_shows_why_in_the_card(page, served, tmp_path):
    """NaN from the data: no cause among the 15, and the card says so with the fix instead
    of a bare "No cause ranked." (that note leaves the folded limits)."""
    import torch

    import aelog
    from aelog.sdk import nonfinite_watch

    server, logdir = served
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 3), torch.nn.ReLU(), torch.nn.Linear(3, 8))
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    share, nonfinite_watch.WATCH_SHARE = nonfinite_watch.WATCH_SHARE, 1e6  # every step
    try:
        with aelog.watch(model, optimizer, logdir=logdir, run_name="data/nan_batch",
                         on_collapse=None):
            for step in range(120):
                x = torch.randn(16, 8)
                if step == 70:
                    x[0, 0] = float("nan")
                optimizer.zero_grad()
                ((model(x) - x) ** 2).mean().backward()
                optimizer.step()
    finally:
        nonfinite_watch.WATCH_SHARE = share
    server.wait_for_runs(len(ALL_RUNS) + 1, last_steps_on_disk(str(logdir)))
    frame = _open_tab(page, server.url)
    frame.locator("tr.run-row td.cell-run", has_text="data/nan_batch").first.click()
    card = frame.locator(".card[data-run='data/nan_batch']")
    card.wait_for()
    note = card.locator(".verdict-note").inner_text()
    assert note.startswith("cause not among the 15: the training inputs held NaN/Inf at step 70")
    assert "torch.isfinite(x).all()" in note
    assert card.locator(".cause").count() == 0
    assert "No cause ranked." not in card.inner_text()
    assert "cause not among the 15" not in card.locator("details.notes").inner_text()
    # the page, not the card: a reload (TensorBoard's 30 s one) may draw the card anew
    page.screenshot(path=str(tmp_path / "card_nan_batch.png"))


def test_the_overview_filters_by_team_and_cause_and_the_url_keeps_the_view(page, served, tmp_path):
    server, _ = served
    frame = _open_tab(page, server.url)
    speech = frame.locator("li.team-line[data-team='speech']")
    assert "2 runs" in speech.inner_text()
    speech.locator("button.cause-link", has_text="dead_relu").click()
    assert frame.locator("input.filter").input_value() == "team:speech cause:dead_relu"
    assert frame.locator("tr.run-row td.cell-run").all_inner_texts() == ["speech/dead_bottleneck"]
    frame.locator("select.group-by").select_option("folder")
    frame.locator("tr.run-row[data-run='speech/dead_bottleneck']").click()
    page.wait_for_function(
        "() => location.hash.includes('p.aelog.filter=') && location.hash.includes("
        "'p.aelog.group=folder') && location.hash.includes('p.aelog.run=speech')",
        timeout=10_000)
    page.screenshot(path=str(tmp_path / "overview.png"))
    shared = page.url

    page.goto("about:blank")  # the link, opened anew, lands on the same view
    page.goto(shared)
    page.get_by_role("tab", name="Collapse Diagnosis").wait_for(timeout=30_000)
    frame = page.frame_locator("iframe")
    frame.locator(".aelog[data-state=ready]").wait_for(timeout=30_000)
    sync_api.expect(frame.locator("input.filter")).to_have_value(
        "team:speech cause:dead_relu", timeout=10_000)
    assert frame.locator("select.group-by").input_value() == "folder"
    assert frame.locator("tr.run-row td.cell-run").all_inner_texts() == ["speech/dead_bottleneck"]
    frame.locator("h2", has_text="Run: speech/dead_bottleneck").wait_for(timeout=10_000)


def test_a_long_list_comes_in_pages_and_long_groups_draw_their_first_rows(tmp_path):
    """1,001 runs: two pages of /runs, one listing; a group of 1,000 draws its first rows
    and a button for the rest; the open run is drawn even when it is past them."""
    logdir = tmp_path / "many"
    for index in range(1001):
        team = "big" if index < 1000 else "small"
        write_run(str(logdir / team / f"run_{index:04d}"), collapse_at=None, steps=3,
                  every=1, team=team)
    server = TensorBoard(str(logdir), load_fast=True, log_path=str(tmp_path / "tb.log"))
    try:
        server.wait_for_runs(1001)
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM)
            try:
                page = browser.new_page(viewport={"width": 1500, "height": 1000})
                pages: list[str] = []
                page.on("request", lambda r: pages.append(r.url) if "/runs?" in r.url else None)
                page.goto(server.url + "/#aelog&p.aelog.run=big%2Frun_0950")
                frame = page.frame_locator("iframe")
                frame.locator(".aelog[data-state=ready]").wait_for(timeout=60_000)
                assert len(pages) == 2 and "listing=" in pages[1], pages
                count = frame.locator(".table-count").inner_text()
                assert count.startswith("1001 of 1001 runs shown"), count
                rows = frame.locator("tr.run-row")
                assert rows.count() == 200 + 1 + 1  # big's first 200, the open run, small's one
                assert frame.locator("tr.run-row.selected").get_attribute("data-run") == (
                    "big/run_0950")
                more = frame.locator("button.more-rows")
                assert more.inner_text() == "Show 799 more runs of big"
                page.screenshot(path=str(tmp_path / "long-list.png"))
                more.click()
                frame.locator("tr.run-row >> nth=1000").wait_for(timeout=30_000)
                assert rows.count() == 1001 and more.count() == 0
            finally:
                browser.close()
    finally:
        server.stop()
