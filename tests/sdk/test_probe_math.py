"""Each probe's maths against an independent numpy computation (Cockpit style)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aelog.logfile import format as fmt
from aelog.probes.code import code_stats, kl_per_dimension, vae_stats
from aelog.probes.data import FingerprintDirection, input_stats
from aelog.probes.symptom import symptom_stats
from aelog.probes.units import (
    activation_stats,
    identical_rows_fraction,
    per_unit_count,
    per_unit_max,
    unit_similarity,
)
from aelog.sdk.outputs import UnexpectedOutput, parse_output, parse_pair


def _effective_rank(x: np.ndarray) -> float:
    s = np.linalg.svd(x - x.mean(0), compute_uv=False)
    p = s / s.sum()
    p = p[p > 0]
    return float(np.exp(-(p * np.log(p)).sum()))


def test_symptom_against_numpy():
    rng = np.random.default_rng(0)
    target = rng.normal(size=(50, 12)) @ rng.normal(size=(12, 12))
    output = 0.5 * target + rng.normal(scale=0.1, size=target.shape)
    stats = symptom_stats(torch.tensor(output), torch.tensor(target), code_size=3)
    centred = target - target.mean(0)
    sst = (centred**2).sum()
    assert float(stats[fmt.RELATIVE_ERROR]) == pytest.approx(((output - target) ** 2).sum() / sst)
    spread = ((output - output.mean(0)) ** 2).sum()
    assert float(stats[fmt.OUTPUT_VARIANCE_RATIO]) == pytest.approx(spread / sst)
    s = np.linalg.svd(centred, compute_uv=False)
    assert float(stats[fmt.RANK_K_ERROR]) == pytest.approx((s[3:] ** 2).sum() / (s**2).sum())
    assert float(stats[fmt.DATA_EFFECTIVE_RANK]) == pytest.approx(_effective_rank(target))


def test_rank_k_error_needs_more_samples_than_k():
    x = torch.randn(5, 10)
    assert fmt.RANK_K_ERROR not in symptom_stats(x, x, code_size=8)


def test_symptom_stats_without_the_data_signals_keep_the_output_ones():
    rng = np.random.default_rng(6)
    target = torch.tensor(rng.normal(size=(40, 8)))
    output = target + 0.1 * torch.tensor(rng.normal(size=(40, 8)))
    full, quick = symptom_stats(output, target, 3), symptom_stats(output, target, 3, data=False)
    data_only = {fmt.RANK_K_ERROR, fmt.DATA_EFFECTIVE_RANK, fmt.TARGET_MIN, fmt.TARGET_MAX,
                 fmt.TARGET_MEAN, fmt.TARGET_STD}
    assert set(full) - set(quick) == data_only
    assert {k: float(v) for k, v in quick.items()} == {k: float(full[k]) for k in quick}


def test_code_stats_against_numpy():
    rng = np.random.default_rng(1)
    code = rng.normal(size=(40, 6))
    code[:, 4] = 0.7  # a dead dimension
    code[:, 5] = -2 * code[:, 0]  # a copy of dimension 0
    stats = code_stats(torch.tensor(code))
    assert float(stats[fmt.CODE_EFFECTIVE_RANK]) == pytest.approx(_effective_rank(code))
    assert float(stats[fmt.CODE_VARIANCE]) == pytest.approx(code.var(0, ddof=1).mean())
    assert float(stats[fmt.CODE_DEAD_FRACTION]) == pytest.approx(1 / 6)
    assert float(stats[fmt.CODE_IDENTICAL_FRACTION]) == pytest.approx(2 / 6)


def test_code_stats_of_a_code_wider_than_the_batch():
    rng = np.random.default_rng(4)
    code = rng.normal(size=(12, 30))  # 30 dimensions, 12 samples: rank at most 11
    code[:, 7] = code[:, 3]
    stats = code_stats(torch.tensor(code))
    assert float(stats[fmt.CODE_EFFECTIVE_RANK]) == pytest.approx(_effective_rank(code))
    assert float(stats[fmt.CODE_VARIANCE]) == pytest.approx(code.var(0, ddof=1).mean())
    assert float(stats[fmt.CODE_IDENTICAL_FRACTION]) == pytest.approx(2 / 30)


def test_code_stats_without_the_slow_similarity_keep_the_rest():
    code = torch.tensor(np.random.default_rng(5).normal(size=(40, 6)))
    full, quick = code_stats(code), code_stats(code, similarity=False)
    assert fmt.CODE_UNIT_SIMILARITY in full and fmt.CODE_UNIT_SIMILARITY not in quick
    assert fmt.CODE_IDENTICAL_FRACTION not in quick
    assert {k: float(v) for k, v in quick.items()} == {
        k: float(full[k]) for k in quick}


def test_kl_and_active_units_against_numpy():
    rng = np.random.default_rng(2)
    mu = rng.normal(size=(30, 4))
    mu[:, 3] = 0.001 * rng.normal(size=30)  # an inactive unit
    logvar = rng.normal(scale=0.3, size=(30, 4))
    kl = 0.5 * (mu**2 + np.exp(logvar) - 1 - logvar).mean(0)
    assert kl_per_dimension(torch.tensor(mu), torch.tensor(logvar)).numpy() == pytest.approx(kl)
    stats = vae_stats(torch.tensor(mu), torch.tensor(logvar))
    assert float(stats[fmt.KL_PER_DIM]) == pytest.approx(kl.mean())
    assert float(stats[fmt.KL_MAX_DIM]) == pytest.approx(kl.max())
    assert float(stats[fmt.ACTIVE_UNITS_FRACTION]) == pytest.approx(3 / 4)


def test_dead_and_saturated_units():
    x = torch.randn(100, 8)
    x[:, :2] = -torch.rand(100, 2)  # never positive: dead under a ReLU
    stats = activation_stats(x, unit_dim=-1, limits=None)
    assert float(stats[fmt.LAYER_DEAD_FRACTION]) == pytest.approx(2 / 8)
    y = torch.tanh(torch.randn(100, 4))
    y[:, 0] = 0.999  # pinned at the upper limit
    stats = activation_stats(y, unit_dim=-1, limits=(-1.0, 1.0))
    assert float(stats[fmt.LAYER_SATURATED_FRACTION]) == pytest.approx(1 / 4)
    conv = torch.randn(4, 3, 5, 5)
    conv[:, 1] = -1.0  # channel 1 dead: units are channels for conv outputs
    stats = activation_stats(conv, unit_dim=1, limits=None)
    assert float(stats[fmt.LAYER_DEAD_FRACTION]) == pytest.approx(1 / 3)


def _reference_activation_stats(x: torch.Tensor, unit_dim: int, limits) -> dict[str, float]:
    """The definitions, written the slow, obvious way: units last, one row per sample."""
    values = x.detach().double()
    values = values.reshape(-1, 1) if values.dim() < 2 else values.movedim(unit_dim, -1)
    values = torch.nan_to_num(values.reshape(-1, values.shape[-1]), nan=0.0, posinf=0.0,
                              neginf=0.0)
    stats = {
        fmt.LAYER_ACTIVATION_STD: float(values.std()),
        fmt.LAYER_ACTIVATION_MEAN_ABS: float(values.abs().mean()),
        fmt.LAYER_DEAD_FRACTION: float((values <= 0).all(dim=0).double().mean()),
    }
    if limits is not None:
        low, high = limits
        margin = 0.02 * (high - low)
        near = (values <= low + margin) | (values >= high - margin)
        stats[fmt.LAYER_SATURATED_FRACTION] = float((near.double().mean(0) > 0.95).double().mean())
        stats[fmt.LAYER_SATURATED_VALUES] = float(near.double().mean())
    return stats


@pytest.mark.parametrize("shape, unit_dim, limits", [
    ((64, 10), -1, None),
    ((16, 6, 5, 5), 1, None),
    ((8, 7, 12), -1, (-1.0, 1.0)),
    ((16, 4, 3, 3), 1, (0.0, 1.0)),
    ((12, 32, 4, 4), 1, (-1.0, 1.0)),
    ((8, 7, 12), 1, None),
    ((6, 9), 0, (0.0, 1.0)),
    ((50,), -1, None),
])
def test_activation_stats_match_their_definitions(shape, unit_dim, limits):
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(shape, generator=generator) + 0.3
    if limits is not None:
        x = torch.tanh(x) if limits[0] < 0 else torch.sigmoid(3 * x)
        x.reshape(-1)[::7] = limits[1]  # some units near a limit
    if x.dim() > 1:
        x.select(unit_dim, 0).fill_(-0.5)  # a dead unit
    x.reshape(-1)[5] = float("nan")
    x.reshape(-1)[9] = float("inf")
    got = {key: float(value) for key, value in activation_stats(x, unit_dim, limits).items()}
    assert got == pytest.approx(_reference_activation_stats(x, unit_dim, limits), rel=1e-5)


@pytest.mark.parametrize("shape, unit_dim", [((64, 10), -1), ((16, 6, 5, 5), 1),
                                             ((128, 2176), -1)])
def test_activation_stats_of_a_never_negative_activation(shape, unit_dim):
    """ReLU outputs: the mean stands for the mean |x|, on either way of taking the spread."""
    x = torch.relu(torch.randn(shape, generator=torch.Generator().manual_seed(5)))
    far = 3.0 + 0.01 * x  # mean far from 0 beside the spread: the deviations' pass
    for values in (x, far):
        got = {k: float(v) for k, v in activation_stats(values, unit_dim, None, True).items()}
        # float32 sums over up to 278k values, against float64
        assert got == pytest.approx(_reference_activation_stats(values, unit_dim, None),
                                    rel=5e-5)


def test_activation_spread_from_squares_only_where_the_mean_costs_no_precision():
    from aelog.probes.units import ONE_PASS_CONDITION

    generator = torch.Generator().manual_seed(2)
    for offset in (0.0, 1.0, 1.7, 1.8, 10.0, 1e3):  # sqrt(3) ~ 1.73 standard deviations
        x = offset + torch.randn(4096, generator=generator)
        spread = float(activation_stats(x, -1, None)[fmt.LAYER_ACTIVATION_STD])
        assert spread == pytest.approx(float(x.double().std()), rel=1e-5), offset
    assert ONE_PASS_CONDITION == 4.0


@pytest.mark.parametrize("shape", [(5,), (7, 3), (4, 6, 5), (3, 4, 2, 5)])
def test_per_unit_reductions_equal_one_reduction_over_the_sample_axes(shape):
    x = torch.randn(shape, generator=torch.Generator().manual_seed(len(shape)))
    for unit_dim in range(-len(shape), len(shape)):
        units = unit_dim % len(shape)
        samples = tuple(a for a in range(len(shape)) if a != units or len(shape) < 2)
        assert torch.equal(per_unit_max(x, unit_dim), x.amax(dim=samples))
        assert torch.equal(per_unit_count(x > 0.3, unit_dim), (x > 0.3).sum(dim=samples))


def test_activation_spread_keeps_its_precision_far_from_zero():
    x = 1.0 + 1e-4 * torch.randn(128, 64, generator=torch.Generator().manual_seed(1))
    stats = activation_stats(x, unit_dim=-1, limits=(0.0, 1.0))
    assert float(stats[fmt.LAYER_ACTIVATION_STD]) == pytest.approx(float(x.double().std()),
                                                                   rel=1e-3)


def test_identical_units():
    weight = torch.randn(6, 5)
    assert float(identical_rows_fraction(weight)) == 0.0
    assert float(identical_rows_fraction(torch.full((6, 5), 0.001))) == 1.0
    weight[1] = weight[0]
    assert float(identical_rows_fraction(weight)) == pytest.approx(2 / 6)
    assert float(unit_similarity(torch.full((6, 5), 0.001))) == pytest.approx(1.0)


def test_repeated_and_duplicated_inputs():
    generator = FingerprintDirection()
    x = torch.randn(10, 4)
    x[3] = x[7]
    stats, fingerprint = input_stats(x, generator, None)
    assert float(stats[fmt.INPUT_DUPLICATE_FRACTION]) == pytest.approx(0.2)
    assert fmt.INPUT_SAME_AS_PREVIOUS not in stats
    again, _ = input_stats(x.clone(), generator, fingerprint)
    other, _ = input_stats(torch.randn(10, 4), generator, fingerprint)
    assert float(again[fmt.INPUT_SAME_AS_PREVIOUS]) == 1.0
    assert float(other[fmt.INPUT_SAME_AS_PREVIOUS]) == 0.0


def test_input_scale_alone_on_steps_that_skip_the_batch_comparisons():
    x = torch.randn(10, 4) * 3
    full, fingerprint = input_stats(x, FingerprintDirection(), None)
    scale, none = input_stats(x, FingerprintDirection(), fingerprint, batch=False)
    assert set(scale) == {fmt.INPUT_STD} and none is None
    assert float(scale[fmt.INPUT_STD]) == float(full[fmt.INPUT_STD])


def test_fingerprint_direction_is_fixed_and_leaves_the_global_rng_alone():
    state = torch.get_rng_state()
    first, second = FingerprintDirection(), FingerprintDirection()
    drawn = first.for_width(4, torch.device("cpu")).clone()
    assert torch.equal(first.for_width(4, torch.device("cpu")), drawn)  # reused
    assert torch.equal(second.for_width(4, torch.device("cpu")), drawn)  # same seed
    assert first.for_width(6, torch.device("cpu")).shape == (6,)  # a new width, a new draw
    assert torch.equal(first.for_width(4, torch.device("cpu")), drawn)
    assert torch.equal(torch.get_rng_state(), state)


def test_output_parsing():
    x, mu, logvar = torch.zeros(4, 6), torch.zeros(4, 2), torch.ones(4, 2)
    assert parse_output(x).reconstruction is x
    parsed = parse_output((x, mu, logvar))
    assert parsed.is_vae and parsed.mu is mu and parsed.logvar is logvar
    assert not parse_output((x, mu)).is_vae
    parsed = parse_output({"mu": mu, "log_var": logvar, "reconstruction": x})
    assert parsed.reconstruction is x and parsed.is_vae
    logits = parse_output({"logits": x})
    assert logits.from_logits and float(logits.reconstruction_values()[0, 0]) == 0.5
    assert parse_pair((mu, logvar)) == (mu, logvar)
    loss = torch.tensor(0.3)
    assert parse_output((loss, x)).reconstruction is x  # (loss, recon): the loss passed over
    parsed = parse_output((loss, 2, x, mu, logvar))
    assert parsed.reconstruction is x and parsed.is_vae
    with pytest.raises(UnexpectedOutput):
        parse_output("a string")
    with pytest.raises(UnexpectedOutput):
        parse_output({"loss": 1.0})


def test_output_objects_are_read_by_their_field_names():
    import types
    from dataclasses import dataclass

    x, mu, logvar = torch.zeros(4, 6), torch.zeros(4, 2), torch.ones(4, 2)

    @dataclass
    class VAEOutput:
        loss: float
        x_hat: torch.Tensor
        z_mean: torch.Tensor
        z_log_var: torch.Tensor

    parsed = parse_output(VAEOutput(0.5, x, mu, logvar))
    assert parsed.reconstruction is x and parsed.mu is mu and parsed.logvar is logvar

    @dataclass
    class Posterior:
        mean: torch.Tensor
        log_var: torch.Tensor

    assert parse_pair(Posterior(mu, logvar)) == (mu, logvar)
    assert parse_output(types.SimpleNamespace(recon=x, n=3)).reconstruction is x
    with pytest.raises(UnexpectedOutput):  # an object's own attributes with no known name
        parse_output(types.SimpleNamespace(_cache=x))

    class Lazy:
        @property
        def recon(self) -> torch.Tensor:
            raise AssertionError("an output's code is never run to read it")

    with pytest.raises(UnexpectedOutput):
        parse_output(Lazy())
    with pytest.raises(UnexpectedOutput):
        parse_output(VAEOutput)  # the class, not an output


def test_only_never_negative_activations_take_the_mean_for_the_mean_abs():
    from torch import nn

    from aelog.sdk.model_inspect import watched_layers

    class MyReLU(nn.ReLU):  # a subclass may output anything
        def forward(self, x):
            return x

    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Tanh(), nn.Sigmoid(), nn.LeakyReLU(),
                          nn.Softplus(), MyReLU())
    marked = {layer.name: layer.nonnegative for layer in watched_layers(model)}
    assert marked == {"0": False, "1": True, "2": False, "3": True, "4": False, "5": True,
                      "6": False}


def test_a_diverged_code_keeps_its_spectrum():
    """Values of 1e30 in float32 overflow a Gram matrix (1e60): the eigen-solver then fails
    to converge and the probe would switch itself off for the rest of the run."""
    torch.manual_seed(0)
    code = torch.randn(64, 8) @ torch.randn(8, 8).tril()
    huge = code_stats(code * 1e30)
    plain = code_stats(code)
    assert float(huge[fmt.CODE_EFFECTIVE_RANK]) == pytest.approx(
        float(plain[fmt.CODE_EFFECTIVE_RANK]), rel=1e-4)
    wide = symptom_stats(torch.zeros(16, 300), torch.randn(16, 300) * 1e30, code_size=4)
    assert 0 < float(wide[fmt.DATA_EFFECTIVE_RANK]) <= 16
