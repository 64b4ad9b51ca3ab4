"""Promise: the same seeded run ends with bit-identical parameters with and without watch."""

from __future__ import annotations

import pytest
import torch
from sdk_fixtures import MLPAE, VAE, ConvAE, digits, final_state, train

import aelog

CASES = {
    "mlp_dropout": (lambda: MLPAE(dropout=0.3), lambda: digits()),
    "conv_batchnorm": (ConvAE, lambda: digits().reshape(-1, 1, 8, 8)),
    "vae_sampling": (VAE, lambda: digits()),
}


def _train(make_model, data, steps: int, watch_dir=None, **watch_kwargs):
    torch.manual_seed(1234)
    model = make_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3, weight_decay=1e-3)
    monitor = None
    if watch_dir is not None:
        monitor = aelog.watch(model, optimizer, logdir=watch_dir, run_name="r", **watch_kwargs)
    train(model, optimizer, data, steps)
    # evaluation forwards (validation) in between must not change anything either
    model.eval()
    with torch.no_grad():
        model(data[:32])
    model.train()
    train(model, optimizer, data, 5)
    if monitor is not None:
        monitor.close()
    return final_state(model), torch.get_rng_state(), monitor


@pytest.mark.parametrize("case", list(CASES))
def test_bit_identical_parameters(tmp_path, case):
    make_model, make_data = CASES[case]
    data = make_data()
    plain, plain_rng, _ = _train(make_model, data, 30)
    # log every step and run the identity check every time: the most intrusive setting.
    watched, watched_rng, monitor = _train(
        make_model, data, 30, watch_dir=tmp_path, log_every=1, identity_every=1
    )
    assert monitor.run_data().signal(aelog.logfile.format.IDENTITY_RATIO) is not None
    assert plain.keys() == watched.keys()
    for name in plain:
        assert torch.equal(plain[name], watched[name]), name
    assert torch.equal(plain_rng, watched_rng)  # the global RNG was never drawn from


def test_identity_check_restores_modes_and_batchnorm(tmp_path):
    torch.manual_seed(0)
    model = ConvAE()
    model.encoder[1].eval()  # a user's deliberately frozen BatchNorm stays in eval mode
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    data = digits().reshape(-1, 1, 8, 8)
    with aelog.watch(model, optimizer, logdir=tmp_path, log_every=1, identity_every=1):
        train(model, optimizer, data, 3)
        assert model.training and model.decoder[1].training
        assert not model.encoder[1].training
        running = model.decoder[1].running_mean.clone()
        batches = int(model.decoder[1].num_batches_tracked)
        train(model, optimizer, data, 1)
    # one training step moves the stats once; the identity forwards (eval) never do.
    assert int(model.decoder[1].num_batches_tracked) == batches + 1
    assert not torch.equal(model.decoder[1].running_mean, running)
