"""The engine's shared helpers give the numbers numpy's general functions give."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aelog.diagnosis import measures as m
from aelog.logfile.run_data import Series


@pytest.mark.parametrize("size", [1, 2, 3, 4, 7, 10, 31, 64, 257])
def test_middle_is_numpys_median_to_the_bit(size: int) -> None:
    rng = np.random.default_rng(size)
    for scale in (1e-30, 1.0, 1e12):
        values = rng.standard_normal(size) * scale
        assert m.middle(values) == float(np.median(values))
        ties = np.round(values / scale, 1)  # repeated values
        assert m.middle(ties) == float(np.median(ties))


def test_middle_keeps_numpys_answers_for_infinities_and_nan() -> None:
    assert m.middle(np.array([1.0, math.inf])) == math.inf
    assert math.isnan(m.middle(np.array([-math.inf, math.inf])))
    assert math.isnan(m.middle(np.array([1.0, math.nan, 3.0])))
    assert m.middle(np.array([3, 1, 2])) == 2.0  # integers, as floats
    with pytest.raises(ValueError, match="no values"):
        m.middle(np.array([]))


def test_median_of_a_series_skips_non_finite_points() -> None:
    series = Series(np.arange(5), np.array([1.0, math.nan, 5.0, math.inf, 2.0]))
    assert m.median(series) == 2.0
    assert m.median(Series(np.arange(1), np.array([math.nan]))) is None
    assert m.median(None) is None
