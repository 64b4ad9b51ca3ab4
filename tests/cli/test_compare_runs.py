"""compare_runs on RunData built from known series: the parting step is where we put it."""

from __future__ import annotations

import numpy as np
import pytest

from aelog.diagnosis.compare import compare_runs
from aelog.logfile import format as fmt
from aelog.logfile.run_data import RunData, Series


def _run(name: str, relative_error, steps=None, config=None, tags=None) -> RunData:
    steps = list(range(0, 10 * len(relative_error), 10)) if steps is None else steps
    run = RunData(name, {"config": config or {}, "tags": tags or {}})
    run.signals[fmt.RELATIVE_ERROR] = Series.from_points(steps, relative_error)
    return run


def test_identical_runs_do_not_part():
    a = _run("a", [1.0, 0.8, 0.6, 0.4], config={"lr": 0.1})
    b = _run("b", [1.0, 0.8, 0.6, 0.4], config={"lr": 0.1})
    result = compare_runs(a, b)
    assert result["runs"] == ["a", "b"]
    assert result["config_differences"] == []
    assert result["signals_part_at_step"] is None
    assert result["diverging_signals"] == []
    assert result["compared_signals"] == [fmt.RELATIVE_ERROR]


def test_config_and_tag_differences_including_one_sided_keys():
    a = _run("a", [1.0] * 4, config={"lr": 0.001, "init": "default"}, tags={"team": "vision"})
    b = _run("b", [1.0] * 4, config={"lr": 0.1, "dropout": 0.5}, tags={"team": "speech"})
    differences = compare_runs(a, b)["config_differences"]
    assert {"key": "lr", "a": 0.001, "b": 0.1} in differences
    assert {"key": "init", "a": "default", "b": None} in differences
    assert {"key": "dropout", "a": None, "b": 0.5} in differences
    assert {"key": "tags.team", "a": "vision", "b": "speech"} in differences
    assert len(differences) == 4


def test_parting_step_is_the_first_lasting_difference():
    healthy = [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]
    # a one-batch spike at step 20 is noise; the lasting split starts at step 50
    collapsed = [1.0, 0.9, 1.5, 0.7, 0.6, 1.0, 1.0, 1.0, 1.0, 1.0]
    result = compare_runs(_run("a", healthy), _run("b", collapsed))
    assert result["signals_part_at_step"] == 50
    (parting,) = result["diverging_signals"]
    assert parting == {"signal": fmt.RELATIVE_ERROR, "step": 50, "a": 0.5, "b": 1.0}


def test_non_finite_values_part_from_finite_ones():
    a = _run("a", [1.0, 0.8, 0.6, 0.5, 0.4])
    b = _run("b", [1.0, 0.8, float("nan"), float("inf"), float("nan")])
    result = compare_runs(a, b)
    assert result["signals_part_at_step"] == 20
    assert result["diverging_signals"][0]["b"] is None


def test_runs_logged_on_different_schedules_are_interpolated():
    steps_a = list(range(0, 200, 10))
    steps_b = list(range(3, 200, 7))
    a = _run("a", [0.5] * len(steps_a), steps=steps_a)
    b_values = np.where(np.asarray(steps_b) >= 101, 1.0, 0.5)
    b = _run("b", b_values.tolist(), steps=steps_b)
    result = compare_runs(a, b)
    # a is the sparser run: its steps are compared, b interpolated; at step 100 b reads
    # 0.5 + 6/7 * 0.5 = 0.93 (between its steps 94 and 101), already beyond tolerance
    assert result["signals_part_at_step"] == 100
    assert result["diverging_signals"][0]["b"] == pytest.approx(0.5 + 0.5 * 6 / 7)


def test_signals_only_one_run_logged_are_not_compared():
    a = _run("a", [1.0, 0.5, 0.2])
    b = _run("b", [1.0, 0.5, 0.2])
    b.signals[fmt.KL_PER_DIM] = Series.from_points([0, 10, 20], [0.0, 0.0, 0.0])
    assert compare_runs(a, b)["compared_signals"] == [fmt.RELATIVE_ERROR]
