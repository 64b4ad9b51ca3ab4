"""Each cause on a run that follows its mechanism, and silent on the healthy run."""

from __future__ import annotations

import numpy as np
import pytest

from aelog.diagnosis.causes import all_causes
from aelog.diagnosis.engine import diagnose_run
from aelog.diagnosis.types import CAUSE_IDS, COLLAPSED, HEALTHY
from aelog.logfile import format as fmt

from .runs import (
    STEPS,
    build,
    curve,
    healthy_layers,
    healthy_metadata,
    healthy_run,
    healthy_signals,
)

N = len(STEPS)


def ranked(run) -> list[str]:
    return [c.id for c in diagnose_run(run).causes]


def test_every_cause_id_has_one_module():
    assert sorted(c.id for c in all_causes()) == sorted(CAUSE_IDS)


def test_healthy_run_has_no_cause():
    diagnosis = diagnose_run(healthy_run())
    assert diagnosis.status == HEALTHY, diagnosis.to_json()
    assert diagnosis.causes == []


@pytest.mark.parametrize("cause", all_causes(), ids=lambda c: c.id)
def test_no_cause_fires_on_the_healthy_run(cause):
    assert cause.assess(healthy_run()) is None or cause.assess(healthy_run()).confidence < 0.3


def _collapsed_signals() -> dict:
    signals = healthy_signals()
    signals[fmt.OUTPUT_VARIANCE_RATIO] = np.full(N, 0.002)
    signals[fmt.RELATIVE_ERROR] = np.full(N, 1.0)
    signals[fmt.VAL_RELATIVE_ERROR] = np.full(N, 1.0)
    signals[fmt.IDENTITY_RATIO] = np.full(N, 1.0)
    return signals


def test_init_constant_from_identical_rows():
    meta = healthy_metadata()
    for layer in meta["model"]["layers"]:
        layer["identical_rows_fraction"] = 1.0
        layer["weight_std_over_default"] = 0.0
    signals = _collapsed_signals()
    signals[fmt.CODE_EFFECTIVE_RANK] = np.full(N, 1.0)
    signals[fmt.CODE_UNIT_SIMILARITY] = np.full(N, 1.0)
    signals[fmt.CODE_IDENTICAL_FRACTION] = np.full(N, 1.0)
    layers = healthy_layers()
    for name in ("encoder.0", "encoder.2", "decoder.0", "decoder.2"):
        layers[name][fmt.LAYER_UNIT_SIMILARITY] = np.full(N, 1.0)
    diagnosis = diagnose_run(build(signals, layers, meta))
    assert diagnosis.status == COLLAPSED
    top = diagnosis.causes[0]
    assert top.id == "init_constant" and top.confidence > 0.8
    assert any("all the weight rows identical" in e for e in top.evidence)
    assert any("bottleneck units" in e for e in top.evidence)
    assert "init_too_small" not in [c.id for c in diagnosis.causes]  # std 0 says nothing of scale


def test_init_constant_fades_when_symmetry_broke():
    meta = healthy_metadata()
    meta["model"]["layers"][0]["identical_rows_fraction"] = 1.0
    assert "init_constant" not in ranked(build(healthy_signals(), healthy_layers(), meta))


def test_init_too_small_ranks_above_the_dead_relus_it_causes():
    meta = healthy_metadata()
    for layer in meta["model"]["layers"]:
        layer["weight_std_over_default"] = 0.01
    layers = healthy_layers()
    layers["encoder.1"][fmt.LAYER_DEAD_FRACTION] = np.full(N, 0.5)
    layers["decoder.1"][fmt.LAYER_DEAD_FRACTION] = np.full(N, 0.85)
    signals = _collapsed_signals()
    signals[fmt.UPDATE_RATIO] = np.full(N, 1e-6)
    causes = ranked(build(signals, layers, meta))
    assert causes[0] == "init_too_small"
    assert "dead_relu" in causes and "lr_too_low" not in causes[:1]


def test_init_too_large_with_saturation():
    meta = healthy_metadata()
    meta["model"]["activations"] = [{"name": "encoder.1", "type": "Tanh"}]
    for layer in meta["model"]["layers"]:
        layer["weight_std_over_default"] = 8.0
    layers = healthy_layers()
    layers["encoder.1"][fmt.LAYER_SATURATED_FRACTION] = np.full(N, 0.9)
    signals = healthy_signals()
    signals[fmt.RELATIVE_ERROR] = np.full(N, 0.8)
    signals[fmt.OUTPUT_VARIANCE_RATIO] = np.full(N, 0.4)
    causes = ranked(build(signals, layers, meta))
    assert causes[:2] == ["init_too_large", "saturated_activation"]


def test_lr_too_high_on_nonfinite_gradients():
    signals = healthy_signals()
    signals[fmt.NONFINITE_GRAD_FRACTION] = (STEPS >= 50).astype(float)
    signals[fmt.NONFINITE_OUTPUT_FRACTION] = (STEPS >= 60).astype(float)
    diagnosis = diagnose_run(build(signals, healthy_layers()))
    assert diagnosis.status == COLLAPSED and diagnosis.since_step == 60
    assert diagnosis.causes[0].id == "lr_too_high"
    assert diagnosis.causes[0].since_step == 50


def test_lr_too_high_on_a_jumping_error():
    signals = healthy_signals()
    signals[fmt.RELATIVE_ERROR] = np.where(STEPS < 30, 1.0, 40.0) * (1 + 0.5 * (STEPS % 20 == 0))
    signals[fmt.UPDATE_RATIO] = np.full(N, 0.3)
    assert ranked(build(signals, healthy_layers()))[0] == "lr_too_high"


def test_an_error_jump_over_steps_of_a_millionth_is_not_the_step_size():
    """A VAE on 0..255 data at lr 3e-7: its error jumps tenfold at one logged step (the
    batch, the sampling), while the steps moved the weights by 1e-6 each: lr_too_low."""
    signals = healthy_signals()
    signals[fmt.RELATIVE_ERROR] = np.where(STEPS == 120, 38.0, 3.4)
    signals[fmt.OUTPUT_VARIANCE_RATIO] = np.full(N, 0.02)
    signals[fmt.UPDATE_RATIO] = np.full(N, 1.1e-6)
    causes = ranked(build(signals, healthy_layers(), healthy_metadata(lr=3e-7)))
    assert causes[:1] == ["lr_too_low"] and "lr_too_high" not in causes


def test_lr_too_low_when_weights_barely_move():
    signals = healthy_signals()
    signals[fmt.UPDATE_RATIO] = np.full(N, 1e-6)
    signals[fmt.RELATIVE_ERROR] = np.full(N, 1.02)
    signals[fmt.OUTPUT_VARIANCE_RATIO] = np.full(N, 0.08)
    diagnosis = diagnose_run(build(signals, healthy_layers()))
    assert diagnosis.causes[0].id == "lr_too_low"
    assert "lr=0.01" in diagnosis.causes[0].fix


def test_weights_stuck_by_steps_too_small_to_register_point_at_the_lr():
    # lr 1e-6: updates below float32's resolution round away, so a third of the weights
    # read as unchanged between logging steps though nothing is frozen on purpose
    signals = healthy_signals()
    signals[fmt.UPDATE_RATIO] = np.full(N, 8e-8)
    signals[fmt.RELATIVE_ERROR] = np.full(N, 1.1)
    signals[fmt.OUTPUT_VARIANCE_RATIO] = np.full(N, 0.05)
    signals[fmt.FROZEN_FRACTION] = np.full(N, 0.32)
    diagnosis = diagnose_run(build(signals, healthy_layers()))
    ids = [c.id for c in diagnosis.causes]
    assert ids[:2] == ["lr_too_low", "frozen_parameters"]
    assert "likely a consequence of lr_too_low" in diagnosis.causes[1].evidence


def test_over_regularized_when_decay_dominates():
    meta = healthy_metadata(weight_decay=1.0)
    signals = healthy_signals()
    signals[fmt.REGULARIZATION_PULL] = np.full(N, 4.0)
    signals[fmt.WEIGHT_NORM] = curve(8.0, 0.5)
    signals[fmt.OUTPUT_VARIANCE_RATIO] = curve(0.3, 0.01)
    signals[fmt.RELATIVE_ERROR] = curve(0.6, 0.99)
    diagnosis = diagnose_run(build(signals, healthy_layers(), meta))
    assert diagnosis.causes[0].id == "over_regularized"
    assert "weight_decay=0.01" in diagnosis.causes[0].fix


def test_over_regularized_where_decay_and_loss_balance():
    """AdamW with weight_decay 5.6: the weights shrank to a third and stopped where the
    decay pulls as hard as the loss (0.9x), outputs at the mean. At that balance the pull
    is as strong as the evidence gets."""
    meta = healthy_metadata(weight_decay=5.6)
    signals = _collapsed_signals()
    signals[fmt.REGULARIZATION_PULL] = np.full(N, 0.9)
    signals[fmt.WEIGHT_NORM] = curve(10.7, 3.85)
    top = diagnose_run(build(signals, healthy_layers(), meta)).causes[0]
    assert top.id == "over_regularized" and top.confidence >= 0.5, top


def test_under_regularized_on_a_train_validation_gap():
    signals = healthy_signals()
    signals[fmt.RELATIVE_ERROR] = curve(1.0, 0.02)
    signals[fmt.VAL_RELATIVE_ERROR] = curve(1.0, 0.2) + 0.001 * STEPS
    assert ranked(build(signals, healthy_layers()))[0] == "under_regularized"


def test_loss_mismatch_sigmoid_on_standardised_targets():
    meta = healthy_metadata(output_activation="Sigmoid")
    signals = healthy_signals()
    signals[fmt.TARGET_MIN] = np.full(N, -2.5)
    signals[fmt.TARGET_MAX] = np.full(N, 2.5)
    signals[fmt.OUTPUT_MIN] = np.full(N, 0.0)
    signals[fmt.OUTPUT_MAX] = np.full(N, 1.0)
    signals[fmt.RELATIVE_ERROR] = np.full(N, 0.7)
    top = diagnose_run(build(signals, healthy_layers(), meta)).causes[0]
    assert top.id == "loss_mismatch" and "Sigmoid" in top.evidence[0]


def test_dead_relu_in_the_bottleneck():
    layers = healthy_layers()
    layers["encoder.1"][fmt.LAYER_DEAD_FRACTION] = np.where(STEPS < 100, 0.1, 1.0)
    signals = _collapsed_signals()
    signals[fmt.CODE_DEAD_FRACTION] = np.full(N, 1.0)
    top = diagnose_run(build(signals, layers)).causes[0]
    assert top.id == "dead_relu" and top.since_step == 100


@pytest.mark.parametrize("units, named", [(128, False), (12, True)])
def test_dead_relus_weigh_by_what_the_live_ones_leave_of_the_layer(units, named):
    # a sound run short of its bound (error 0.5, outputs keeping 50%): 74% of a ReLU layer
    # dead. 33 of 128 units alive still pass an 8-dim code four times over; 3 of 12 do not.
    meta = healthy_metadata()
    meta["model"]["activations"][0]["units"] = units
    layers = healthy_layers()
    layers["encoder.1"][fmt.LAYER_DEAD_FRACTION] = np.where(STEPS < 20, 0.3, 0.74)
    signals = healthy_signals()
    signals[fmt.RELATIVE_ERROR] = np.full(N, 0.5)
    signals[fmt.OUTPUT_VARIANCE_RATIO] = np.full(N, 0.5)
    diagnosis = diagnose_run(build(signals, layers, meta))
    assert ("dead_relu" in [c.id for c in diagnosis.causes]) is named
    assert diagnosis.status == ("at_risk" if named else HEALTHY)


def test_saturated_activation_from_unnormalised_inputs():
    meta = healthy_metadata()
    meta["model"]["activations"] = [{"name": "encoder.1", "type": "Tanh"}]
    layers = healthy_layers()
    layers["encoder.1"][fmt.LAYER_SATURATED_FRACTION] = np.full(N, 0.95)
    signals = _collapsed_signals()
    signals[fmt.INPUT_STD] = np.full(N, 50.0)
    top = diagnose_run(build(signals, layers, meta)).causes[0]
    assert top.id == "saturated_activation" and "standardise" in top.fix


def test_posterior_collapse():
    signals = _collapsed_signals()
    signals[fmt.KL_PER_DIM] = np.full(N, 0.001)
    signals[fmt.KL_MAX_DIM] = np.full(N, 0.003)
    signals[fmt.ACTIVE_UNITS_FRACTION] = np.zeros(N)
    meta = healthy_metadata(is_vae=True)
    assert ranked(build(signals, healthy_layers(), meta))[0] == "posterior_collapse"


def test_a_kl_killed_by_tiny_steps_or_by_weight_decay_is_their_consequence():
    """A VAE whose encoder never trained (Adam at lr 2e-7: updates of 1e-6 of the weights)
    or was decayed to the prior (weights pulled to 0 give mu = 0, logvar = 0) has no KL:
    the step size or the decay is the cause, the collapsed posterior what it did."""
    signals = _collapsed_signals()
    signals[fmt.KL_PER_DIM] = np.full(N, 1e-4)
    signals[fmt.KL_MAX_DIM] = np.full(N, 3e-4)
    signals[fmt.ACTIVE_UNITS_FRACTION] = np.zeros(N)
    tiny = dict(signals)
    tiny[fmt.UPDATE_RATIO] = np.full(N, 1.3e-6)
    meta = healthy_metadata(is_vae=True, lr=2e-7)
    assert ranked(build(tiny, healthy_layers(), meta))[:2] == ["lr_too_low", "posterior_collapse"]
    decayed = dict(signals)
    decayed[fmt.REGULARIZATION_PULL] = np.full(N, 1.1)
    decayed[fmt.WEIGHT_NORM] = curve(9.8, 2.5)
    meta = healthy_metadata(is_vae=True, weight_decay=1.1)
    assert ranked(build(decayed, healthy_layers(), meta))[:2] == [
        "over_regularized", "posterior_collapse"]


@pytest.mark.parametrize("frozen", ["encoder.0", "decoder.2"], ids=["encoder", "decoder"])
def test_a_vae_with_a_frozen_half_names_the_freeze_before_the_kl(frozen):
    """An encoder left at its initialisation cannot make z informative, and a decoder left
    at its own cannot read it: either way the KL falls to 0. The freeze is the cause."""
    signals = _collapsed_signals()
    signals[fmt.KL_PER_DIM] = np.full(N, 1e-4)
    signals[fmt.KL_MAX_DIM] = np.full(N, 3e-4)
    signals[fmt.ACTIVE_UNITS_FRACTION] = np.zeros(N)
    meta = healthy_metadata(is_vae=True)
    for layer in meta["model"]["layers"]:
        if layer["name"] == frozen:  # a quarter of the weights
            layer["trainable"] = False
    assert ranked(build(signals, healthy_layers(), meta))[:2] == [
        "frozen_parameters", "posterior_collapse"]


def test_weights_decayed_to_nothing_stop_moving_because_of_the_decay():
    """AdamW with weight_decay 30: the weights shrink to 1e-3 of their start, their
    gradients vanish and nothing changes between logging steps. Frozen parameters are
    what the decay did, not a freeze in the loop."""
    signals = _collapsed_signals()
    signals[fmt.REGULARIZATION_PULL] = np.full(N, 4.5)
    signals[fmt.WEIGHT_NORM] = curve(6.0, 0.0015)
    signals[fmt.FROZEN_FRACTION] = np.where(STEPS < 50, 0.0, 1.0)
    layers = healthy_layers()
    for name in ("encoder.0", "encoder.2", "decoder.0", "decoder.2"):
        layers[name][fmt.LAYER_GRAD_NORM] = np.where(STEPS < 50, 0.2, 0.0)
    meta = healthy_metadata(optimizer="AdamW", weight_decay=30.7)
    assert ranked(build(signals, layers, meta))[:2] == ["over_regularized", "frozen_parameters"]


def test_an_output_that_cannot_reach_the_targets_ranks_above_what_it_kills():
    """A sigmoid on standardised data is the root cause even when the KL and the
    bottleneck's ReLUs die too: fixing them would not let the output reach the targets."""
    signals = _collapsed_signals()
    signals[fmt.KL_PER_DIM] = np.full(N, 0.001)
    signals[fmt.KL_MAX_DIM] = np.full(N, 0.003)
    signals[fmt.ACTIVE_UNITS_FRACTION] = np.zeros(N)
    signals[fmt.TARGET_MIN] = np.full(N, -2.5)
    signals[fmt.TARGET_MAX] = np.full(N, 2.5)
    signals[fmt.OUTPUT_MIN] = np.full(N, 0.3)
    signals[fmt.OUTPUT_MAX] = np.full(N, 0.5)
    layers = healthy_layers()
    layers["encoder.1"][fmt.LAYER_DEAD_FRACTION] = np.where(STEPS < 100, 0.1, 1.0)
    meta = healthy_metadata(is_vae=True, output_activation="Sigmoid")
    diagnosis = diagnose_run(build(signals, layers, meta))
    ids = [c.id for c in diagnosis.causes]
    assert ids[0] == "loss_mismatch", ids
    for consequence in ("posterior_collapse", "dead_relu"):
        (finding,) = [c for c in diagnosis.causes if c.id == consequence] or [None]
        if finding is not None:
            assert "likely a consequence of loss_mismatch" in " ".join(finding.evidence)


def test_frozen_parameters_declared_and_measured():
    meta = healthy_metadata()
    meta["model"]["layers"][0]["in_optimizer"] = False
    meta["model"]["layers"][1]["in_optimizer"] = False
    signals = healthy_signals()
    signals[fmt.FROZEN_FRACTION] = np.full(N, 0.5)
    signals[fmt.RELATIVE_ERROR] = np.full(N, 0.9)
    signals[fmt.OUTPUT_VARIANCE_RATIO] = np.full(N, 0.15)
    top = diagnose_run(build(signals, healthy_layers(), meta)).causes[0]
    assert top.id == "frozen_parameters"
    assert any("not in the optimizer" in e for e in top.evidence)


def test_frozen_pretrained_encoder_that_works_is_not_a_cause():
    meta = healthy_metadata()
    meta["model"]["layers"][0]["trainable"] = False
    signals = healthy_signals()
    signals[fmt.FROZEN_FRACTION] = np.full(N, 0.25)
    assert "frozen_parameters" not in ranked(build(signals, healthy_layers(), meta))


def test_constant_input():
    signals = _collapsed_signals()
    signals[fmt.INPUT_DUPLICATE_FRACTION] = np.ones(N)
    signals[fmt.INPUT_BATCH_VARIANCE] = np.zeros(N)
    diagnosis = diagnose_run(build(signals, healthy_layers()))
    assert diagnosis.status == COLLAPSED
    assert diagnosis.causes[0].id == "constant_input"


def test_latent_too_large_is_identity_like_not_collapsed():
    meta = healthy_metadata(latent_size=64)
    signals = healthy_signals()
    signals[fmt.RELATIVE_ERROR] = curve(1.0, 0.02)
    signals[fmt.RANK_K_ERROR] = np.zeros(N)
    signals[fmt.IDENTITY_RATIO] = np.full(N, 1.2)
    signals[fmt.RANDOM_INPUT_ERROR] = np.full(N, 0.025)
    diagnosis = diagnose_run(build(signals, healthy_layers(), meta))
    assert diagnosis.status != COLLAPSED
    assert diagnosis.causes[0].id == "latent_too_large"
    assert "latent_size=14" in diagnosis.causes[0].fix


def test_a_code_narrower_than_the_datas_effective_rank_is_not_too_large():
    """The overhead benchmark's healthy MLP: code 32, data effective rank 36, matched random
    inputs reconstructed at 0.31 (their variance sits in the same pixels as the data's):
    a real bottleneck, and "shrink it to 36" would be no advice at all."""
    meta = healthy_metadata(latent_size=32)
    signals = healthy_signals()
    signals[fmt.RELATIVE_ERROR] = curve(1.0, 0.04)
    signals[fmt.DATA_EFFECTIVE_RANK] = np.full(N, 36.0)
    signals[fmt.IDENTITY_RATIO] = np.full(N, 8.3)
    signals[fmt.RANDOM_INPUT_ERROR] = np.full(N, 0.31)
    assert "latent_too_large" not in ranked(build(signals, healthy_layers(), meta))
    meta = healthy_metadata(latent_size=60)  # the same run with a code wider than that rank
    top = diagnose_run(build(signals, healthy_layers(), meta)).causes[0]
    assert top.id == "latent_too_large" and "latent_size=36" in top.fix


def _at_the_rank_k_bound(spread: float):
    meta = healthy_metadata(latent_size=2)
    signals = healthy_signals()
    signals[fmt.RANK_K_ERROR] = np.full(N, 0.6)
    signals[fmt.RELATIVE_ERROR] = curve(1.0, 0.62)
    signals[fmt.OUTPUT_VARIANCE_RATIO] = curve(0.05, spread)
    signals[fmt.VAL_RELATIVE_ERROR] = curve(1.0, 0.63)
    return diagnose_run(build(signals, healthy_layers(), meta))


def test_latent_too_small_at_the_rank_k_bound_with_outputs_near_the_mean():
    diagnosis = _at_the_rank_k_bound(spread=0.12)
    assert diagnosis.status == "at_risk"
    top = diagnosis.causes[0]
    assert top.id == "latent_too_small" and "latent_size=14" in top.fix


def test_a_code_narrow_on_purpose_with_varied_outputs_is_healthy_with_a_note():
    """A 2-d code chosen to plot it: the error sits at the rank-2 bound, the outputs keep
    38% of the targets' variance. That is what 2 dimensions allow, not a collapse."""
    diagnosis = _at_the_rank_k_bound(spread=0.38)
    assert diagnosis.status == "healthy" and diagnosis.causes == []
    (note,) = [n for n in diagnosis.notes if n.startswith("bottleneck-limited")]
    assert "0.6" in note and "latent_size=14" in note


def test_no_structure_data_is_not_blamed_on_the_bottleneck_shape():
    """Isotropic noise (the article's data): the bound is high because the data has no
    structure; an under-trained run far above the bound is not latent_too_small."""
    meta = healthy_metadata(latent_size=20, input_size=100)
    signals = healthy_signals()
    signals[fmt.DATA_EFFECTIVE_RANK] = np.full(N, 92.0)
    signals[fmt.RANK_K_ERROR] = np.full(N, 0.71)
    signals[fmt.RELATIVE_ERROR] = curve(1.1, 0.95, rate=0.01)
    signals[fmt.OUTPUT_VARIANCE_RATIO] = curve(0.1, 0.3, rate=0.01)
    diagnosis = diagnose_run(build(signals, healthy_layers(), meta))
    assert "latent_too_small" not in [c.id for c in diagnosis.causes]
    assert any("no low-dimensional structure" in n for n in diagnosis.notes)


def test_functional_relus_are_found_by_their_missing_gradient():
    meta = healthy_metadata()
    meta["model"]["activations"] = []  # F.relu in forward: no modules to hook
    layers = healthy_layers()
    del layers["encoder.1"], layers["decoder.1"]
    layers["encoder.2"][fmt.LAYER_DEAD_FRACTION] = np.ones(N)
    layers["encoder.2"][fmt.LAYER_GRAD_NORM] = np.zeros(N)
    layers["decoder.2"][fmt.LAYER_DEAD_FRACTION] = np.ones(N)  # negative outputs, but...
    signals = _collapsed_signals()
    assert ranked(build(signals, layers, meta))[0] == "dead_relu"
    layers["encoder.2"][fmt.LAYER_GRAD_NORM] = np.full(N, 0.1)  # ...gradient flows: not dead
    assert "dead_relu" not in ranked(build(signals, layers, meta))


def test_lr_too_high_when_big_first_steps_kill_relus():
    layers = healthy_layers()
    layers["encoder.1"][fmt.LAYER_DEAD_FRACTION] = np.where(STEPS < 20, 0.1, 1.0)
    signals = _collapsed_signals()
    signals[fmt.UPDATE_RATIO] = np.where(STEPS < 30, 0.4, 0.003)
    causes = ranked(build(signals, layers))
    assert causes[:2] == ["lr_too_high", "dead_relu"]


def test_logit_outputs_are_not_read_as_divergence():
    signals = healthy_signals()
    signals[fmt.OUTPUT_MIN] = np.full(N, -7.0)
    signals[fmt.OUTPUT_MAX] = np.full(N, 6.0)
    signals[fmt.RELATIVE_ERROR] = curve(1.0, 40.0)  # logits grow as the model gets surer
    signals[fmt.OUTPUT_VARIANCE_RATIO] = curve(0.1, 50.0)
    diagnosis = diagnose_run(build(signals, healthy_layers()))
    assert diagnosis.status == HEALTHY and diagnosis.causes == []
    assert any("logits" in n for n in diagnosis.notes)


def test_a_small_data_set_sampled_with_replacement_is_not_constant_input():
    signals = healthy_signals()
    signals[fmt.INPUT_DUPLICATE_FRACTION] = np.full(N, 0.8)
    assert "constant_input" not in ranked(build(signals, healthy_layers()))


def test_lr_too_low_with_adam_sized_small_steps_and_a_flat_loss():
    signals = healthy_signals()
    signals[fmt.UPDATE_RATIO] = np.full(N, 8e-5)
    signals[fmt.RELATIVE_ERROR] = np.full(N, 3.4)
    signals[fmt.OUTPUT_VARIANCE_RATIO] = np.full(N, 0.002)
    assert ranked(build(signals, healthy_layers()))[0] == "lr_too_low"
    signals[fmt.RELATIVE_ERROR] = curve(3.4, 0.3)  # same steps, but the loss falls: fine
    signals[fmt.OUTPUT_VARIANCE_RATIO] = curve(0.002, 0.7)
    assert "lr_too_low" not in ranked(build(signals, healthy_layers()))


def test_a_single_late_validation_point_is_not_memorisation():
    signals = healthy_signals()
    signals[fmt.VAL_RELATIVE_ERROR] = np.where(STEPS < STEPS[-1], curve(1.1, 0.18), 0.6)
    assert "under_regularized" not in ranked(build(signals, healthy_layers()))


def _tanh_run(mean_abs: float):
    meta = healthy_metadata()
    meta["model"]["activations"] = [{"name": "encoder.1", "type": "Tanh"}]
    layers = healthy_layers()
    layers["encoder.1"][fmt.LAYER_SATURATED_FRACTION] = np.full(N, 0.3)
    layers["encoder.1"][fmt.LAYER_ACTIVATION_MEAN_ABS] = np.full(N, mean_abs)
    signals = _collapsed_signals()
    signals[fmt.INPUT_STD] = np.full(N, 40.0)
    return build(signals, layers, meta)


def test_saturation_seen_through_the_gradient_tanh_can_pass():
    # E[1 - h^2] <= 1 - E|h|^2: mean |h| 0.98 lets at most 4% of the gradient through,
    # even though fewer units are pinned for 95% of the batch than the pinned test wants.
    assert "saturated_activation" in ranked(_tanh_run(0.98))
    assert "saturated_activation" not in ranked(_tanh_run(0.5))


def _vae_run(kl_per_dim: float):
    signals = _collapsed_signals()
    signals[fmt.KL_PER_DIM] = np.full(N, kl_per_dim)
    signals[fmt.KL_MAX_DIM] = np.full(N, 2 * kl_per_dim)
    signals[fmt.ACTIVE_UNITS_FRACTION] = np.ones(N)  # tiny mu spreads still pass Var > 0.01
    return build(signals, healthy_layers(), healthy_metadata(is_vae=True))


def test_posterior_collapse_from_a_total_kl_too_small_to_carry_the_input():
    assert ranked(_vae_run(0.005))[:1] == ["posterior_collapse"]  # 8 dims: 0.04 nats in all
    assert "posterior_collapse" not in ranked(_vae_run(1.0))


def _noisy_error_run(oscillating: bool):
    # A tiny batch makes each logged error a noisy sample (here log-normal, sigma 0.35)
    # around a steady level: that noise is not divergence. Oscillation under a too-high
    # learning rate is: every other logged point jumps to 3x the level.
    rng = np.random.default_rng(0)
    error = 0.6 * np.exp(rng.normal(0.0, 0.35, N))
    if oscillating:
        error = error * np.where(np.arange(N) % 2 == 1, 3.0, 1.0)
    signals = healthy_signals()
    signals[fmt.RELATIVE_ERROR] = error
    return build(signals, healthy_layers())


def test_small_batch_noise_is_not_lr_too_high_but_oscillation_is():
    assert "lr_too_high" not in ranked(_noisy_error_run(oscillating=False))
    assert "lr_too_high" in ranked(_noisy_error_run(oscillating=True))


def test_lr_too_low_when_tiny_steps_leave_the_error_nearly_where_it_started():
    """A run too short for tiny steps to add up still shows them: the error gained < 10%."""
    steps = np.arange(0, 300, 8)
    n = len(steps)
    signals = healthy_signals(steps)
    signals[fmt.UPDATE_RATIO] = np.full(n, 8.4e-5)
    signals[fmt.RELATIVE_ERROR] = np.linspace(3.5, 3.1, n)  # ~9% better: still flat
    signals[fmt.OUTPUT_VARIANCE_RATIO] = np.full(n, 0.0017)
    run = build(signals, healthy_layers(steps), steps=steps)
    assert ranked(run)[:1] == ["lr_too_low"]
    signals[fmt.RELATIVE_ERROR] = np.linspace(3.4, 1.7, n)  # halved: the steps do their job
    assert "lr_too_low" not in ranked(build(signals, healthy_layers(steps), steps=steps))


def _l1_penalty_signals(steps: np.ndarray, cosine: np.ndarray) -> dict:
    """A penalty hidden in the loss: no weight decay configured, the gradient along the
    weights at every step, the norm falling at every step, outputs at the mean."""
    n = len(steps)
    signals = healthy_signals(steps)
    signals[fmt.GRAD_WEIGHT_COSINE] = cosine
    signals[fmt.WEIGHT_NORM] = 10.6 * np.exp(-0.005 * steps)
    signals[fmt.OUTPUT_VARIANCE_RATIO] = np.full(n, 1e-6)
    signals[fmt.RELATIVE_ERROR] = np.linspace(4.4, 2.0, n)
    return signals


def test_over_regularized_from_a_steady_pull_before_the_weights_shrank_much():
    steps = np.arange(0, 64, 4)
    signals = _l1_penalty_signals(steps, np.full(len(steps), 0.4))
    run = build(signals, healthy_layers(steps), steps=steps)
    # the norm has lost only ~27% (the shrink alone would not say so yet)
    assert ranked(run)[:1] == ["over_regularized"]
    # the same shrinking with a pull that comes and goes: a loss settling, not a penalty
    wobbly = np.where(np.arange(len(steps)) % 2 == 0, 0.4, -0.1)
    signals = _l1_penalty_signals(steps, wobbly)
    assert "over_regularized" not in ranked(build(signals, healthy_layers(steps), steps=steps))


def test_big_first_adam_steps_alone_are_not_lr_too_high():
    """lr=1e-2 on a small GRU: 12% first steps, outputs at the mean for a while, no NaN,
    no jumps, no dead units. The steps are big; nothing says they hurt."""
    signals = _collapsed_signals()
    signals[fmt.UPDATE_RATIO] = np.where(STEPS < 30, 0.12, 0.02)
    assert "lr_too_high" not in ranked(build(signals, healthy_layers()))
    signals[fmt.UPDATE_RATIO] = np.where(STEPS < 30, 0.9, 0.3)  # the weights replaced each step
    assert "lr_too_high" in ranked(build(signals, healthy_layers()))


def test_posterior_collapse_is_named_sooner_when_the_kl_is_pushed_tenfold_below_its_start():
    steps = np.arange(0, 17)
    n = len(steps)
    meta = healthy_metadata(is_vae=True)
    signals = healthy_signals(steps)
    signals[fmt.OUTPUT_VARIANCE_RATIO] = np.full(n, 0.02)
    signals[fmt.RELATIVE_ERROR] = np.full(n, 1.0)
    signals[fmt.ACTIVE_UNITS_FRACTION] = np.where(steps < 12, 0.8, 0.0)
    signals[fmt.KL_PER_DIM] = np.geomspace(0.1, 0.003, n)
    signals[fmt.KL_MAX_DIM] = np.geomspace(0.2, 0.009, n)  # below 0.1 nats from step 5 on
    assert "posterior_collapse" in ranked(build(signals, healthy_layers(steps), meta, steps))
    # a fresh VAE whose KL hovers low, not pushed down: 11 steps is too early to say
    signals[fmt.KL_MAX_DIM] = np.full(n, 0.06)
    signals[fmt.KL_PER_DIM] = np.full(n, 0.03)
    assert "posterior_collapse" not in ranked(build(signals, healthy_layers(steps), meta, steps))


def test_a_blow_up_the_run_recovered_from_is_history_not_a_verdict():
    """One step's NaN gradients and an error spike at step 50 (a loop that skips NaN steps,
    a warm-up spike): a run that trains well after it is judged on now."""
    spiked = np.where(STEPS == 50, 1e9, 1.0)
    nan_grads = np.where(STEPS == 50, 0.5, 0.0)
    recovered = healthy_signals()
    recovered[fmt.RELATIVE_ERROR] = curve(1.1, 0.15) * spiked
    recovered[fmt.NONFINITE_GRAD_FRACTION] = nan_grads
    assert "lr_too_high" not in ranked(build(recovered, healthy_layers()))
    stuck = _collapsed_signals()
    stuck[fmt.RELATIVE_ERROR] = np.full(N, 1.0) * spiked
    stuck[fmt.NONFINITE_GRAD_FRACTION] = nan_grads
    assert ranked(build(stuck, healthy_layers()))[:1] == ["lr_too_high"]


def test_relus_killed_by_a_burst_of_big_steps_name_the_step_size():
    """#22 item 3c: the error spiked and recovered, but the big first steps left a ReLU
    layer 80% dead for good: the step size is the cause, the dead units its consequence.
    The same dead layer under small steps is dead_relu (a bias, an init), not the lr."""
    layers = healthy_layers()
    layers["encoder.1"][fmt.LAYER_DEAD_FRACTION] = np.where(STEPS < 20, 0.05, 0.8)
    burst = healthy_signals()
    burst[fmt.RELATIVE_ERROR] = np.where(STEPS == 10, 6.0, curve(1.1, 0.4))
    burst[fmt.UPDATE_RATIO] = np.where(STEPS < 30, 0.3, 2e-3)
    diagnosis = diagnose_run(build(burst, layers))
    assert [c.id for c in diagnosis.causes][:1] == ["lr_too_high"], diagnosis.to_json()
    assert any("died during the big steps" in e for e in diagnosis.causes[0].evidence)
    calm = healthy_signals()
    calm[fmt.RELATIVE_ERROR] = curve(1.1, 0.4)
    assert ranked(build(calm, layers))[:1] == ["dead_relu"]
    late = healthy_signals()  # the units died long after the big steps ended
    late[fmt.RELATIVE_ERROR] = burst[fmt.RELATIVE_ERROR]
    late[fmt.UPDATE_RATIO] = burst[fmt.UPDATE_RATIO]
    late_layers = healthy_layers()
    late_layers["encoder.1"][fmt.LAYER_DEAD_FRACTION] = np.where(STEPS < 200, 0.05, 0.8)
    assert ranked(build(late, late_layers))[:1] == ["dead_relu"]
    adam = healthy_signals()  # Adam's own first steps at a sound lr: ~3% of the weights
    adam[fmt.RELATIVE_ERROR] = curve(1.1, 0.5)
    adam[fmt.UPDATE_RATIO] = np.where(STEPS < 30, 0.032, 2e-3)
    assert "lr_too_high" not in ranked(build(adam, layers))
    # the same burst in a layer of 128 units: the 26 left alive still carry the 8-dim code
    # three times over, and the run trains on: spare width lost, not a cause
    wide = healthy_metadata()
    wide["model"]["activations"][0]["units"] = 128
    assert ranked(build(burst, layers, wide)) == []


def test_units_swinging_between_both_limits_are_saturated():
    """Inputs in raw units (std ~40) through a sigmoid layer: each unit sits at 0 for
    half the batch and at 1 for the other half, so none is pinned at one limit, yet 90% of
    the values pass back almost no gradient. Outputs keep 7% of the variance."""
    meta = healthy_metadata()
    meta["model"]["activations"] = [{"name": "encoder.1", "type": "Sigmoid"}]
    layers = healthy_layers()
    layers["encoder.1"][fmt.LAYER_SATURATED_FRACTION] = np.full(N, 0.05)
    layers["encoder.1"][fmt.LAYER_SATURATED_VALUES] = np.full(N, 0.9)
    signals = healthy_signals()
    signals[fmt.RELATIVE_ERROR] = np.linspace(0.9, 0.8, N)
    signals[fmt.OUTPUT_VARIANCE_RATIO] = np.full(N, 0.07)
    signals[fmt.INPUT_STD] = np.full(N, 40.0)
    top = diagnose_run(build(signals, layers, meta)).causes[0]
    assert top.id == "saturated_activation" and "90% of its values" in top.evidence[0]
    assert "standardise the inputs" in top.fix
    layers["encoder.1"][fmt.LAYER_SATURATED_VALUES] = np.full(N, 0.1)  # a healthy layer
    assert "saturated_activation" not in ranked(build(signals, layers, meta))
