"""The teams benchmark runs end to end on a tiny configuration: a real tensorboard for a
directory and for a bucket of a real S3 server, the tab and the Scalars tab in Chromium."""

from __future__ import annotations

import os

import pytest

from benchmarks.teams import HEADING, main

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists("/usr/bin/chromium"), reason="no chromium"),
]
pytest.importorskip("playwright.sync_api")
pytest.importorskip("moto")
pytest.importorskip("s3fs")


def test_runs_end_to_end(tmp_path, monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "S3_ENDPOINT", "AWS_ACCESS_KEY_ID",
                 "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        monkeypatch.setenv(name, "")  # the benchmark sets them for its server: put back
        monkeypatch.delenv(name)      # as they were after the test
    out = tmp_path / "RESULTS.md"
    assert main(["--sizes", "3", "--stores", "local,s3", "--steps", "40",
                 "--load-limit", "120", "--out", str(out)]) == 0
    section = out.read_text()
    assert section.count(HEADING) == 1
    rows = [line.split("|") for line in section.splitlines() if line.startswith("| local |")
            or line.startswith("| s3 |")]
    assert [(row[1].strip(), row[2].strip()) for row in rows] == [("local", "3"), ("s3", "3")]
    for row in rows:
        assert row[5].strip().endswith(" s") and "not within" not in row[5]  # held every run
        assert all(" s / " in cell for cell in row[4:5] + row[6:10]), row  # cold / warm
        assert "B / " in row[10] and row[10].strip().endswith("B"), row  # the reload
    assert "- s3, 3 runs: putting the runs in the bucket took" in section
