"""In a real browser: run names, tags, layer names, evidence, fixes and config values that
carry HTML and script payloads are shown as text, and no script of theirs ever runs."""

from __future__ import annotations

import os

import pytest

from .hostile_runs import MARKUP_LAYER, MARKUP_RUN, MARKUP_TEAM, write_hostile_logdir
from .servers import wait_until_listed

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed"),
]
sync_api = pytest.importorskip("playwright.sync_api")

PWNED = "() => [window.__pwned, document.querySelector('iframe')?.contentWindow?.__pwned]"
INJECTED = ("img, svg[onload], iframe, [onerror], [onload], [onmouseover], "
            "script:not([src]):not([type=module])")
"""elements only an injected payload makes (TensorBoard's own loader is a module script)."""


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from plugin.tensorboard_process import TensorBoard

    root = tmp_path_factory.mktemp("payloads")
    names = write_hostile_logdir(str(root / "logs"))
    server = TensorBoard(str(root / "logs"), load_fast=True, log_path=str(root / "tb.log"))
    try:
        wait_until_listed(server, len(names))
        yield server
    finally:
        server.stop()


def test_payloads_render_as_text_and_never_run(served, tmp_path):
    from plugin.test_browser import _open_tab

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1300})
            dialogs, errors = [], []
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            page.on("pageerror", lambda error: errors.append(str(error)))
            frame = _open_tab(page, served.url)

            cell = frame.locator("tr.run-row td.cell-run", has_text="<script>")
            assert cell.inner_text() == MARKUP_RUN
            frame.locator("select.group-by").select_option("team")
            assert frame.get_by_text(MARKUP_TEAM, exact=True).count() >= 1
            cell.click()
            frame.locator(".card .card-run", has_text="<script>").wait_for()

            frame.locator("tr.run-row td.cell-run", has_text="markup/records").click()
            card = frame.locator(".card[data-run='markup/records']")
            card.wait_for()
            evidence = card.locator(".cause").first.inner_text()
            assert f"layer {MARKUP_LAYER}:" in evidence  # the payload, shown as text
            assert MARKUP_LAYER in card.locator(".cause .fix").first.inner_text()
            assert frame.get_by_text(MARKUP_LAYER).count() >= 1  # also in the layer view

            for name in (MARKUP_RUN, "markup/records"):  # the diff of two hostile runs
                frame.locator("tr.run-row", has_text=name).first.locator("input.diff-pick").click()
            frame.locator(".diff-table").first.wait_for()
            frame.locator("input.filter").fill("<img src=x onerror=window.__pwned=1>")
            page.wait_for_timeout(500)
            page.screenshot(path=str(tmp_path / "payloads.png"))

            found = frame.locator(INJECTED).evaluate_all("els => els.map(e => e.outerHTML)")
            assert found == [], found
            scripts = frame.locator("script").evaluate_all("els => els.map(e => e.text)")
            assert not any("__pwned" in text for text in scripts)
            assert page.evaluate(PWNED) == [None, None]
            assert dialogs == [] and errors == []
        finally:
            browser.close()
