"""Optimisation and regularisation: gradient and weight sizes, update ratios, decay pull.

Measured around one optimizer step: weights (and the lr in force) before it, weights after
it, and the gradients the step used, read after it: by then a GradScaler has unscaled them
and any clipping has been applied, in plain loops and closure-driven ones (Lightning runs
forward and backward inside ``optimizer.step``) alike. They are the pure loss gradient:
coupled weight decay is added to a copy inside ``step``. The gradient as backward left
it is read separately (``raw_grad_sq``) to see clipping.

A parameter of more than SNAPSHOT_ELEMENTS elements is kept from before the step as an
evenly spread sample of about that many (see :func:`sample_stride`), and its update's size
is estimated from it: copying every weight at every logging step would add a model-sized
buffer to the step's peak memory (40 MB on a 10M-parameter model; a GPU model tuned to fit
could run out) and cost more than the rest of the step's work. Gradient and weight norms
stay exact; the gradient-weight dot product is read on the sample too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from aelog.logfile import format as fmt


def is_decoupled(optimizer: torch.optim.Optimizer, group: dict) -> bool:
    """AdamW-style decay shrinks weights directly instead of adding to the gradient."""
    if "decoupled_weight_decay" in group:
        return bool(group["decoupled_weight_decay"])
    return type(optimizer).__name__.lower() in ("adamw", "sgdw", "lion", "adafactor")


SNAPSHOT_ELEMENTS = 65_536
"""a larger parameter is snapshot at a sample of about this many elements (256 KB of
float32): its update's square sum, scaled up, is then within 2% of the exact one for
the updates of SGD, Adam and AdamW (``tests/sdk/test_sampled_updates.py``)."""


def sample_stride(tensor: torch.Tensor) -> int:
    """The step between sampled elements of the flattened tensor: 1 (all of them) up to
    SNAPSHOT_ELEMENTS, otherwise the smallest step that keeps the sample within that size
    and is coprime with a row's length, so that the sample walks through every column
    instead of landing on the same few (a weight whose input features differ, dead pixels
    next to live ones, is sampled evenly)."""
    count = tensor.numel()
    if count <= SNAPSHOT_ELEMENTS:
        return 1
    row = count // max(1, tensor.shape[0]) if tensor.dim() > 1 else 1
    stride = -(-count // SNAPSHOT_ELEMENTS)
    while math.gcd(stride, row) != 1:
        stride += 1
    return stride


@dataclass
class TrainedParam:
    """One trained parameter with the names and settings its statistics are filed under."""

    tensor: torch.Tensor
    layer: str | None
    """the module that owns it (per-layer signals), None for the model's own parameters."""
    group: dict | None = None
    """its optimizer param group (read at each step: schedulers change lr), None without one."""
    decoupled: bool = False

    @property
    def lr(self) -> float:
        return as_float(self.group.get("lr", 0.0)) if self.group else 0.0

    @property
    def weight_decay(self) -> float:
        return as_float(self.group.get("weight_decay", 0.0)) if self.group else 0.0


def as_float(value: object) -> float:
    if isinstance(value, torch.Tensor):
        return float(value)
    return float(value) if isinstance(value, (int, float)) else 0.0


@dataclass
class StepMeasure:
    """0-d tensors gathered over one logging step, read back to the host once at its end."""

    HOST_FIELDS = ("grad_sq", "grad_dot_weight", "weight_sq", "update_sq", "decay_sq",
                   "loss_update_sq")
    """the per-parameter lists that travel to the host (``before`` stays on the device)."""

    grad_sq: list[torch.Tensor] = field(default_factory=list)
    grad_dot_weight: list[torch.Tensor] = field(default_factory=list)
    weight_sq: list[torch.Tensor] = field(default_factory=list)
    before: list[torch.Tensor] = field(default_factory=list)
    """each parameter's weights from before the step: all of them, or a sample of them."""
    strides: list[int] = field(default_factory=list)
    """the sample's step through the flattened weights, per parameter (1: all of them)."""
    update_sq: list[torch.Tensor] = field(default_factory=list)
    decay_sq: list[torch.Tensor] = field(default_factory=list)
    loss_update_sq: list[torch.Tensor] = field(default_factory=list)
    decay: list[float] = field(default_factory=list)
    """lr * weight_decay per parameter as the step began (a scheduler may change it after)."""
    settings: dict[str, float] = field(default_factory=dict)
    """lr and weight decay in force for this step, read before it."""
    raw_grad_sq: list[torch.Tensor | None] = field(default_factory=list)
    """|g * raw_shrink|^2 per parameter as backward accumulated it (scaled, before
    clipping)."""
    raw_shrink: float = 1.0
    """the power of two the raw gradients were multiplied by before squaring (see
    ``loss_scale.raw_gradient_shrink``)."""
    loss_scale: torch.Tensor | float | None = None
    """the GradScaler's scale for this step, when one drove it."""
    skipped_inside: torch.Tensor | None = None
    """non-zero when a fused optimizer skipped this step itself (inf/NaN under a GradScaler)."""


def gradient_terms(
    param: torch.Tensor, weight: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(|g|^2, g.w) for one parameter; zeros when it has no gradient.

    ``weight``: the weights the gradient was taken at, when the parameter has moved since.
    A non-finite element makes |g|^2 non-finite, so elements are counted (see
    :func:`nonfinite_elements`) only for the rare parameter whose |g|^2 says so.
    """
    grad = param.grad
    if grad is None:
        zero = torch.zeros((), device=param.device)
        return zero, zero
    g, w = _flat(grad), _flat(param if weight is None else weight)
    return torch.dot(g, g), torch.dot(g, w)


def nonfinite_elements(tensor: torch.Tensor | None) -> int:
    """Exact count of inf/NaN elements; called only once a square sum came back non-finite,
    so a healthy logging step never pays a full pass (and a device read) for it. A tensor
    that is gone by then (gradients zeroed) counts as one: at least one was non-finite."""
    if tensor is None:
        return 1
    return max(1, int((~torch.isfinite(tensor.detach())).sum()))


def _flat(tensor: torch.Tensor) -> torch.Tensor:
    """A 1-d float view (no copy for float32 parameters): dot products allocate nothing."""
    flat = tensor.detach().reshape(-1)
    return flat if flat.dtype in (torch.float32, torch.float64) else flat.float()


def read_gradients(params: list[TrainedParam], measure: StepMeasure) -> None:
    """The gradients the step used; after the step, against the weights from before it.

    |g|^2 is exact; where the weights before the step were sampled, g.w is read on the
    sample and scaled (it only feeds the gradient-weight cosine, which moves by under 0.01
    for it in ``tests/sdk/test_sampled_updates.py``, against a threshold of 0.15): a pass
    over the weights and one over the gradients fewer."""
    snapshot = len(measure.before) == len(params) and len(measure.strides) == len(params)
    before = measure.before if snapshot else [None] * len(params)
    strides = measure.strides if snapshot else [1] * len(params)
    measure.grad_sq, measure.grad_dot_weight = [], []
    for item, weight, stride in zip(params, before, strides, strict=True):
        if stride == 1 or item.tensor.grad is None:
            grad_sq, dot = gradient_terms(item.tensor, weight)
        else:
            grad = _flat(item.tensor.grad)
            grad_sq = torch.dot(grad, grad)
            dot = torch.dot(grad[::stride], weight) * (item.tensor.numel() / weight.numel())
        measure.grad_sq.append(grad_sq)
        measure.grad_dot_weight.append(dot)


def snapshot_weights(params: list[TrainedParam], measure: StepMeasure) -> None:
    measure.decay = [item.lr * item.weight_decay if item.decoupled else 0.0 for item in params]
    for item in params:
        flat = _flat(item.tensor)
        stride = sample_stride(item.tensor)
        measure.strides.append(stride)
        measure.before.append(flat.clone() if stride == 1 else flat[::stride].clone())
        measure.weight_sq.append(torch.dot(flat, flat))


def read_updates(params: list[TrainedParam], measure: StepMeasure) -> None:
    """Update sizes and, for decoupled decay, the size of the decay's share of the update;
    from the sample, scaled to the whole parameter, where the snapshot was one."""
    count = len(params)
    decays = measure.decay if len(measure.decay) == count else [0.0] * count
    strides = measure.strides if len(measure.strides) == count else [1] * count
    rows = zip(params, measure.before, decays, strides, measure.weight_sq, strict=True)
    for item, before, decay, stride, weight_sq in rows:
        after = _flat(item.tensor) if stride == 1 else _flat(item.tensor)[::stride]
        start = _flat(before)
        if decay:
            delta = after - start
            update_sq = torch.dot(delta, delta)
            measure.decay_sq.append(weight_sq * decay**2)  # |lr * wd * w| before the step
            # w_new = w - lr*wd*w - (loss step): the loss-driven part is delta + lr*wd*w.
            loss_part = delta.add_(start, alpha=decay)
            loss_update_sq = torch.dot(loss_part, loss_part)
        else:
            # before - after, written over the snapshot (it is not needed after this): no
            # fresh buffer the size of the weights, which costs page faults on big models
            delta = start.sub_(after)
            update_sq = loss_update_sq = torch.dot(delta, delta)
            measure.decay_sq.append(torch.zeros((), device=after.device))
        if stride != 1:
            scale = item.tensor.numel() / start.numel()
            update_sq = update_sq * scale
            loss_update_sq = update_sq if not decay else loss_update_sq * scale
        measure.update_sq.append(update_sq)
        measure.loss_update_sq.append(loss_update_sq)
    measure.before, measure.strides = [], []


def clipping_stats(raw_grad_sq: list[float], grad_norm: float, loss_scale: float) -> dict:
    """The norm backward produced (unscaled) and whether the loop shrank it before the step.

    Without clipping the two norms are equal bit for bit (unscaling by a power of two is
    exact); a clip that did not bite multiplies by 1.0 and changes nothing either.
    """
    before = math.sqrt(sum(raw_grad_sq)) / (loss_scale or 1.0)
    if math.isinf(before) and math.isfinite(grad_norm):
        return {}  # the squares of still-scaled gradients overflowed: not measured this step
    clipped = math.isfinite(before) and grad_norm < before * (1 - 1e-4)
    return {fmt.GRAD_NORM_BEFORE_CLIP: before, fmt.GRAD_CLIPPED: float(clipped)}


def weight_fingerprint(param: torch.Tensor) -> list[torch.Tensor]:
    """Sum and sum of squares: equal at two logging steps means the parameter did not move.
    For the parameters whose logging steps measure no update (see :func:`movement_states`)."""
    values = _flat(param)
    return [values.sum(), torch.dot(values, values)]


MovementState = tuple[str, float, float]
"""what one logging step says of whether a parameter moves: ("step", |w|^2 before the
step, |update|^2) where the step's update was measured, ("values", sum, |w|^2) otherwise."""


def movement_states(
    measured_index: list[int | None], measured: dict[str, list[float]] | None,
    fingerprints: list[float],
) -> list[MovementState]:
    """One state per model parameter, in model order.

    ``measured_index[i]``: where parameter i sits in the measured lists (``weight_sq``,
    ``update_sq``), or None; ``measured``: those lists, None when this logging step measured
    no update; ``fingerprints``: (sum, |w|^2) of every other parameter, in order. A
    measured update and the weight norm read before the step stand in for a fingerprint:
    two fewer passes over every trained weight (on a 10M-parameter model, 7 ms a logging
    step), and a zero update is exact, element by element (on a sampled parameter, over the
    sample; the weight norm stays exact, so one that moved between the two steps still
    differs there).
    """
    states: list[MovementState] = []
    unmeasured = iter(range(0, len(fingerprints), 2))
    for index in measured_index:
        if index is not None and measured is not None:
            states.append(("step", measured["weight_sq"][index], measured["update_sq"][index]))
        else:
            at = next(unmeasured)
            states.append(("values", fingerprints[at], fingerprints[at + 1]))
    return states


def unchanged(previous: MovementState, current: MovementState) -> bool:
    """The parameter did not move from one logging step to the next: its fingerprints are
    equal, or neither step updated it and its norm before each step is the same (from
    before the earlier step to after the later one)."""
    if previous[0] != current[0]:
        return False
    if current[0] == "step":
        return previous[2] == 0 and current[2] == 0 and previous[1] == current[1]
    return previous[1:] == current[1:]


def frozen_fraction(
    numels: list[int], previous: list[MovementState], current: list[MovementState]
) -> float:
    """Share of parameter elements whose tensor did not change between two logging steps.

    Measured on every parameter of the model, whoever updates it (any number of
    optimizers, a manual update, none at all), so a forgotten parameter shows up here.
    """
    total = sum(numels)
    still = sum(
        numel for numel, before, now in zip(numels, previous, current, strict=True)
        if unchanged(before, now)
    )
    return still / total if total else 0.0


def step_stats(
    params: list[TrainedParam], values: dict[str, list[float]]
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Headline and per-layer optimisation signals from the host copies of a StepMeasure."""
    grad_sq, dot = values["grad_sq"], values["grad_dot_weight"]
    weight_sq, update_sq = values["weight_sq"], values["update_sq"]
    numels = [item.tensor.numel() for item in params]
    grad_norm, weight_norm = math.sqrt(sum(grad_sq)), math.sqrt(sum(weight_sq))
    headline = {
        fmt.GRAD_NORM: grad_norm,
        fmt.WEIGHT_NORM: weight_norm,
        fmt.NONFINITE_GRAD_FRACTION: _nonfinite_share(
            [item.tensor.grad for item in params], grad_sq, numels
        ),
        fmt.NONFINITE_WEIGHT_FRACTION: _nonfinite_share(
            [item.tensor for item in params],
            [w2 + u2 for w2, u2 in zip(weight_sq, update_sq, strict=True)],
            numels,
        ),
        fmt.GRAD_WEIGHT_COSINE: _ratio(sum(dot), grad_norm * weight_norm),
        fmt.UPDATE_RATIO: _ratio(math.sqrt(sum(update_sq)), weight_norm),
    }
    headline[fmt.REGULARIZATION_PULL] = _regularization_pull(params, values)
    layers: dict[str, dict[str, list[float]]] = {}
    for item, g2, w2, u2 in zip(params, grad_sq, weight_sq, update_sq, strict=True):
        if item.layer is None:
            continue
        sums = layers.setdefault(item.layer, {"g": [], "w": [], "u": []})
        sums["g"].append(g2)
        sums["w"].append(w2)
        sums["u"].append(u2)
    per_layer = {
        name: {
            fmt.LAYER_GRAD_NORM: math.sqrt(sum(s["g"])),
            fmt.LAYER_WEIGHT_NORM: math.sqrt(sum(s["w"])),
            fmt.LAYER_UPDATE_RATIO: _ratio(math.sqrt(sum(s["u"])), math.sqrt(sum(s["w"]))),
        }
        for name, s in layers.items()
    }
    return headline, per_layer


def _nonfinite_share(
    tensors: list[torch.Tensor | None], square_sums: list[float], numels: list[int]
) -> float:
    """Share of elements that are inf/NaN, counted only where a square sum is not finite."""
    bad = sum(
        nonfinite_elements(tensor)
        for tensor, square in zip(tensors, square_sums, strict=True)
        if not math.isfinite(square)
    )
    return bad / max(1, sum(numels))


def _regularization_pull(params: list[TrainedParam], values: dict[str, list[float]]) -> float:
    """Size of the weight-decay force over the size of the loss's own force.

    Coupled decay adds wd * w to the gradient: compare it with the loss gradient.
    Decoupled decay subtracts lr * wd * w from the weights: compare it with the rest of
    the update, which is the loss-driven part.
    """
    coupled_decay = coupled_grad = 0.0
    decoupled_decay = decoupled_rest = 0.0
    rows = zip(params, values["grad_sq"], values["weight_sq"], values["decay_sq"],
               values["loss_update_sq"], strict=True)
    for item, g2, w2, d2, rest2 in rows:
        if item.decoupled:
            decoupled_decay += d2
            decoupled_rest += rest2
        else:
            coupled_decay += item.weight_decay**2 * w2
            coupled_grad += g2
    pulls = []
    if coupled_decay > 0:
        pulls.append(_ratio(math.sqrt(coupled_decay), math.sqrt(coupled_grad)))
    if decoupled_decay > 0:
        pulls.append(_ratio(math.sqrt(decoupled_decay), math.sqrt(decoupled_rest)))
    return max(pulls) if pulls else 0.0


def _ratio(numerator: float, denominator: float) -> float:
    if denominator > 0 and math.isfinite(denominator):
        return numerator / denominator
    return 0.0 if numerator == 0 else math.inf
