"""Promise: the same seeded run ends with bit-identical parameters with and without watch."""

from __future__ import annotations

import pytest
import torch
from sdk_fixtures import MLPAE, VAE, ConvAE, digits, final_state, train

import aelog


class DenoisingAE(MLPAE):
    """Draws its corruption from generators it owns, not from the global RNG: one as an
    attribute, one inside a dict, and it corrupts in eval mode too."""

    def __init__(self) -> None:
        super().__init__()
        self.noise = torch.Generator().manual_seed(123)
        self.masks = {"drop": torch.Generator().manual_seed(7)}

    def forward(self, x):
        noisy = x + 0.3 * torch.randn(x.shape, generator=self.noise)
        keep = torch.rand(x.shape, generator=self.masks["drop"]) > 0.2
        return super().forward(noisy * keep)


CASES = {
    "mlp_dropout": (lambda: MLPAE(dropout=0.3), lambda: digits()),
    "denoising_owned_generators": (DenoisingAE, lambda: digits()),
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


def _train_from_loader(watch_dir=None):
    """A DataLoader that shuffles and drops inputs with its own generator, in workers' place."""
    torch.manual_seed(99)
    model = MLPAE(dropout=0.2)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    loader = torch.utils.data.DataLoader(digits(), batch_size=32, shuffle=True,
                                         generator=torch.Generator().manual_seed(5))
    monitor = aelog.watch(model, optimizer, logdir=watch_dir, run_name="r", log_every=1,
                          identity_every=1) if watch_dir is not None else None
    for _ in range(3):
        for x in loader:
            optimizer.zero_grad()
            ((model(x) - x) ** 2).mean().backward()
            optimizer.step()
    if monitor is not None:
        monitor.close()
    return final_state(model)


def test_bit_identical_with_a_data_loader_owning_its_generator(tmp_path):
    plain, watched = _train_from_loader(), _train_from_loader(tmp_path)
    for name in plain:
        assert torch.equal(plain[name], watched[name]), name


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
