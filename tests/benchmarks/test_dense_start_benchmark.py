"""The dense-start report: the cadence's own decision and the cost it decided on."""

from __future__ import annotations

import pytest

from benchmarks.overhead import dense_start


def test_a_small_model_takes_the_dense_start_on_a_measured_cost():
    cheapest, dense, logged = dense_start.decide("mlp_digits", 8)
    assert cheapest is not None and 0 < cheapest < 1
    assert dense is True and logged == list(range(8))


def test_the_report_prints_the_line_and_one_row_per_workload(capsys):
    assert dense_start.main(["--workloads", "mlp_digits", "--steps", "4"]) == 0
    out = capsys.readouterr().out
    assert "line 10 ms" in out and "mlp_digits" in out and "dense start True" in out
    with pytest.raises(SystemExit):
        dense_start.main(["--steps", "2"])
