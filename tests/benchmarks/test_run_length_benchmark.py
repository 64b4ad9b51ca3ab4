"""The run-length benchmark reads one long run at several lengths, and says from where on
the whole run keeps to the budget."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.overhead import run_length
from benchmarks.overhead.timing import ArmTiming


def test_prefix_lengths_run_one_two_five_up_to_the_run():
    assert run_length.prefix_lengths(20_000) == [200, 500, 1_000, 2_000, 5_000, 10_000,
                                                 20_000]
    assert run_length.prefix_lengths(300) == [200, 300]


def test_a_one_off_at_the_start_weighs_less_the_longer_the_run():
    steps = 2_000
    arm = np.full(steps, 0.001)
    arm[:10] = 0.011  # ten logging steps 10 ms over bare
    timing = ArmTiming("aelog", rounds=[arm], logged=set(range(10)))
    bare = ArmTiming("bare", rounds=[np.full(steps, 0.001)])
    ratios = [run_length.prefix_ratio(timing, bare, n) for n in (200, 1_000, 2_000)]
    assert ratios == pytest.approx([1.5, 1.1, 1.05])


def _row(steps: int, ratio: float) -> dict:
    return {"steps": steps, "aelog": ratio, "noise": 0.002, "bare_seconds": steps * 0.001,
            "logged": 1}


def test_the_verdict_names_the_length_from_which_every_longer_run_kept_to_the_budget():
    rows = [_row(200, 1.30), _row(500, 1.019), _row(1_000, 1.03), _row(2_000, 1.021),
            _row(5_000, 1.012)]
    line = run_length.verdict(rows)
    assert line.startswith("whole run within 2% of the bare loop from 2,000 steps")
    assert "shorter runs pay the dense start on top (200 steps: 1.300)" in line
    assert run_length.verdict([_row(200, 1.3), _row(500, 1.01)]) == (
        "whole run within 2% of the bare loop from 500 steps (0 s of bare training) on: "
        "1.010 there; shorter runs pay the dense start on top (200 steps: 1.300).")
    assert run_length.verdict([_row(200, 1.3), _row(500, 1.1)]).startswith(
        "over the budget at every length measured, up to 500 steps (1.100")


def test_runs_end_to_end_and_writes_its_section(tmp_path):
    out = tmp_path / "RESULTS.md"
    out.write_text("# Results\n\n## Someone else's\n\nkept.\n")
    assert run_length.main(["--workloads", "mlp_digits", "--steps", "200", "--write",
                            "--out", str(out)]) == 0
    text = out.read_text()
    assert "## Someone else's\n\nkept." in text
    assert run_length.HEADING in text and "| 200 |" in text and "- mlp_digits: " in text
    with pytest.raises(SystemExit):
        run_length.main(["--workloads", "nope"])
    with pytest.raises(SystemExit):
        run_length.main(["--steps", "100"])
