"""The scale benchmark runs end to end on a tiny configuration."""

from __future__ import annotations

from benchmarks.scale import HEADING, main


def test_runs_end_to_end(tmp_path):
    out = tmp_path / "RESULTS.md"
    assert main(["--sizes", "1,3", "--cli-sizes", "5", "--steps", "40", "--out", str(out)]) == 0
    section = out.read_text()
    assert section.count(HEADING) == 1
    rows = [line.split("|") for line in section.splitlines()
            if line.startswith(("| 1 |", "| 3 |", "| 5 |"))]
    assert [(int(row[1]), row[2].strip()) for row in rows] == [
        (1, "yes"), (3, "yes"), (5, "yes"), (1, "no"), (3, "no"), (5, "no")]
    assert all(float(row[4].strip().removesuffix(" s")) > 0 for row in rows)
    assert all(row[6].strip() == "-" for row in rows if row[1].strip() == "5")  # CLI alone
    assert "- aelog diagnose (with verdicts): from 3 to 5 runs" in section
    assert "- /runs first call (without verdicts): from 1 to 3 runs" in section
