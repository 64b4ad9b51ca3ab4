"""Optimizers of every kind (hooked, never wrapped), optimizer=None, and the step signals
checked against an independent computation of the same step."""

from __future__ import annotations

import math

import pytest
import torch
from sdk_fixtures import MLPAE, digits, train

import aelog
from aelog.logfile import format as fmt


class PlainSGD(torch.optim.Optimizer):
    """A user's own optimizer: step hooks must work on any torch.optim.Optimizer."""

    def __init__(self, params, lr=0.05):
        super().__init__(params, {"lr": lr})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.add_(p.grad, alpha=-group["lr"])


OPTIMIZERS = {
    "sgd": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=1e-3),
    "adam": lambda p: torch.optim.Adam(p, lr=1e-2, weight_decay=1e-3),
    "adamw": lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=0.5),
    "custom": lambda p: PlainSGD(p),
    "none": None,
}


def _reference_first_step(make_optimizer, x):
    """Grad norm, weight norm and update ratio of step 0, computed without aelog."""
    torch.manual_seed(0)
    model = MLPAE()
    params = list(model.parameters())
    before = [p.detach().clone() for p in params]
    optimizer = make_optimizer(params) if make_optimizer else None
    loss = ((model(x) - x) ** 2).mean()
    loss.backward()
    grads = [p.grad.detach().clone() for p in params]
    if optimizer is not None:
        optimizer.step()
    else:
        with torch.no_grad():
            for p in params:
                p -= 0.05 * p.grad
    norm = lambda ts: math.sqrt(sum(float(t.double().pow(2).sum()) for t in ts))  # noqa: E731
    weight = norm(before)
    update = norm([p.detach() - b for p, b in zip(params, before, strict=True)])
    dot = sum(float((g.double() * b.double()).sum()) for g, b in zip(grads, before, strict=True))
    return {
        fmt.GRAD_NORM: norm(grads),
        fmt.WEIGHT_NORM: weight,
        fmt.UPDATE_RATIO: update / weight,
        fmt.GRAD_WEIGHT_COSINE: dot / (norm(grads) * weight),
    }


@pytest.mark.parametrize("kind", list(OPTIMIZERS))
def test_every_optimizer_kind(tmp_path, kind):
    make_optimizer = OPTIMIZERS[kind]
    data = digits(128)
    torch.manual_seed(0)
    model = MLPAE()
    optimizer = make_optimizer(model.parameters()) if make_optimizer else None
    with aelog.watch(model, optimizer, logdir=tmp_path, run_name="r", log_every=1,
                     on_collapse=None) as monitor:
        train(model, optimizer, data, 12, batch=64)
    run = monitor.run_data()
    assert run.signal(fmt.GRAD_NORM).steps.tolist() == list(range(12))
    assert run.signal(fmt.FROZEN_FRACTION).values.max() == 0.0
    assert run.signal(fmt.FROZEN_FRACTION).steps[0] == 1
    expected = _reference_first_step(make_optimizer, data[:64])
    for signal, value in expected.items():
        assert run.signal(signal).values[0] == pytest.approx(value, rel=1e-4), signal
    if optimizer is not None:
        assert run.signal(fmt.LR).values[0] == optimizer.param_groups[0]["lr"]
        assert run.metadata["optimizer"]["class"] == type(optimizer).__name__
    else:
        assert run.metadata["optimizer"] is None and run.signal(fmt.LR) is None
    assert run.metadata["optimizer"] is None or (
        run.metadata["optimizer"]["decoupled_weight_decay"] == (kind == "adamw")
    )


def _pull(tmp_path, name, make_optimizer):
    torch.manual_seed(0)
    model = MLPAE()
    optimizer = make_optimizer(model.parameters())
    with aelog.watch(model, optimizer, logdir=tmp_path, run_name=name, log_every=1,
                     on_collapse=None) as monitor:
        train(model, optimizer, digits(128), 3)
    return monitor.run_data().signal(fmt.REGULARIZATION_PULL).values


def test_regularization_pull_coupled_matches_its_definition(tmp_path):
    torch.manual_seed(0)
    model, x = MLPAE(), digits(64)
    ((model(x) - x) ** 2).mean().backward()
    grad = math.sqrt(sum(float(p.grad.pow(2).sum()) for p in model.parameters()))
    weight = math.sqrt(sum(float(p.detach().pow(2).sum()) for p in model.parameters()))
    pull = _pull(tmp_path, "sgd", lambda p: torch.optim.SGD(p, lr=0.01, weight_decay=0.3))
    assert pull[0] == pytest.approx(0.3 * weight / grad, rel=1e-4)


def test_regularization_pull_decoupled_grows_with_decay(tmp_path):
    weak = _pull(tmp_path, "weak", lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=1e-3))
    strong = _pull(tmp_path, "strong", lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=10))
    none = _pull(tmp_path, "none", lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=0))
    assert none.max() == 0.0
    assert weak.max() < 0.1 < 1.0 < strong.min()


def test_frozen_parameters_are_measured(tmp_path):
    torch.manual_seed(0)
    model = MLPAE()
    optimizer = torch.optim.Adam(model.decoder.parameters(), lr=1e-2)  # encoder forgotten
    with aelog.watch(model, optimizer, logdir=tmp_path, log_every=1,
                     on_collapse=None) as monitor:
        train(model, optimizer, digits(128), 4)
    run = monitor.run_data()
    encoder = sum(p.numel() for p in model.encoder.parameters())
    total = sum(p.numel() for p in model.parameters())
    # measured from the weights themselves, from the second logging step on
    assert run.signal(fmt.FROZEN_FRACTION).values.tolist() == [encoder / total] * 3
    layers = {entry["name"]: entry for entry in run.metadata["model"]["layers"]}
    assert layers["encoder.0"]["in_optimizer"] is False
    assert layers["decoder.0"]["in_optimizer"] is True
    assert run.metadata["model"]["parameters_in_optimizer"] == total - encoder


def test_learning_rate_schedule_is_followed(tmp_path):
    torch.manual_seed(0)
    model = MLPAE()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    with aelog.watch(model, optimizer, logdir=tmp_path, log_every=1,
                     on_collapse=None) as monitor:
        for _ in range(3):
            train(model, optimizer, digits(64), 1)
            scheduler.step()
    # and at the end, the rate the next step would use
    assert monitor.run_data().signal(fmt.LR).values.tolist() == [0.1, 0.05, 0.025, 0.0125]


class DetachedLatentAE(MLPAE):
    def forward(self, x):
        return self.decoder(self.encoder(x).detach())  # the encoder never gets a gradient


def test_a_detached_latent_freezes_the_encoder(tmp_path):
    torch.manual_seed(0)
    model = DetachedLatentAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    with aelog.watch(model, optimizer, logdir=tmp_path, log_every=1,
                     on_collapse=None) as monitor:
        train(model, optimizer, digits(128), 4)
    run = monitor.run_data()
    encoder = sum(p.numel() for p in model.encoder.parameters())
    total = sum(p.numel() for p in model.parameters())
    assert run.signal(fmt.FROZEN_FRACTION).values.tolist() == [encoder / total] * 3
    assert run.layer_signal("encoder.0", fmt.LAYER_GRAD_NORM).values.max() == 0.0


def test_two_optimizers_are_not_mistaken_for_frozen_parameters(tmp_path):
    torch.manual_seed(0)
    model = MLPAE()
    encoder_opt = torch.optim.Adam(model.encoder.parameters(), lr=1e-2)
    decoder_opt = torch.optim.Adam(model.decoder.parameters(), lr=1e-2)
    x = digits(64)
    with aelog.watch(model, decoder_opt, logdir=tmp_path, log_every=1,
                     on_collapse=None) as monitor:
        for _ in range(4):
            encoder_opt.zero_grad()
            decoder_opt.zero_grad()
            ((model(x) - x) ** 2).mean().backward()
            encoder_opt.step()
            decoder_opt.step()
    run = monitor.run_data()
    assert run.signal(fmt.FROZEN_FRACTION).values.tolist() == [0.0] * 3
    assert run.layer_signal("encoder.0", fmt.LAYER_GRAD_NORM).values.min() > 0


class OneUlpNudge(torch.optim.Optimizer):
    """Moves one element of each parameter by one float32 ulp a step: a move too small for a
    sum or a sum of squares over thousands of elements to show."""

    def __init__(self, params):
        super().__init__(params, {"lr": 0.0})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                flat = p.view(-1)
                flat[-1] = torch.nextafter(flat[-1], torch.tensor(math.inf))


def test_a_parameter_moved_by_one_ulp_is_not_frozen(tmp_path):
    torch.manual_seed(0)
    model = MLPAE()
    params = list(model.parameters())
    start = [p.detach().clone() for p in params]
    optimizer = OneUlpNudge(params)
    with aelog.watch(model, optimizer, logdir=tmp_path, log_every=1,
                     on_collapse=None) as monitor:
        train(model, optimizer, digits(128), 3)
    assert all(not torch.equal(p, s) for p, s in zip(params, start, strict=True))
    assert monitor.run_data().signal(fmt.FROZEN_FRACTION).values.tolist() == [0.0] * 2


def test_only_parameters_outside_training_are_fingerprinted(tmp_path, monkeypatch):
    """Trained parameters' movement comes from the update the logging step measures: no
    extra passes over their weights (two per parameter per logging step otherwise)."""
    from aelog.probes import optimizer as optimizer_probe

    fingerprinted = []
    original = optimizer_probe.weight_fingerprint

    def counted(param):
        fingerprinted.append(param)
        return original(param)

    monkeypatch.setattr(optimizer_probe, "weight_fingerprint", counted)
    torch.manual_seed(0)
    model = MLPAE()
    for p in model.encoder.parameters():
        p.requires_grad_(False)  # frozen on purpose, outside training
    optimizer = torch.optim.Adam(model.decoder.parameters(), lr=1e-2)
    with aelog.watch(model, optimizer, logdir=tmp_path, log_every=1,
                     on_collapse=None) as monitor:
        train(model, optimizer, digits(128), 4)
    encoder = {id(p) for p in model.encoder.parameters()}
    assert fingerprinted and {id(p) for p in fingerprinted} == encoder
    total = sum(p.numel() for p in model.parameters())
    encoder_size = sum(p.numel() for p in model.encoder.parameters())
    frozen = monitor.run_data().signal(fmt.FROZEN_FRACTION).values.tolist()
    assert frozen == [encoder_size / total] * 3
