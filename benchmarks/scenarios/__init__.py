"""The scenario suite: deliberately broken training runs with a known cause, healthy runs,
and the article's examples. One module per family; each lists its ``SCENARIOS``."""

from __future__ import annotations

from benchmarks.scenarios import (
    activations,
    article,
    healthy,
    init,
    latent,
    optim,
    pipeline,
    regularization,
)
from benchmarks.scenarios.base import Scenario

FAMILIES = (init, optim, regularization, activations, latent, pipeline, healthy, article)


def all_scenarios() -> list[Scenario]:
    return [s for family in FAMILIES for s in family.SCENARIOS]


def quick_scenarios() -> list[Scenario]:
    return [s for s in all_scenarios() if s.quick]
