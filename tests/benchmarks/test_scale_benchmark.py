"""The scale benchmark runs end to end on a tiny configuration."""

from __future__ import annotations

from benchmarks.scale import HEADING, main


def test_runs_end_to_end(tmp_path):
    out = tmp_path / "RESULTS.md"
    assert main(["--sizes", "1,3", "--steps", "40", "--out", str(out)]) == 0
    section = out.read_text()
    assert section.count(HEADING) == 1
    rows = [line.split("|") for line in section.splitlines() if line.startswith("| 1 |")
            or line.startswith("| 3 |")]
    assert [(int(row[1]), row[2].strip()) for row in rows] == [
        (1, "yes"), (3, "yes"), (1, "no"), (3, "no")]
    assert all(float(row[4].strip().removesuffix(" s")) > 0 for row in rows)
    assert "- aelog diagnose (with verdicts): from 1 to 3 runs" in section
    assert "- /runs first call (without verdicts): from 1 to 3 runs" in section
