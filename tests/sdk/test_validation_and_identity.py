"""Validation from eval-mode forwards with no extra line; the identity check on random inputs."""

from __future__ import annotations

import torch
from sdk_fixtures import MLPAE, digits, train
from torch import nn

import aelog
from aelog.logfile import format as fmt


def test_eval_forwards_are_validation(tmp_path):
    torch.manual_seed(0)
    data = digits(512)
    train_x, val_x = data[:256], data[256:]
    model = MLPAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    with aelog.watch(model, optimizer, logdir=tmp_path, log_every=5, on_collapse=None) as mon:
        for _epoch in range(3):
            train(model, optimizer, train_x, 10)
            model.eval()
            with torch.no_grad():
                outputs = [model(val_x[i : i + 64]) for i in range(0, 256, 64)]
            model.train()
    run = mon.run_data()
    val = run.signal(fmt.VAL_RELATIVE_ERROR)
    # eval batches seen after steps 9, 19, 29 are written at the next logging step (10, 20)
    # and, for the last epoch, at close (step 30).
    assert val.steps.tolist() == [10, 20, 30]
    # the logged value is the whole validation set's error, recomputed independently:
    recon = torch.cat(outputs)
    error = (recon - val_x).pow(2).sum() / sum(
        (val_x[i : i + 64] - val_x[i : i + 64].mean(0)).pow(2).sum() for i in range(0, 256, 64)
    )
    assert abs(val.values[-1] - float(error)) < 1e-5
    assert run.signal(fmt.VAL_OUTPUT_VARIANCE_RATIO) is not None
    # eval forwards are not training steps (30: the end, measured at close)
    assert run.signal(fmt.RELATIVE_ERROR).steps.tolist() == [0, 5, 10, 15, 20, 25, 30]


def _pca_autoencoder(data: torch.Tensor, k: int) -> nn.Module:
    """A linear autoencoder set to the data's top-k principal components."""
    mean = data.mean(0)
    _, _, vt = torch.linalg.svd(data - mean, full_matrices=False)
    basis = vt[:k]
    model = nn.Sequential(nn.Linear(64, k), nn.Linear(k, 64))
    with torch.no_grad():
        model[0].weight.copy_(basis)
        model[0].bias.copy_(-basis @ mean)
        model[1].weight.copy_(basis.T)
        model[1].bias.copy_(mean)
    return model


def _shrunk_identity(data: torch.Tensor) -> nn.Module:
    """out = mean + 0.9 (x - mean): passes anything through, 1% relative error on any input."""
    model = nn.Sequential(nn.Linear(64, 64), nn.Identity())
    with torch.no_grad():
        model[0].weight.copy_(0.9 * torch.eye(64))
        model[0].bias.copy_(0.1 * data.mean(0))
    return model


def _identity_ratio(tmp_path, name, model, data):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)  # measure, do not move
    with aelog.watch(model, optimizer, logdir=tmp_path, run_name=name, log_every=1,
                     identity_every=1, on_collapse=None) as monitor:
        train(model, optimizer, data, 2, batch=256)
    run = monitor.run_data()
    return run.signal(fmt.IDENTITY_RATIO).values[-1], run


def test_identity_check_separates_identity_from_a_learned_code(tmp_path):
    data = digits(512)
    wide, _ = _identity_ratio(tmp_path, "wide", _shrunk_identity(data), data)
    narrow, narrow_run = _identity_ratio(tmp_path, "narrow", _pca_autoencoder(data, 4), data)
    assert abs(wide - 1.0) < 0.1  # an identity-like model reconstructs noise as well as data
    assert narrow > 1.5  # a 4-dim PCA code does far worse on noise than on digits
    assert narrow_run.signal(fmt.RANDOM_INPUT_ERROR).values[-1] > 0.8
    # the bottleneck here is found as the narrowest output: layer "0", 4 wide
    assert narrow_run.metadata["model"]["latent_module"] == "0"
    # a PCA code reaches exactly the rank-k bound on the same batch
    assert abs(narrow_run.signal(fmt.RELATIVE_ERROR).values[-1]
               - narrow_run.signal(fmt.RANK_K_ERROR).values[-1]) < 0.05


class _Conditional(nn.Module):
    """model(x, labels): a second per-sample tensor that must keep matching x's rows."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(64, 8), nn.ReLU(), nn.Linear(8, 64))
        self.embed = nn.Embedding(10, 64)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.net(x + self.embed(labels))


def _identity_forward_sizes(tmp_path, model, data, labels=None) -> list[int]:
    """Batch sizes of the forwards the identity check made (eval mode, no grad)."""
    sizes: list[int] = []
    model.register_forward_pre_hook(
        lambda module, args: sizes.append(args[0].shape[0])
        if not module.training and not torch.is_grad_enabled() else None)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    with aelog.watch(model, optimizer, logdir=tmp_path, log_every=1, identity_every=1,
                     on_collapse=None) as monitor:
        for _ in range(2):
            optimizer.zero_grad()
            args = (data,) if labels is None else (data, labels)
            nn.functional.mse_loss(model(*args), data).backward()
            optimizer.step()
    assert monitor.run_data().signal(fmt.IDENTITY_RATIO) is not None
    return sizes


def test_identity_check_runs_on_a_few_samples_where_the_call_allows(tmp_path):
    from aelog.probes.identity import IDENTITY_SAMPLES

    torch.manual_seed(0)
    data = digits(128)
    sizes = _identity_forward_sizes(tmp_path / "plain", MLPAE(), data)
    assert sizes and set(sizes) == {IDENTITY_SAMPLES}  # data and noise, a subset each
    # with another per-sample tensor in the call, the whole batch (rows must match)
    labels = torch.randint(0, 10, (128,))
    sizes = _identity_forward_sizes(tmp_path / "cond", _Conditional(), data, labels)
    assert sizes and set(sizes) == {128}
