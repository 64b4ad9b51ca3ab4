"""The quick subset of the scenario suite, trained for real with aelog.watch and diagnosed
through the ``aelog diagnose --json`` command: each defect must manifest (checked without
the engine) and be named first; healthy runs must get no cause, not even while training."""

from __future__ import annotations

import pytest

from benchmarks.diagnosis import run_suite
from benchmarks.scenarios import quick_scenarios


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    return run_suite(quick_scenarios(), str(tmp_path_factory.mktemp("runs")), echo=lambda _: None)


def test_quick_subset_covers_defects_and_healthy_runs():
    causes = {s.cause for s in quick_scenarios()}
    assert None in causes and len(causes) >= 10


def test_every_injected_defect_manifests(outcomes):
    failed = [(o.scenario.name, o.manifest.detail) for o in outcomes if not o.manifest.ok]
    assert not failed


def test_injected_cause_is_ranked_first(outcomes):
    wrong = [(o.scenario.name, o.ranked) for o in outcomes if o.scenario.cause and not o.top1]
    assert not wrong


def test_healthy_runs_raise_no_alarm_at_any_step(outcomes):
    alarms = [(o.scenario.name, o.status, o.ranked, o.flagged_step)
              for o in outcomes if o.scenario.cause is None
              and (o.false_alarm or o.flagged_step is not None)]
    assert not alarms


def test_defects_are_flagged_early(outcomes):
    late = [(o.scenario.name, o.flagged_step, o.manifest.step) for o in outcomes
            if o.scenario.cause and not o.flagged_by(0.1)]
    assert not late
