"""The engine's status, its honesty about missing data, speed, and the JSON contract."""

from __future__ import annotations

import json

import numpy as np

from aelog.diagnosis.api import diagnose, diagnoses_to_json
from aelog.diagnosis.engine import diagnose_run
from aelog.diagnosis.types import AT_RISK, CAUSE_IDS, COLLAPSED, HEALTHY
from aelog.logfile import format as fmt
from aelog.logfile.event_writer import EventWriter
from aelog.logfile.run_data import RunData

from .runs import build, curve, healthy_layers, healthy_metadata, healthy_run, healthy_signals


def test_empty_run_degrades_to_not_enough_data():
    diagnosis = diagnose_run(RunData("empty"))
    assert diagnosis.status == HEALTHY and diagnosis.causes == []
    assert any("not enough data" in n for n in diagnosis.notes)


def test_two_points_are_not_a_verdict():
    steps = np.array([0, 1])
    run = build({fmt.OUTPUT_VARIANCE_RATIO: np.zeros(2)}, steps=steps)
    assert any("2 logged step" in n for n in diagnose_run(run).notes)


def test_missing_signals_and_metadata_never_crash():
    steps = np.arange(0, 300, 5)
    run = build({fmt.OUTPUT_VARIANCE_RATIO: np.full(len(steps), 0.01),
                 fmt.RELATIVE_ERROR: np.full(len(steps), np.nan)}, metadata={}, steps=steps)
    diagnosis = diagnose_run(run)
    assert diagnosis.status == COLLAPSED
    assert any("not checked" in n for n in diagnosis.notes)
    weird = build({fmt.LAYER_DEAD_FRACTION: np.ones(len(steps))}, steps=steps,
                  metadata={"config": "oops", "model": {"layers": [None, 3]}})
    diagnose_run(weird)


def test_newer_format_is_read_with_a_note():
    meta = healthy_metadata()
    meta["format_version"] = fmt.FORMAT_VERSION + 1
    run = build(healthy_signals(), healthy_layers(), meta)
    assert any("newer aelog" in n for n in diagnose_run(run).notes)


def test_collapse_is_dated_from_when_it_persists_not_from_step_zero():
    signals = healthy_signals()
    steps = np.arange(0, 400, 10)
    signals[fmt.OUTPUT_VARIANCE_RATIO] = np.where(steps < 200, curve(0.02, 0.8), 0.01)
    signals[fmt.RELATIVE_ERROR] = np.where(steps < 200, curve(1.0, 0.2), 1.0)
    diagnosis = diagnose_run(build(signals, healthy_layers()))
    assert diagnosis.status == COLLAPSED and diagnosis.since_step == 200
    assert "1%" in diagnosis.symptom[0] and "since step 200" in diagnosis.symptom[0]


def test_a_fresh_healthy_run_is_not_flagged_while_its_outputs_grow():
    run = healthy_run()
    for end in (20, 40, 60, 100, 200, 400):
        prefix = RunData(run.name, run.metadata,
                         {k: s.since(0) for k, s in run.signals.items()}, run.layers)
        prefix.signals = {k: type(s)(s.steps[s.steps < end], s.values[s.steps < end])
                          for k, s in run.signals.items()}
        prefix.layers = {n: {k: type(s)(s.steps[s.steps < end], s.values[s.steps < end])
                             for k, s in d.items()} for n, d in run.layers.items()}
        assert diagnose_run(prefix).status == HEALTHY, end


def test_outputs_at_the_mean_early_without_a_cause_are_not_flagged_yet():
    steps = np.arange(0, 60, 2)
    signals = {fmt.OUTPUT_VARIANCE_RATIO: np.full(len(steps), 0.01),
               fmt.RELATIVE_ERROR: np.full(len(steps), 1.0)}
    early = diagnose_run(build(signals, metadata={}, steps=steps))
    assert early.status == HEALTHY and any("no cause in sight" in n for n in early.notes)
    steps = np.arange(0, 200, 2)
    signals = {k: np.resize(v, len(steps)) for k, v in signals.items()}
    assert diagnose_run(build(signals, metadata={}, steps=steps)).status == COLLAPSED


def _closed(run: RunData, steps: int) -> RunData:
    run.records.append({"step": steps, "kind": fmt.CLOSED_RECORD, "steps": steps,
                        "logging_steps": steps, "logging_overhead": 0.01})
    return run


def test_a_run_that_ended_too_short_to_judge_is_not_healthy():
    steps = np.arange(0, 20)
    signals = {fmt.OUTPUT_VARIANCE_RATIO: np.full(len(steps), 0.0013),
               fmt.RELATIVE_ERROR: np.full(len(steps), 3.4)}
    live = diagnose_run(build(signals, metadata={}, steps=steps))
    assert live.status == HEALTHY  # still training: early, not judged yet
    ended = diagnose_run(_closed(build(signals, metadata={}, steps=steps), 20))
    assert ended.status == AT_RISK
    assert any(n.startswith("too short to judge: the run ended after 20 steps")
               for n in ended.notes)
    two = _closed(build({fmt.OUTPUT_VARIANCE_RATIO: np.zeros(2)}, steps=np.array([0, 1])), 2)
    verdict = diagnose_run(two)
    assert verdict.status == AT_RISK and any("too short to judge" in n for n in verdict.notes)


def test_a_short_run_that_ended_healthy_stays_healthy():
    run = healthy_run()
    cut = RunData(run.name, run.metadata,
                  {k: type(s)(s.steps[s.steps <= 30], s.values[s.steps <= 30])
                   for k, s in run.signals.items()}, {})
    assert diagnose_run(_closed(cut, 30)).status == HEALTHY


def test_cause_without_symptom_is_at_risk():
    signals = healthy_signals()
    signals[fmt.RELATIVE_ERROR] = curve(1.0, 0.02)
    signals[fmt.VAL_RELATIVE_ERROR] = curve(1.0, 0.3)
    diagnosis = diagnose_run(build(signals, healthy_layers()))
    assert diagnosis.status == AT_RISK and diagnosis.causes


def test_deterministic_on_a_long_run():
    # Speed is measured by benchmarks/scale.py, not asserted here (shared, noisy machines).
    steps = np.arange(0, 5000)
    signals = {name: np.resize(values, len(steps)) for name, values in healthy_signals().items()}
    layers = {n: {k: np.resize(v, len(steps)) for k, v in d.items()}
              for n, d in healthy_layers().items()}
    run = build(signals, layers, steps=steps)
    first = diagnose_run(run).to_json()
    assert diagnose_run(run).to_json() == first


def test_diagnose_reads_event_files_and_json_keeps_the_contract(tmp_path):
    signals = healthy_signals()
    signals[fmt.NONFINITE_GRAD_FRACTION] = (np.arange(0, 400, 10) >= 100).astype(float)
    signals[fmt.NONFINITE_OUTPUT_FRACTION] = signals[fmt.NONFINITE_GRAD_FRACTION]
    for name, values in (("good", healthy_signals()), ("nan", signals)):
        writer = EventWriter(str(tmp_path / name))
        writer.write_metadata(healthy_metadata())
        for index, step in enumerate(range(0, 400, 10)):
            scalars = {fmt.scalar_tag(k): float(v[index]) for k, v in values.items()}
            for layer, series in healthy_layers().items():
                scalars.update({fmt.layer_tag(layer, k): float(v[index])
                                for k, v in series.items()})
            writer.write_scalars(step, scalars)
        writer.close()
    payload = json.loads(json.dumps(diagnoses_to_json(diagnose(str(tmp_path)))))
    runs = {r["run"]: r for r in payload["runs"]}
    assert runs["good"]["status"] == "healthy" and runs["good"]["causes"] == []
    bad = runs["nan"]
    assert bad["status"] == "collapsed"
    cause = bad["causes"][0]
    assert set(cause) == {"id", "confidence", "since_step", "evidence", "fix"}
    assert cause["id"] in CAUSE_IDS and 0 <= cause["confidence"] <= 1
    assert cause["id"] == "lr_too_high" and cause["since_step"] == 100


def _trajectory(spread: np.ndarray, error: np.ndarray, steps: np.ndarray):
    signals = healthy_signals(steps)
    signals[fmt.OUTPUT_VARIANCE_RATIO] = spread
    signals[fmt.RELATIVE_ERROR] = error
    return diagnose_run(build(signals, healthy_layers(steps), healthy_metadata(), steps=steps))


def test_a_run_that_looked_collapsed_at_step_100_and_recovered_is_healthy():
    """The user's report: 2.4% of the variance at step 104, 71% at the end of 600 steps."""
    steps = np.array([*range(20), *range(22, 40, 2), *range(40, 100, 4),
                      *(int(100 * 1.1**i) for i in range(19))])
    recovering = steps >= 150
    spread = np.where(recovering, np.minimum(0.71, 0.02 + (steps - 150) / 300), 0.02)
    error = np.where(recovering, np.maximum(0.3, 1.0 - (steps - 150) / 400), 0.99)
    diagnosis = _trajectory(spread, error, steps)
    assert diagnosis.status == HEALTHY and diagnosis.causes == []
    assert diagnosis.since_step is None


def test_a_collapse_after_a_recovery_is_dated_from_its_own_start():
    steps = np.arange(0, 800, 10)
    collapsed = (steps < 300) | (steps >= 400)  # recovered for ten logged points between
    spread = np.where(collapsed, 0.01, 0.6)
    error = np.where(collapsed, 1.0, 0.3)
    diagnosis = _trajectory(spread, error, steps)
    assert diagnosis.status == COLLAPSED
    assert diagnosis.since_step == 400  # not 0, where 87% of the points since hold


def test_a_verdict_says_when_it_is_not_about_the_end_of_the_run():
    steps = np.arange(0, 105, 5)
    closed = {"kind": fmt.CLOSED_RECORD, "steps": 800, "logging_steps": 21,
              "logging_overhead": 0.05}
    old = build(healthy_signals(steps), healthy_layers(steps), healthy_metadata(),
                steps=steps)
    old.records.append(closed)
    (note,) = [n for n in diagnose_run(old).notes if "last measured" in n]
    assert note.startswith("the run trained 800 steps but was last measured at step 100")
    old.records[-1] = {**closed, "steps": 100, "final_step": 100}
    assert not [n for n in diagnose_run(old).notes if "last measured" in n]


def _collapsed_without_a_cause(**extra: np.ndarray) -> RunData:
    steps = np.arange(0, 300, 5)
    signals = healthy_signals(steps)
    signals[fmt.OUTPUT_VARIANCE_RATIO] = np.full(len(steps), 0.01)
    signals[fmt.RELATIVE_ERROR] = np.full(len(steps), 1.0)
    signals.update({k: np.resize(v, len(steps)) for k, v in extra.items()})
    return build(signals, healthy_layers(steps), healthy_metadata(), steps)


def test_a_collapse_no_cause_explains_says_what_was_ruled_out_and_what_to_check():
    diagnosis = diagnose_run(_collapsed_without_a_cause())
    assert diagnosis.status == COLLAPSED and diagnosis.causes == []
    (note,) = [n for n in diagnosis.notes if n.startswith("cause not among the 15")]
    assert "as far as measured" in note and "ruled out on their signals: " in note
    assert "lr_too_high" in note and "dead_relu" in note
    assert "Check next: how the loss reads the output" in note


def test_a_loss_that_does_not_compare_output_and_target_is_named():
    misread = diagnose_run(_collapsed_without_a_cause(
        **{fmt.LOSS_GRADIENT_ALIGNMENT: np.array([0.02, -0.01, 0.03])}))
    (note,) = [n for n in misread.notes if n.startswith("cause not among the 15")]
    assert note.startswith("cause not among the 15: the loss does not compare the output")
    assert "cosine 0.01" in note or "cosine 0.02" in note
    # a loss whose gradient went NaN says nothing about what it compares
    diverged = diagnose_run(_collapsed_without_a_cause(
        **{fmt.LOSS_GRADIENT_ALIGNMENT: np.array([0.02, np.nan, np.nan])}))
    assert not any("does not compare" in n for n in diverged.notes)
    aligned = diagnose_run(_collapsed_without_a_cause(
        **{fmt.LOSS_GRADIENT_ALIGNMENT: np.array([0.99, 1.0, 1.0])}))
    assert not any("does not compare" in n for n in aligned.notes)


def test_a_misread_loss_is_named_on_a_thinned_schedule():
    # a costly model on a loaded machine: one point in the run's last quarter
    steps = np.array([0, 1, 2, 100, 140, 196, 274])
    signals = healthy_signals(steps)
    signals[fmt.OUTPUT_VARIANCE_RATIO] = np.full(len(steps), 0.01)
    signals[fmt.RELATIVE_ERROR] = np.full(len(steps), 1.0)
    signals[fmt.LOSS_GRADIENT_ALIGNMENT] = np.array([0.01, 0.0, 0.02, -0.01, 0.03, 0.0, 0.01])
    diagnosis = diagnose_run(build(signals, healthy_layers(steps), healthy_metadata(), steps))
    (note,) = [n for n in diagnosis.notes if n.startswith("cause not among the 15")]
    assert note.startswith("cause not among the 15: the loss does not compare the output")


def test_a_collapse_whose_strongest_cause_fell_short_names_it_and_its_fix_first():
    steps = np.arange(0, 300, 5)
    run = _collapsed_without_a_cause(**{fmt.REGULARIZATION_PULL: np.full(len(steps), 0.6)})
    diagnosis = diagnose_run(run)
    assert diagnosis.causes == []  # the pull alone (0.6x the loss gradient) is too weak
    (note,) = [n for n in diagnosis.notes if n.startswith("cause uncertain")]
    assert "the strongest, over_regularized, reached only" in note
    assert "Check first: " in note and "; then how the loss reads the output" in note


def test_a_slow_fall_leaves_a_run_at_risk_and_a_steep_one_is_still_learning():
    """Outputs keeping 7% of the variance with an error creeping from 0.86 to 0.79 over
    the second half are at risk; the same spread with the error halving is a run on its
    way out of a slow start."""
    slow = healthy_signals()
    slow[fmt.OUTPUT_VARIANCE_RATIO] = np.full(len(slow[fmt.RELATIVE_ERROR]), 0.07)
    slow[fmt.RELATIVE_ERROR] = np.linspace(0.93, 0.79, len(slow[fmt.RELATIVE_ERROR]))
    diagnosis = diagnose_run(build(slow, healthy_layers()))
    assert diagnosis.status == AT_RISK, diagnosis.to_json()
    assert any("still falling" in n for n in diagnosis.notes)
    steep = dict(slow)
    steep[fmt.RELATIVE_ERROR] = np.linspace(0.95, 0.5, len(slow[fmt.RELATIVE_ERROR]))
    assert diagnose_run(build(steep, healthy_layers())).status == HEALTHY


def test_a_run_whose_outputs_were_never_measured_says_so():
    """The output probe off (an output it could not read): no healthy-looking silence."""
    from aelog.diagnosis.symptom import NOT_MEASURED

    signals = healthy_signals()
    for unmeasured in (fmt.OUTPUT_VARIANCE_RATIO, fmt.RELATIVE_ERROR):
        del signals[unmeasured]
    diagnosis = diagnose_run(build(signals, healthy_layers()))
    assert NOT_MEASURED in diagnosis.notes and diagnosis.symptom == []
    assert NOT_MEASURED not in diagnose_run(healthy_run()).notes
