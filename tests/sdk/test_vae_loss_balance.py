"""Promise: the most common posterior collapse in public threads, a reconstruction term
averaged over pixels next to a KL summed over latent dimensions, is named with the two
terms' reductions (read from the gradients, not from the user's code) and the scaling
that fixes it. Real training loops on digits."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F
from sdk_fixtures import digits
from torch import nn

import aelog
from aelog.diagnosis.engine import diagnose_run
from aelog.logfile import format as fmt


class DigitsVAE(nn.Module):
    def __init__(self, latent: int = 8) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(64, 128), nn.ReLU())
        self.mu, self.logvar = nn.Linear(128, latent), nn.Linear(128, latent)
        self.decoder = nn.Sequential(nn.Linear(latent, 128), nn.ReLU(), nn.Linear(128, 64),
                                     nn.Sigmoid())

    def forward(self, x):
        h = self.body(x)
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        return self.decoder(z), mu, logvar


def _train(tmp_path, name: str, reconstruction: str, steps: int = 600):
    torch.manual_seed(0)
    data = digits(1024)
    model = DigitsVAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(1)
    with aelog.watch(model, optimizer, logdir=tmp_path, run_name=name, on_collapse=None) as mon:
        for _ in range(steps):
            x = data[torch.randint(0, len(data), (64,), generator=generator)]
            recon, mu, logvar = model(x)
            if reconstruction == "mean":  # averaged over pixels and the batch
                rec = F.binary_cross_entropy(recon, x)
            else:  # summed over a sample's pixels, averaged over the batch
                rec = F.binary_cross_entropy(recon, x, reduction="sum") / len(x)
            kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1).mean()
            loss = rec + kl
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    run = mon.run_data()
    return run, diagnose_run(run)


def test_reconstruction_averaged_while_kl_summed_is_named_with_its_scaling(tmp_path):
    run, diagnosis = _train(tmp_path, "mean_recon", "mean")
    weights = run.signal(fmt.RECON_TERM_WEIGHT).values
    assert weights[-1] == pytest.approx(1 / 64, rel=0.01)  # BCE averaged over 64 pixels
    assert diagnosis.causes[0].id == "posterior_collapse", diagnosis.to_json()
    evidence = " ".join(diagnosis.causes[0].evidence)
    assert "averaged over the 64 output values" in evidence
    assert "summed over 8 latent dimensions" in evidence
    ratio = float(re.search(r"the KL weighs ([0-9.]+)x the reconstruction", evidence)[1])
    assert ratio == pytest.approx(64, rel=0.05)
    assert "sum the reconstruction over the 64 output values" in diagnosis.causes[0].fix


def test_the_matching_scaling_trains_a_healthy_vae(tmp_path):
    run, diagnosis = _train(tmp_path, "sum_recon", "sum")
    assert run.signal(fmt.RECON_TERM_WEIGHT).values[-1] == pytest.approx(1, rel=0.01)
    assert diagnosis.status == "healthy", diagnosis.to_json()
    assert not diagnosis.causes
