"""The article's three examples, run as written (torch.randn data, full batch, Adam 1e-3,
100 steps), labelled with what they really show when measured.
"""

from __future__ import annotations

import torch

from benchmarks.scenarios import common as c
from benchmarks.scenarios import data, models
from benchmarks.scenarios.base import Manifest, Scenario, Setup

COLLAPSED, AT_RISK, HEALTHY = "collapsed", "at_risk", "healthy"


def _article(latent: int, fill: float | None = None):
    def setup() -> Setup:
        x = data.isotropic()
        model = models.LinearAutoencoder(100, latent)
        if fill is not None:
            with torch.no_grad():
                model.encoder.weight.fill_(fill)
                model.decoder.weight.fill_(fill)
        return Setup(model, torch.optim.Adam(model.parameters(), 1e-3), lambda step: x, c.mse,
                     steps=100, probe=x[:256])

    return setup


def _not_identical(latent: int):
    """What the article claims (identical outputs) against what happens."""

    def check(trace, model) -> Manifest:
        spread = c.spread_ratio(trace.probe_out_end, trace.probe_in)
        bound = c.pca_error(trace.probe_in, latent)
        rank = _code_rank(model, trace.probe_in)
        return Manifest(spread > 0.05, 0, f"outputs keep {100 * spread:.1f}% of the input "
                                          f"variance (not identical); best rank-{latent} error "
                                          f"{bound:.2f}; code effective rank {rank:.1f}")

    return check


def _code_rank(model, x) -> float:
    with torch.no_grad():
        code = model.encoder(x)
    s = torch.linalg.svdvals(code - code.mean(0))
    p = s / s.sum()
    return float(torch.exp(-(p * torch.log(p.clamp_min(1e-12))).sum()))


SCENARIOS = [
    Scenario("article/1_latent_80_of_100", None, "article example 1: linear AE, code 80, "
             "torch.randn data", _article(80), _not_identical(80),
             label="under-trained on data with no low-dimensional structure; outputs are not "
                   "identical and not an identity either",
             expected_status=(HEALTHY, AT_RISK)),
    Scenario("article/2_fill_0.001", "init_constant", "article example 2: linear AE, code 20, "
             "weights fill_(0.001)", _article(20, fill=0.001), _not_identical(20),
             label="constant init; the biases break the symmetry, so the outputs are not "
                   "identical but the code starts rank 1",
             expected_status=(AT_RISK, COLLAPSED)),
    Scenario("article/3_latent_20_of_100", None, "article example 3: linear AE, code 20, "
             "torch.randn data", _article(20), _not_identical(20),
             label="under-trained on data with no low-dimensional structure (best rank-20 code "
                   "loses ~71%); no regularisation problem",
             expected_status=(HEALTHY, AT_RISK)),
]
