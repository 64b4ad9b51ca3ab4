"""Non-finite gradients and weights are counted exactly, without a full pass when healthy."""

from __future__ import annotations

import math

import torch

from aelog.logfile import format as fmt
from aelog.probes import optimizer as probe


def _stats(grads: list[torch.Tensor], weights: list[torch.Tensor]) -> dict[str, float]:
    params = []
    for grad, weight in zip(grads, weights, strict=True):
        tensor = torch.nn.Parameter(weight.clone())
        tensor.grad = grad
        params.append(probe.TrainedParam(tensor, layer="fc"))
    measure = probe.StepMeasure()
    probe.snapshot_weights(params, measure)
    probe.read_gradients(params, measure)
    probe.read_updates(params, measure)
    values = {
        name: [float(v) for v in getattr(measure, name)] for name in probe.StepMeasure.HOST_FIELDS
    }
    headline, _ = probe.step_stats(params, values)
    return headline


def test_counts_match_a_full_isfinite_pass():
    grad = torch.ones(10)
    grad[3] = float("nan")
    grad[7] = float("inf")
    weight = torch.ones(10)
    weight[0] = float("-inf")
    headline = _stats([grad, torch.ones(6)], [weight, torch.ones(6)])
    assert headline[fmt.NONFINITE_GRAD_FRACTION] == 2 / 16
    assert headline[fmt.NONFINITE_WEIGHT_FRACTION] == 1 / 16
    assert math.isnan(headline[fmt.GRAD_NORM]) or math.isinf(headline[fmt.GRAD_NORM])


def test_healthy_step_reports_zero():
    headline = _stats([torch.ones(5)], [torch.ones(5)])
    assert headline[fmt.NONFINITE_GRAD_FRACTION] == 0.0
    assert headline[fmt.NONFINITE_WEIGHT_FRACTION] == 0.0
