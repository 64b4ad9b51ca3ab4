"""The coverage benchmark: real runs with the default two lines, their points counted by
tenth, and the verdict of ``aelog diagnose --json`` on how each ended."""

from __future__ import annotations

from benchmarks import coverage


def test_a_run_that_recovers_after_step_100_is_covered_and_healthy(tmp_path, monkeypatch):
    """The schedule and the verdict, whatever the machine's load: a point the books cannot
    pay for in full measures the headline, so coverage does not hang on the clock (the
    cost on an idle machine is `python -m benchmarks.coverage`'s question)."""
    cases = [c for c in coverage.CASES if c.name in ("mlp_300", "mlp_slow_start_600")]
    monkeypatch.setattr(coverage, "CASES", cases)
    results = coverage.measure_coverage(str(tmp_path), echo=lambda _: None)
    assert [r.case.name for r in results] == ["mlp_300", "mlp_slow_start_600"]
    for result in results:
        assert result.final_step == result.case.steps
        assert result.empty_tenths == [] and result.in_last_5_percent
        assert result.status == "healthy" and result.ok, result
    slow = results[1]
    assert slow.spread_at_100 < 0.05 < 0.5 < slow.spread_at_end  # it did look collapsed


def test_empty_tenths_and_a_missing_end_are_reported():
    case = coverage.CASES[0]
    stopped = coverage.Coverage(case, logged=list(range(0, 104, 8)), final_step=None,
                                status="healthy")
    assert stopped.empty_tenths == [4, 5, 6, 7, 8, 9] and not stopped.in_last_5_percent
    assert not stopped.ok
    cost = {"steps": 2000, "bare": [2.0, 2.1], "aelog": [2.4], "bare_median": 2.05,
            "extra": 0.35, "allowed": 0.56, "noise": 0.1}
    text = coverage.render([stopped], cost, {"command": "python -m benchmarks.coverage",
                                             "machine": "m", "date": "d", "seconds": 1.0,
                                             "torch": "t"})
    assert text.startswith(coverage.HEADING)
    assert "| 4, 5, 6, 7, 8, 9 | 33% | NO |" in text and "**+0.35 s**" in text and "within" in text
