"""The randomised out-of-sample benchmark: draws are fixed by their seed and fit their
defect, a defect counts only when it showed against its twin, and the scores are the
usual precision and recall."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest

from benchmarks.randomised import __main__ as bench
from benchmarks.randomised.build import make_data, make_model
from benchmarks.randomised.draw import DEFECTS, HEALTHY, OUTSIDE, OUTSIDE_DEFECTS, draw


def test_a_seed_is_a_fixed_scenario_and_seeds_vary():
    assert draw(12345) == draw(12345)
    specs = [draw(seed) for seed in range(300)]
    assert len({(s.family, s.data, s.optimizer) for s in specs}) > 30
    defects = Counter(s.defect for s in specs)
    assert set(defects) == {*DEFECTS, *OUTSIDE_DEFECTS, HEALTHY}
    assert 0.15 < defects[HEALTHY] / len(specs) < 0.35


def test_each_defect_is_drawn_where_it_can_arise():
    for spec in (draw(seed) for seed in range(400)):
        if spec.defect == "posterior_collapse":
            assert spec.vae
        if spec.defect == "dead_relu":
            assert spec.activation == "relu"
        if spec.defect == "saturated_activation":
            assert spec.activation in ("tanh", "sigmoid") and spec.output == "linear"
        if spec.defect == "loss_mismatch":
            assert spec.data in ("lowrank", "sines", "tabular", "images255")
        if spec.defect in OUTSIDE_DEFECTS:
            assert spec.truth == OUTSIDE and spec.data == "tokens" and not spec.vae
            assert spec.family in ("gru", "transformer")
        if spec.vae or spec.family in ("gru", "transformer"):
            assert spec.optimizer in ("adam", "adamw", "rmsprop")
        assert spec.fixed().defect == HEALTHY and spec.fixed().data == spec.data


@pytest.mark.parametrize("seed", range(0, 400, 7))
def test_every_drawn_model_runs_on_its_data(seed):
    spec = dataclasses.replace(draw(seed), steps=1)
    train, held_out = make_data(spec)
    model = make_model(spec, int(train.shape[1]))
    model(train[:4])
    assert len(held_out) > 100


def test_a_defect_counts_only_when_it_showed_against_its_twin():
    spec = dataclasses.replace(draw(0), defect="lr_too_high")
    twin = {"error": 0.2, "spread": 0.8}
    assert bench.manifests(spec, {"error": 1.0, "spread": 0.0}, twin, {})
    assert not bench.manifests(spec, {"error": 0.25, "spread": 0.75}, twin, {})
    # twice the twin's error, but sound: a healthy draw like it must be called healthy
    assert not bench.manifests(spec, {"error": 0.45, "spread": 0.3}, twin, {})
    memorised = dataclasses.replace(spec, defect="under_regularized")
    assert bench.manifests(memorised, {"error": 0.6, "spread": 0.6}, twin, {"error": 0.05})
    assert not bench.manifests(memorised, {"error": 0.6, "spread": 0.6}, twin, {"error": 0.5})


def _outcome(seed: int, defect: str, manifested: bool = True) -> bench.Outcome:
    spec = dataclasses.replace(draw(seed), defect=defect)
    return bench.Outcome(spec, f"run{seed}", None if defect == HEALTHY else f"twin{seed}",
                         manifested, True, "check", 1.0)


def _result(status: str, *causes: str) -> dict:
    return {"status": status, "causes": [{"id": c} for c in causes], "notes": []}


def test_scores_count_top_causes_false_alarms_and_per_cause_precision():
    outcomes = [_outcome(1, "lr_too_high"), _outcome(2, "dead_relu"), _outcome(3, HEALTHY),
                _outcome(4, "init_constant", manifested=False), _outcome(5, "misread_layout")]
    results = {
        "run1": _result("collapsed", "lr_too_high"), "twin1": _result("healthy"),
        "run2": _result("collapsed", "lr_too_high", "dead_relu"),
        "twin2": _result("at_risk", "lr_too_high"), "run3": _result("healthy"),
        "run4": _result("collapsed", "init_constant"), "twin4": _result("healthy"),
        "run5": {**_result("at_risk"), "notes": ["cause not among the 15: the loss ..."]},
        "twin5": _result("healthy"),
    }
    scored = bench.score(outcomes, results)
    summary = bench.summary(scored)
    assert summary == {"defects": 3, "top1": 2, "top2": 3, "healthy": 5, "false_alarms": 1}
    rows = {cause: (hits, predicted, actual) for cause, hits, predicted, actual
            in bench.per_cause(scored)}
    assert rows["lr_too_high"] == (1, 3, 1)  # one right, one a dead_relu run, one a twin
    assert rows["dead_relu"] == (0, 0, 1)
    assert rows[OUTSIDE] == (1, 1, 1)
    text = "\n".join(bench.render_range("tune", range(1, 6), outcomes, scored, 10.0))
    assert "top-1 0.67 (2/3)" in text and "0.20 (1/5)" in text
    assert "| dead_relu |  |" not in text and "Where it went wrong" in text


def test_mild_defects_are_reported_apart_from_every_figure():
    mild = dataclasses.replace(_outcome(6, "saturated_activation", manifested=False), mild=True)
    outcomes = [_outcome(1, "lr_too_high"), mild]
    results = {"run1": _result("collapsed", "lr_too_high"), "twin1": _result("healthy"),
               "run6": _result("healthy"), "twin6": _result("healthy")}
    scored = bench.score(outcomes, results)
    text = "\n".join(bench.render_range("tune", range(1, 7), outcomes, scored, 10.0))
    assert "top-1 1.00 (1/1)" in text and "0.00 (0/2)" in text  # the mild run's twin counts
    assert "mild defects, apart" in text and ": 1; the injected cause named first in 0, the " \
        "run called healthy in 1 (saturated_activation: healthy)" in text
    assert "| saturated_activation |" not in text  # in no precision/recall row


def test_one_scenario_trains_its_twin_and_checks_both(tmp_path):
    spec = dataclasses.replace(draw(3), family="mlp", data="lowrank", defect="lr_too_low",
                               vae=False, optimizer="adam", steps=60, output="linear")
    outcome = bench.run_scenario((spec, str(tmp_path), "salt"))
    assert outcome.twin is not None and "twin err" in outcome.check
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([outcome.run, outcome.twin])
