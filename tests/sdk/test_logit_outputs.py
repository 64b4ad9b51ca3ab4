"""Promise: a model that returns logits as a plain tensor and trains with
``BCEWithLogitsLoss`` (the most common loss for [0, 1] images) is measured on
sigmoid(output), as its loss sees it, from the first logged step: the SDK reads which loss
fits the gradient on the output. Real training loops on digits."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from sdk_fixtures import digits
from torch import nn

import aelog
from aelog.diagnosis.engine import diagnose_run
from aelog.logfile import format as fmt
from aelog.probes.loss_terms import BCE_ON_LOGITS, SQUARED_ERROR


def _mlp(latent: int = 8) -> nn.Sequential:
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, latent), nn.ReLU(),
                         nn.Linear(latent, 128), nn.ReLU(), nn.Linear(128, 64))


def _train(tmp_path, name: str, loss_fn, model: nn.Module, steps: int = 300):
    torch.manual_seed(0)
    data = digits(1024)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(1)
    with aelog.watch(model, optimizer, logdir=tmp_path, run_name=name, on_collapse=None) as mon:
        for _ in range(steps):
            x = data[torch.randint(0, len(data), (64,), generator=generator)]
            loss = loss_fn(model(x), x)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return x, mon.run_data()


def _relative_error(recon: torch.Tensor, x: torch.Tensor) -> float:
    return float((recon - x).pow(2).sum() / (x - x.mean(0)).pow(2).sum())


def test_logits_are_measured_as_probabilities_from_the_first_step(tmp_path):
    torch.manual_seed(0)
    model = _mlp()
    last, run = _train(tmp_path, "logits", F.binary_cross_entropy_with_logits, model)
    assert set(run.signal(fmt.RECON_LOSS_FORM).values) == {BCE_ON_LOGITS}
    low, high = run.signal(fmt.OUTPUT_MIN).values, run.signal(fmt.OUTPUT_MAX).values
    assert low.min() >= 0 and high.max() <= 1  # step 0 included, measured again once known
    assert run.signal(fmt.OUTPUT_MIN).steps[0] == 0
    with torch.no_grad():  # the end is measured on the last batch the model saw
        expected = _relative_error(torch.sigmoid(model(last)), last)
    assert run.signal(fmt.RELATIVE_ERROR).values[-1] == pytest.approx(expected, rel=1e-3)
    diagnosis = diagnose_run(run)
    assert diagnosis.status == "healthy", diagnosis.to_json()
    assert not any("look like logits" in note for note in diagnosis.notes)


def test_a_collapsed_logits_model_is_called_collapsed(tmp_path):
    """Logits that vary a lot while the probabilities barely do: a code killed by dead
    ReLUs leaves the decoder's bias, which BCE drives far from 0 for pixels always 0."""
    torch.manual_seed(0)
    model = _mlp()
    with torch.no_grad():
        model[2].bias.fill_(-20.0)  # every code unit dead from the start
    _, run = _train(tmp_path, "dead_logits", F.binary_cross_entropy_with_logits, model)
    diagnosis = diagnose_run(run)
    assert diagnosis.status == "collapsed", diagnosis.to_json()
    assert diagnosis.causes[0].id == "dead_relu"


def test_squared_error_outputs_are_measured_as_they_are(tmp_path):
    torch.manual_seed(0)
    model = _mlp()
    last, run = _train(tmp_path, "mse", F.mse_loss, model)
    assert set(run.signal(fmt.RECON_LOSS_FORM).values) == {SQUARED_ERROR}
    with torch.no_grad():
        expected = _relative_error(model(last), last)
    assert run.signal(fmt.RELATIVE_ERROR).values[-1] == pytest.approx(expected, rel=1e-3)
