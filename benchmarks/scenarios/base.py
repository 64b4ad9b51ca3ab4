"""What a scenario is: a small training run with one injected defect (or none), and an
engine-independent check that the defect really showed up in the run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from aelog.diagnosis.types import CAUSE_IDS

LossFn = Callable[[object, torch.Tensor, nn.Module], torch.Tensor]
"""loss(model_output, target, model) -> scalar."""


@dataclass
class Setup:
    """Everything one training run needs; built fresh (seeded) for each run."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    batches: Callable[[int], torch.Tensor]
    """step -> input batch (the target is the input)."""
    loss: LossFn
    steps: int = 300
    validation: torch.Tensor | None = None
    """held-out inputs, forwarded in eval mode every ``validate_every`` steps."""
    validate_every: int = 10
    probe: torch.Tensor | None = None
    """a fixed batch on which the trace records outputs at the start and the end."""
    latent: str | None = None
    """the bottleneck module's name, for ``aelog.watch(latent=...)`` (None: let it find one)."""


@dataclass
class Trace:
    """What the training loop recorded, measured without aelog."""

    losses: list[float] = field(default_factory=list)
    val_losses: dict[int, float] = field(default_factory=dict)
    train_losses_at_val: dict[int, float] = field(default_factory=dict)
    initial_state: dict[str, torch.Tensor] = field(default_factory=dict)
    final_state: dict[str, torch.Tensor] = field(default_factory=dict)
    probe_in: torch.Tensor | None = None
    probe_out_start: torch.Tensor | None = None
    probe_out_end: torch.Tensor | None = None
    inputs_seen: list[torch.Tensor] = field(default_factory=list)
    """the first few training batches, as fed."""
    model: nn.Module | None = None
    """the trained model, for checks on its final weights."""
    probe_errors: dict[int, float] = field(default_factory=dict)
    """relative error on the probe batch every TRACK_EVERY steps (eval mode)."""
    noise_errors: dict[int, float] = field(default_factory=dict)
    """relative error on matched random inputs every TRACK_EVERY steps (eval mode)."""
    weight_norms: dict[int, float] = field(default_factory=dict)
    """norm of all weight matrices every TRACK_EVERY steps."""


@dataclass
class Manifest:
    """The defect measured independently of the engine."""

    ok: bool
    step: int
    """first step at which the symptom is measurable (0 for a defect present at init)."""
    detail: str


@dataclass
class Scenario:
    name: str
    cause: str | None
    """the injected cause; None for a healthy run."""
    kind: str
    """architecture / data / optimizer in a few words."""
    setup: Callable[[], Setup]
    manifests: Callable[[Trace, nn.Module], Manifest]
    quick: bool = False
    """part of the quick subset run by the test suite."""
    also_acceptable: tuple[str, ...] = ()
    """causes that honestly hold as well (tiny init also kills ReLUs); reported, not scored."""
    label: str = ""
    """for the article's examples: what they really show when measured."""
    expected_status: tuple[str, ...] = ()
    """statuses counted as right; empty: healthy for healthy runs, not healthy otherwise."""

    def __post_init__(self) -> None:
        if self.cause is not None and self.cause not in CAUSE_IDS:
            raise ValueError(f"{self.name}: unknown cause {self.cause!r}")
