"""The instruction-count benchmark: its measured loop runs for every arm, and its table
says what it measured. (valgrind itself runs in the benchmark, not in the test suite.)"""

from __future__ import annotations

import gc

import pytest

from benchmarks.overhead import instructions


@pytest.mark.parametrize("arm", instructions.ARMS)
def test_the_measured_loop_runs_for_every_arm(arm):
    instructions.child(arm, 3)
    assert gc.isenabled() and gc.get_freeze_count() == 0  # left as it found it


def test_the_table_shows_each_arm_against_bare():
    text = instructions.render(
        {"bare": 5_000_000.0, "noop_hooks": 5_004_000.0, "aelog": 5_010_000.0}, 500, 12.0,
        "a test machine", instructions.LABELS, "python -m benchmarks.overhead.instructions")
    assert text.startswith(instructions.HEADING)
    assert "| aelog.watch, steps that do not log | 5.010 M | +10.0 k | +0.20% |" in text
    assert "| bare loop | 5.000 M | +0.0 k | +0.00% |" in text

