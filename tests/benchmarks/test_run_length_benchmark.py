"""The run-length benchmark reads one long run at several lengths, and says from where on
the whole run keeps to the budget."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.overhead import run_length
from benchmarks.overhead.timing import ArmTiming


def test_prefix_lengths_run_one_two_five_from_a_hundred_up_to_the_run():
    assert run_length.prefix_lengths(20_000) == [100, 200, 500, 1_000, 2_000, 5_000, 10_000,
                                                 20_000]
    assert run_length.prefix_lengths(300) == [100, 200, 300]


def test_a_one_off_at_the_start_weighs_less_the_longer_the_run():
    steps = 2_000
    arm = np.full(steps, 0.001)
    arm[:10] = 0.011  # ten logging steps 10 ms over bare
    timing = ArmTiming("aelog", rounds=[arm], logged=set(range(10)))
    bare = ArmTiming("bare", rounds=[np.full(steps, 0.001)])
    ratios = [run_length.prefix_ratio(timing, bare, n) for n in (200, 1_000, 2_000)]
    assert ratios == pytest.approx([1.5, 1.1, 1.05])
    # the steady state is the second half of each length: the one-off is not in it
    assert run_length.steady_ratio(timing, bare, 200) == pytest.approx(1.0)


def _row(steps: int, ratio: float, steady: float = 1.01) -> dict:
    bare_seconds = steps * 0.001
    return {"steps": steps, "aelog": ratio, "noise": 0.002, "bare_seconds": bare_seconds,
            "extra_seconds": (ratio - 1) * bare_seconds, "steady": steady, "logged": 1,
            "peers": {}}


def test_a_run_keeps_within_the_larger_of_two_percent_and_half_a_second():
    assert run_length.within(_row(1_000, 1.40))  # +0.4 s of a 1 s run: under 0.5 s
    assert not run_length.within(_row(1_000, 1.60))
    assert run_length.within(_row(100_000, 1.021))  # 2.1 s of 100 s, noise floor 0.2 s
    assert not run_length.within(_row(100_000, 1.03))


def test_the_verdict_names_the_lengths_over_and_the_steady_state():
    rows = [_row(100, 1.5), _row(1_000, 1.3), _row(100_000, 1.015, steady=1.011)]
    assert run_length.verdict(rows) == (
        "every length from 100 to 100,000 steps within max(2%, 0.5 s) (+0.05 s at 100, "
        "1.015 at 100,000); steady state 1.011 of bare over the second half of 100,000 steps.")
    rows.append(_row(200_000, 1.04))
    assert run_length.verdict(rows).startswith(
        "over max(2%, 0.5 s) at 200,000 (+8.00 s, allowed 4.00 s); steady state 1.010")


def test_runs_end_to_end_and_writes_its_section(tmp_path):
    out = tmp_path / "RESULTS.md"
    out.write_text("# Results\n\n## Someone else's\n\nkept.\n")
    assert run_length.main(["--workloads", "mlp_digits", "--steps", "200", "--write",
                            "--out", str(out)]) == 0
    text = out.read_text()
    assert "## Someone else's\n\nkept." in text
    assert run_length.HEADING in text and "| 200 |" in text and "- mlp_digits: " in text
    assert "SummaryWriter histograms every 100 whole run / bare" in text
    with pytest.raises(SystemExit):
        run_length.main(["--workloads", "nope"])
    with pytest.raises(SystemExit):
        run_length.main(["--steps", "50"])
    with pytest.raises(SystemExit):
        run_length.main(["--arms", "bare,aelog"])
