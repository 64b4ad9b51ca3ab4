"""Large parameters are snapshot as a sample: small memory, update sizes still right.

Each test runs real optimizer steps on a wide layer and compares what the probe reports
with the exact values, computed here from a full copy of the weights."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from aelog.probes import optimizer as probe

WIDE = (600, 700)
"""420,000 weights: a sampled parameter (over SNAPSHOT_ELEMENTS), a row length of 700."""


def _layer() -> nn.Linear:
    torch.manual_seed(0)
    return nn.Linear(WIDE[1], WIDE[0])


def _inputs(zero_columns: bool = False) -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(64, WIDE[1], generator=generator)
    if zero_columns:
        x[:, ::2] = 0  # half the input features are dead: their weights get no gradient
    return x


def _measured_step(layer: nn.Linear, optimizer: torch.optim.Optimizer, x: torch.Tensor,
                   decoupled: bool = False) -> tuple[dict[str, list[float]], dict]:
    """One training step measured by the probe, and the exact values from a full copy."""
    params = [probe.TrainedParam(p, layer="fc", group=optimizer.param_groups[0],
                                 decoupled=decoupled) for p in layer.parameters()]
    optimizer.zero_grad()
    layer(x).pow(2).mean().backward()
    measure = probe.StepMeasure()
    probe.snapshot_weights(params, measure)
    full_before = [p.detach().clone() for p in layer.parameters()]
    optimizer.step()
    probe.read_gradients(params, measure)
    probe.read_updates(params, measure)
    measured = {name: [float(v) for v in getattr(measure, name)]
                for name in probe.StepMeasure.HOST_FIELDS}
    decay = params[0].lr * params[0].weight_decay if decoupled else 0.0
    exact: dict[str, list[float]] = {"update_sq": [], "grad_dot_weight": [],
                                     "loss_update_sq": [], "norms": []}
    for p, before in zip(layer.parameters(), full_before, strict=True):
        delta = p.detach() - before
        exact["update_sq"].append(float(delta.pow(2).sum()))
        exact["grad_dot_weight"].append(float((p.grad * before).sum()))
        exact["norms"].append(float(p.grad.norm() * before.norm()))
        exact["loss_update_sq"].append(float((delta + decay * before).pow(2).sum()))
    return measured, exact


@pytest.mark.parametrize("make_optimizer, decoupled", [
    (lambda p: torch.optim.SGD(p, lr=0.1), False),
    (lambda p: torch.optim.Adam(p, lr=1e-3), False),
    (lambda p: torch.optim.AdamW(p, lr=1e-3, weight_decay=0.1), True),
])
@pytest.mark.parametrize("zero_columns", [False, True])
def test_sampled_update_sizes_are_within_two_percent_of_exact(make_optimizer, decoupled,
                                                              zero_columns):
    layer = _layer()
    optimizer = make_optimizer(layer.parameters())
    x = _inputs(zero_columns)
    for _ in range(3):  # Adam's first steps are all the same size: let it spread
        measured, exact = _measured_step(layer, optimizer, x, decoupled)
    weight = 0  # the sampled one; the bias (600 elements) is exact
    for name in ("update_sq", "loss_update_sq"):
        assert measured[name][weight] == pytest.approx(exact[name][weight], rel=0.02), name
        assert measured[name][1] == pytest.approx(exact[name][1], rel=1e-4), name
    # g.w from the sample: the gradient-weight cosine it gives is off by under 0.01
    cosine_error = (measured["grad_dot_weight"][weight] - exact["grad_dot_weight"][weight]
                    ) / exact["norms"][weight]
    assert abs(cosine_error) < 0.01
    assert measured["grad_dot_weight"][1] == pytest.approx(exact["grad_dot_weight"][1],
                                                           rel=1e-4)
    assert measured["grad_sq"][weight] == pytest.approx(
        float(layer.weight.grad.pow(2).sum()), rel=1e-5)


def test_a_large_parameter_that_does_not_move_has_an_update_of_exactly_zero():
    layer = _layer()
    layer.weight.register_hook(torch.zeros_like)  # a branch the loss does not reach
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    measured, _ = _measured_step(layer, optimizer, _inputs())
    assert measured["update_sq"][0] == 0.0
    assert measured["update_sq"][1] > 0


def test_the_snapshot_of_a_large_parameter_is_a_sample_walking_through_every_column():
    weight = torch.zeros(WIDE)
    stride = probe.sample_stride(weight)
    assert stride > 1 and math.gcd(stride, WIDE[1]) == 1
    sampled = torch.arange(weight.numel())[::stride]
    assert sampled.numel() <= probe.SNAPSHOT_ELEMENTS
    assert set((sampled % WIDE[1]).tolist()) == set(range(WIDE[1]))  # every column
    measure = probe.StepMeasure()
    params = [probe.TrainedParam(nn.Parameter(weight), layer="fc")]
    probe.snapshot_weights(params, measure)
    assert measure.before[0].numel() == sampled.numel()
    assert measure.weight_sq[0] == 0.0


def test_small_parameters_are_copied_whole():
    assert probe.sample_stride(torch.zeros(probe.SNAPSHOT_ELEMENTS)) == 1
    assert probe.sample_stride(torch.zeros(256, 256)) == 1
    assert probe.sample_stride(torch.zeros(256, 257)) > 1
