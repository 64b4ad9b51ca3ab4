"""VAEs written with ``torch.distributions`` (the Pyro style): the decoder hands back a
distribution over the data, the encoder a Normal posterior. Real small training loops on
an ELBO, each measured at every step and trained exactly as without aelog."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.distributions as td
from sdk_fixtures import digits
from torch import nn

import aelog
from aelog.logfile import format as fmt
from aelog.sdk.nonfinite_watch import _first_tensor
from aelog.sdk.outputs import parse_output, parse_pair
from aelog.sdk.probe_guard import AelogWarning

LATENT = 6
STEPS = 12


class NormalEncoder(nn.Module):
    """An encoder module that returns the posterior itself."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 2 * LATENT))

    def forward(self, x):
        mu, log_sigma = self.body(x).chunk(2, dim=-1)
        return td.Normal(mu, log_sigma.exp())


class DistributionVAE(nn.Module):
    """``output`` picks what forward returns: ``(p(x|z), q(z|x))``, a dict of the two with
    a Bernoulli decoder, or ``(reconstruction, q(z|x))``."""

    def __init__(self, output: str) -> None:
        super().__init__()
        self.output = output
        self.encoder = NormalEncoder()
        self.decoder = nn.Sequential(nn.Linear(LATENT, 32), nn.Tanh(), nn.Linear(32, 64))

    def forward(self, x):
        q = self.encoder(x)
        decoded = self.decoder(q.rsample())
        if self.output == "tuple":
            return td.Independent(td.Normal(decoded, 0.1), 1), q
        if self.output == "dict":
            return {"px": td.Independent(td.Bernoulli(logits=decoded), 1), "qz": q}
        return decoded, q


def _elbo_loss(output, x):
    if isinstance(output, dict):
        px, q = output["px"], output["qz"]
        log_likelihood = px.log_prob(x)
    elif isinstance(output[0], td.Distribution):
        px, q = output
        log_likelihood = px.log_prob(x)
    else:
        decoded, q = output
        log_likelihood = -((decoded - x) ** 2).sum(-1)
    kl = td.kl_divergence(q, td.Normal(0.0, 1.0)).sum(-1)
    return (kl - log_likelihood).mean()


def _train(model, optimizer, data) -> None:
    for step in range(STEPS):
        x = data[(step * 32) % 96:][:32]
        optimizer.zero_grad()
        _elbo_loss(model(x), x).backward()
        optimizer.step()


@pytest.mark.parametrize("output", ["tuple", "dict", "tensor_and_posterior"])
def test_a_vae_of_distributions_is_measured_and_trained_as_without_aelog(tmp_path, output):
    pixels = digits(128)
    data = (pixels > pixels.mean()).float()  # binary: a Bernoulli decoder's support
    torch.manual_seed(0)
    bare = DistributionVAE(output)
    bare_optimizer = torch.optim.Adam(bare.parameters(), lr=1e-2)
    _train(bare, bare_optimizer, data)
    torch.manual_seed(0)
    model = DistributionVAE(output)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with aelog.watch(model, optimizer, logdir=tmp_path, log_every=1, identity_every=1,
                         on_collapse=None) as monitor:
            _train(model, optimizer, data)
    assert not [str(w.message) for w in caught if issubclass(w.category, AelogWarning)]
    run = monitor.run_data()
    for signal in (fmt.RELATIVE_ERROR, fmt.OUTPUT_VARIANCE_RATIO, fmt.KL_PER_DIM,
                   fmt.ACTIVE_UNITS_FRACTION, fmt.CODE_EFFECTIVE_RANK):
        assert len(run.signal(signal)) == STEPS + 1, signal  # every step, and the end
    assert run.metadata["model"]["is_vae"] is True
    assert run.metadata["config"]["latent_size"] == LATENT
    for trained, untouched in zip(model.parameters(), bare.parameters(), strict=True):
        assert torch.equal(trained, untouched)


def test_distributions_are_read_as_their_tensors():
    loc, scale = torch.randn(4, 3), torch.rand(4, 3) + 0.5
    posterior = td.Normal(torch.zeros(4, 2), torch.full((4, 2), 2.0))
    parsed = parse_output((td.Independent(td.Normal(loc, scale), 1), posterior))
    assert torch.equal(parsed.reconstruction, loc) and parsed.is_vae
    assert torch.allclose(parsed.logvar, torch.full((4, 2), 2 * torch.log(torch.tensor(2.0))))
    bernoulli = parse_output({"px": td.Bernoulli(logits=loc)})  # its mean: the probabilities
    assert torch.allclose(bernoulli.reconstruction, torch.sigmoid(loc))
    assert not bernoulli.is_vae and not bernoulli.from_logits
    alone = parse_output(td.Normal(loc, scale))  # a decoder distribution alone: not a VAE
    assert torch.equal(alone.reconstruction, loc) and not alone.is_vae
    categorical = parse_output(td.Categorical(logits=torch.randn(4, 5, 10)))
    assert categorical.reconstruction.shape == (4, 5, 10)
    mu, logvar = parse_pair(posterior)
    assert torch.equal(mu, posterior.loc) and logvar.shape == (4, 2)
    assert torch.equal(_first_tensor((td.Normal(loc, scale), posterior)), loc)
    assert torch.equal(_first_tensor((torch.tensor(1.5), loc)), loc)  # a loss first: skipped
