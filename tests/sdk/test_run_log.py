"""The in-memory copy of a run reads as the event file would."""

from __future__ import annotations

import numpy as np

from aelog.logfile import format as fmt
from aelog.logfile import run_log
from aelog.logfile.run_data import RunData
from aelog.logfile.run_log import RunLog
from aelog.logfile.runs import load_run


def _same(left: RunData, right: RunData) -> None:
    assert left.signals.keys() == right.signals.keys()
    assert left.layers.keys() == right.layers.keys()
    for name, series in left.signals.items():
        np.testing.assert_array_equal(series.steps, right.signals[name].steps)
        np.testing.assert_array_equal(series.values, right.signals[name].values)
    for layer, signals in left.layers.items():
        for name, series in signals.items():
            np.testing.assert_array_equal(series.steps, right.layers[layer][name].steps)
            np.testing.assert_array_equal(series.values, right.layers[layer][name].values)


def test_run_data_of_rising_steps_is_what_the_parser_builds(tmp_path) -> None:
    log = RunLog(str(tmp_path), "run")
    layer_tag = fmt.layer_tag("enc.0", fmt.LAYER_DEAD_FRACTION)
    for step in (0, 1, 2, 5, 9):
        log.scalars(step, {fmt.scalar_tag(fmt.RELATIVE_ERROR): 1.0 / (step + 1),
                           layer_tag: step / 10, "foreign/tag": 3.0})
    live = log.run_data()
    points = {tag: p.arrays() for tag, p in log._series.items()}
    _same(live, RunData.from_tagged_points("run", points))
    assert "tag" not in live.signals and set(live.layers) == {"enc.0"}
    log.close()


def test_a_step_logged_twice_keeps_its_last_value_in_step_order(tmp_path) -> None:
    log = RunLog(str(tmp_path), "run")
    tag = fmt.scalar_tag(fmt.RELATIVE_ERROR)
    for step, value in ((0, 1.0), (4, 0.5), (8, 0.25), (4, 0.75), (12, 0.1)):
        log.scalars(step, {tag: value})  # a resumed run writes step 4 again
    series = log.run_data().signals[fmt.RELATIVE_ERROR]
    assert series.steps.tolist() == [0, 4, 8, 12]
    assert series.values.tolist() == [1.0, 0.75, 0.25, 0.1]
    log.close()
    on_disk = load_run(str(tmp_path)).signals[fmt.RELATIVE_ERROR]
    assert on_disk.steps.tolist() == [0, 4, 8, 12]


def test_the_in_memory_copy_keeps_every_point_until_it_thins_the_oldest(tmp_path) -> None:
    """Points read between appends, through the growth of its arrays and one thinning."""
    log = RunLog(str(tmp_path), "run")
    tag = fmt.scalar_tag(fmt.RELATIVE_ERROR)
    limit = 2 * run_log.MEMORY_POINTS
    for step in range(limit - 1):
        log.scalars(step, {tag: step / 2})
        if step in (0, 63, 64, 1000):  # a read on the way flushes, the next appends go on
            series = log.run_data().signals[fmt.RELATIVE_ERROR]
            assert series.steps.tolist() == list(range(step + 1))
            assert series.values.tolist() == [s / 2 for s in range(step + 1)]
    log.scalars(limit - 1, {tag: 0.5})  # the point that thins the copy to every other one
    series = log.run_data().signals[fmt.RELATIVE_ERROR]
    assert series.steps.tolist() == list(range(0, limit - 1, 2)) + [limit - 1]
    assert series.values[-1] == 0.5 and series.values[1] == 1.0
    log.scalars(limit, {tag: 0.25})
    assert log.run_data().signals[fmt.RELATIVE_ERROR].steps[-2:].tolist() == [limit - 1, limit]
    log.close()
