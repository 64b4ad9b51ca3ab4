"""One scenario drawn from one seed: architecture, data, optimizer, length, and a defect.

Everything follows from the seed, so a seed range is a fixed set of scenarios that a
report can name and anyone can re-run. The draw knows nothing about the engine.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace

HEALTHY = "healthy"

VECTOR_DATA = ("digits", "images255", "lowrank", "sines", "binary", "tabular")
IMAGE_DATA = ("digits", "images255")
FAMILIES = {
    "digits": ("mlp", "conv2d"),
    "images255": ("mlp", "conv2d"),
    "lowrank": ("mlp", "conv1d", "gru", "transformer"),
    "sines": ("mlp", "conv1d", "gru", "transformer"),
    "binary": ("mlp", "conv1d", "transformer"),
    "tabular": ("mlp", "conv1d"),
    "tokens": ("gru", "conv1d", "transformer"),
}
OPTIMIZERS = {  # a sensible learning rate for each (per feature for plain SGD: the loss is
    # summed over features); the draw spreads it 3x either way
    "sgd": 0.3, "momentum": 0.05, "adam": 1e-3, "adamw": 1e-3, "rmsprop": 5e-4,
}
DEFECTS = (
    "lr_too_high", "lr_too_low", "init_constant", "init_too_small", "init_too_large",
    "dead_relu", "saturated_activation", "frozen_parameters", "constant_input",
    "over_regularized", "under_regularized", "latent_too_small", "latent_too_large",
    "posterior_collapse", "loss_mismatch",
)
OUTSIDE = "not_among_15"
"""the label of a defect no cause id names: the right answer is that note, no cause."""
OUTSIDE_DEFECTS = ("misread_layout",)
"""``logits.view(B, V, T)`` where ``permute(0, 2, 1)`` was meant, before cross-entropy."""
TOKEN_DEFECTS = ("misread_layout", "lr_too_high", "lr_too_low", "frozen_parameters",
                 "constant_input", "posterior_collapse", "init_constant")
STANDARDISED = ("lowrank", "sines", "tabular")
"""data with negative values and unit spread: a sigmoid or ReLU output cannot fit it."""


@dataclass(frozen=True)
class Spec:
    seed: int
    defect: str
    """a cause id, or "healthy"."""
    severity: float
    """0..1: how hard the defect is applied (each defect maps it onto its own scale)."""
    data: str
    family: str
    vae: bool
    optimizer: str
    lr: float
    batch: int
    steps: int
    width: int
    latent: int
    activation: str
    output: str
    """"linear", "sigmoid" (with BCE on [0, 1] data), "logits" (BCE-with-logits)."""
    depth: int = 2
    """hidden layers on each side of an MLP's code."""

    def fixed(self) -> Spec:
        """The same run without its defect: the twin that shows what the defect did."""
        output = self.output
        if self.defect == "loss_mismatch":  # the fix is the output layer itself
            output = "linear"
        return replace(self, defect=HEALTHY, severity=0.0, output=output)

    @property
    def truth(self) -> str:
        """The answer a diagnosis should give: the cause id, "healthy", or OUTSIDE."""
        return OUTSIDE if self.defect in OUTSIDE_DEFECTS else self.defect

    def describe(self) -> str:
        kind = f"{self.family}{' VAE' if self.vae else ''} on {self.data}"
        return (f"{kind}, {self.optimizer} lr {self.lr:.2g}, batch {self.batch}, "
                f"{self.steps} steps, width {self.width}"
                f"{' x1' if self.family == 'mlp' and self.depth == 1 else ''}, "
                f"latent {self.latent}, "
                f"{self.activation}, {self.output} output")


def _log_uniform(rng: random.Random, low: float, high: float) -> float:
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def draw(seed: int, healthy_share: float = 0.25) -> Spec:
    """The scenario of one seed: a defect (or none), then a setting where it can arise."""
    rng = random.Random(seed)
    defect = HEALTHY if rng.random() < healthy_share else rng.choice(
        (*DEFECTS, *OUTSIDE_DEFECTS))
    data = rng.choice((*VECTOR_DATA, "tokens"))
    if defect in OUTSIDE_DEFECTS:
        data = "tokens"
    if defect != HEALTHY and data == "tokens" and defect not in TOKEN_DEFECTS:
        data = rng.choice(VECTOR_DATA)
    if defect == "loss_mismatch":
        data = rng.choice((*STANDARDISED, "images255"))
    if defect in ("latent_too_large", "under_regularized"):
        data = rng.choice(("digits", "lowrank", "sines"))
    family = rng.choice(FAMILIES[data])
    if defect in ("dead_relu", "saturated_activation", "latent_too_large", "under_regularized"):
        family = "mlp" if defect != "dead_relu" else rng.choice(
            [f for f in FAMILIES[data] if f in ("mlp", "conv1d", "conv2d")] or ["mlp"])
    if data == "tokens" and family == "conv1d" and defect in ("posterior_collapse",
                                                             "misread_layout"):
        family = "gru"
    vae = defect == "posterior_collapse" or defect not in OUTSIDE_DEFECTS and (
        rng.random() < 0.3 and not (data == "tokens" and family == "conv1d")
        and defect not in ("latent_too_large",))
    adaptive = vae or family in ("gru", "transformer") or data == "tokens"
    # people train VAEs and sequence models with adaptive optimizers: plain SGD rarely
    # gets them anywhere in a few thousand steps
    optimizer = rng.choice(("adam", "adamw", "rmsprop") if adaptive else tuple(OPTIMIZERS))
    lr = OPTIMIZERS[optimizer] * _log_uniform(rng, 1 / 3, 3)
    if data == "images255" and optimizer in ("sgd", "momentum"):
        lr /= 3000  # plain SGD on 0..255 pixels needs a far smaller step to train at all
    activation = "relu" if defect == "dead_relu" else rng.choice(("relu", "gelu", "leaky", "tanh"))
    if data == "images255" and activation == "tanh":
        activation = "gelu"  # raw pixels saturate tanh layers: that is its own defect
    if defect == "saturated_activation":
        activation = rng.choice(("tanh", "sigmoid"))
    output = "linear"
    if data in ("digits", "binary"):
        output = rng.choice(("linear", "sigmoid", "logits"))
    if defect == "loss_mismatch":
        output = "sigmoid" if data != "images255" else rng.choice(("sigmoid", "tanh"))
    if defect == "saturated_activation":
        output = "linear"  # the inputs (and so the targets) are in raw units, not [0, 1]
    steps = int(_log_uniform(rng, 200, 3000))
    if vae or family in ("gru", "transformer"):
        steps = max(steps, 600)  # fewer steps rarely train these at all
    if family == "gru":
        steps = min(steps, 1500)  # a costlier step: keep the whole benchmark under an hour
    if family == "transformer":
        steps = min(steps, 400)
    features = {"digits": 64, "images255": 64, "tabular": 16}.get(data, 32)
    latent = min(rng.choice((4, 8, 16)), features // 4)  # a code that compresses
    width = rng.choice((32, 64, 128))
    if defect in ("under_regularized", "latent_too_large"):
        width, steps = 256, max(steps, 1500)  # room to memorise, or to pass inputs through
    return Spec(
        seed=seed, defect=defect, severity=rng.random(), data=data, family=family, vae=vae,
        optimizer=optimizer, lr=lr, batch=rng.choice((32, 64, 128)), steps=steps,
        width=width, latent=latent, activation=activation, output=output,
        depth=1 if defect == "latent_too_large" else rng.choice((1, 2)),
    )
