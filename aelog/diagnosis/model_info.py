"""Tolerant views of the run metadata the SDK writes (format.METADATA_KEYS).

Metadata may be missing (a run logged by hand, an old file) or partial: every accessor
returns None or an empty list rather than raising.
"""

from __future__ import annotations

import math

from aelog.logfile.run_data import RunData

RELU_TYPES = ("ReLU", "ReLU6", "RReLU", "Threshold")
"""activations that output exactly zero below a threshold (units can die)."""
SATURATING_TYPES = ("Tanh", "Sigmoid", "Hardtanh", "Hardsigmoid", "Softsign", "LogSigmoid")
"""activations with flat limits (units can saturate)."""
OUTPUT_RANGES = {
    "sigmoid": (0.0, 1.0),
    "hardsigmoid": (0.0, 1.0),
    "softmax": (0.0, 1.0),
    "tanh": (-1.0, 1.0),
    "hardtanh": (-1.0, 1.0),
    "softsign": (-1.0, 1.0),
    "relu": (0.0, None),
    "relu6": (0.0, 6.0),
    "softplus": (0.0, None),
    "elu": (-1.0, None),
}
"""range an output activation can reach, by lower-cased name (None: unbounded)."""


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def config(run: RunData) -> dict:
    return _dict(run.metadata.get("config"))


def model(run: RunData) -> dict:
    return _dict(run.metadata.get("model"))


def optimizer(run: RunData) -> dict:
    return _dict(run.metadata.get("optimizer"))


def number(value) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        result = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return result if math.isfinite(result) else None  # NaN/Inf in metadata is no setting


def setting(run: RunData, key: str):
    """A config value, falling back to the model and optimizer sections."""
    for section in (config(run), model(run), optimizer(run)):
        if key in section and section[key] is not None:
            return section[key]
    return None


def layers(run: RunData) -> list[dict]:
    """Weight layers as the SDK described them at ``watch()`` (initial state)."""
    return [layer for layer in model(run).get("layers") or [] if isinstance(layer, dict)]


def activation_layers(run: RunData, types: tuple[str, ...]) -> list[str]:
    """Names of activation modules of the given types, in model order."""
    names = []
    for act in model(run).get("activations") or []:
        if isinstance(act, dict) and str(act.get("type")) in types and act.get("name"):
            names.append(str(act["name"]))
    return names


def activation_units(run: RunData, name: str) -> int | None:
    """Units (features or channels) of an activation module's output, from the first
    forward; None for runs written before it was recorded."""
    for act in model(run).get("activations") or []:
        if isinstance(act, dict) and act.get("name") == name:
            value = number(act.get("units"))
            return int(value) if value and value >= 1 else None
    return None


def activation_types(run: RunData) -> set[str]:
    return {
        str(act.get("type"))
        for act in model(run).get("activations") or []
        if isinstance(act, dict) and act.get("type")
    }


def latent_size(run: RunData) -> int | None:
    value = number(setting(run, "latent_size"))
    return int(value) if value and value >= 1 else None


def input_size(run: RunData) -> int | None:
    value = number(setting(run, "input_size"))
    return int(value) if value and value >= 1 else None


def token_classes(run: RunData) -> int | None:
    value = number(model(run).get("token_classes"))
    return int(value) if value and value >= 2 else None


def values_per_sample(run: RunData) -> int | None:
    """Output values (positions, for a token model) in one sample of the reconstruction."""
    shape = model(run).get("output_shape")
    if not isinstance(shape, list) or len(shape) < 2:
        return None
    sizes = [number(v) for v in shape[1:]]
    if any(v is None or v < 1 for v in sizes):
        return None
    total = int(math.prod(sizes))
    classes = token_classes(run)
    return total // classes if classes and total % classes == 0 else total


def is_vae(run: RunData) -> bool:
    return bool(setting(run, "is_vae"))


def output_activation(run: RunData) -> str | None:
    value = setting(run, "output_activation")
    if not value or str(value).lower() in ("none", "identity", "linear"):
        return None
    return str(value)


def latent_module(run: RunData) -> str | None:
    value = model(run).get("latent_module")
    return str(value) if value else None


def max_dropout(run: RunData) -> float:
    values = [number(d.get("p")) for d in model(run).get("dropout") or [] if isinstance(d, dict)]
    values = [v for v in values if v is not None]
    configured = number(config(run).get("dropout"))
    if configured is not None:
        values.append(configured)
    return max(values) if values else 0.0
