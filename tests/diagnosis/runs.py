"""Hand-built runs that follow each cause's mechanism, for unit tests of single causes.

``healthy_run()`` is what a well-set-up autoencoder on structured data logs: spread rising,
error falling to near the rank-k bound, small steady updates. Each test changes only the
signals its mechanism changes.
"""

from __future__ import annotations

import numpy as np

from aelog.logfile import format as fmt
from aelog.logfile.run_data import RunData, Series

STEPS = np.arange(0, 400, 10)


def curve(start: float, end: float, rate: float = 0.15, steps=STEPS) -> np.ndarray:
    """Exponential approach from start to end."""
    return end + (start - end) * np.exp(-rate * steps / 10)


def healthy_metadata(**config) -> dict:
    base = {
        "optimizer": "Adam", "lr": 1e-3, "weight_decay": 0.0, "latent_size": 8,
        "input_size": 64, "batch_size": 64, "init": "default", "output_activation": "none",
        "is_vae": False, "dropout": 0.0, "architecture": "mlp",
    }
    base.update(config)
    layers = [
        {"name": name, "type": "Linear", "parameters": 520, "trainable": True,
         "in_optimizer": True, "weight_std": 0.07, "weight_std_over_default": 1.0,
         "identical_rows_fraction": 0.0}
        for name in ("encoder.0", "encoder.2", "decoder.0", "decoder.2")
    ]
    activations = [{"name": "encoder.1", "type": "ReLU"}, {"name": "decoder.1", "type": "ReLU"}]
    return {
        "format_version": fmt.FORMAT_VERSION,
        "config": base,
        "model": {"layers": layers, "activations": activations, "dropout": [],
                  "latent_size": base["latent_size"], "is_vae": base["is_vae"],
                  "output_activation": base["output_activation"], "latent_module": "encoder.2"},
        "optimizer": {"class": "Adam", "lr": base["lr"], "weight_decay": base["weight_decay"]},
    }


def healthy_signals(steps=STEPS) -> dict[str, np.ndarray]:
    n = len(steps)
    return {
        fmt.OUTPUT_VARIANCE_RATIO: curve(0.05, 0.85, steps=steps),
        fmt.RELATIVE_ERROR: curve(1.1, 0.15, steps=steps),
        fmt.RECON_MSE: curve(0.15, 0.02, steps=steps),
        fmt.RANK_K_ERROR: np.full(n, 0.14),
        fmt.DATA_EFFECTIVE_RANK: np.full(n, 14.0),
        fmt.IDENTITY_RATIO: curve(1.0, 5.0, steps=steps),
        fmt.RANDOM_INPUT_ERROR: np.full(n, 0.75),
        fmt.NONFINITE_OUTPUT_FRACTION: np.zeros(n),
        fmt.OUTPUT_MIN: np.full(n, -0.2), fmt.OUTPUT_MAX: np.full(n, 1.0),
        fmt.TARGET_MIN: np.full(n, 0.0), fmt.TARGET_MAX: np.full(n, 1.0),
        fmt.CODE_EFFECTIVE_RANK: np.full(n, 6.0),
        fmt.CODE_UNIT_SIMILARITY: np.full(n, 0.4),
        fmt.CODE_DEAD_FRACTION: np.zeros(n),
        fmt.GRAD_NORM: np.full(n, 0.5), fmt.WEIGHT_NORM: curve(8.0, 9.0, steps=steps),
        fmt.UPDATE_RATIO: np.full(n, 2e-3), fmt.REGULARIZATION_PULL: np.zeros(n),
        fmt.GRAD_WEIGHT_COSINE: np.full(n, 0.02), fmt.FROZEN_FRACTION: np.zeros(n),
        fmt.NONFINITE_GRAD_FRACTION: np.zeros(n), fmt.NONFINITE_WEIGHT_FRACTION: np.zeros(n),
        fmt.INPUT_STD: np.full(n, 0.4), fmt.INPUT_BATCH_VARIANCE: np.full(n, 0.1),
        fmt.INPUT_DUPLICATE_FRACTION: np.zeros(n), fmt.INPUT_SAME_AS_PREVIOUS: np.zeros(n),
        fmt.VAL_RELATIVE_ERROR: curve(1.1, 0.18, steps=steps),
    }


def healthy_layers(steps=STEPS) -> dict[str, dict[str, np.ndarray]]:
    n = len(steps)
    layers = {}
    for name in ("encoder.0", "encoder.2", "decoder.0", "decoder.2"):
        layers[name] = {
            fmt.LAYER_ACTIVATION_STD: np.full(n, 0.5), fmt.LAYER_DEAD_FRACTION: np.full(n, 0.1),
            fmt.LAYER_GRAD_NORM: np.full(n, 0.2), fmt.LAYER_WEIGHT_NORM: np.full(n, 4.0),
            fmt.LAYER_UPDATE_RATIO: np.full(n, 2e-3), fmt.LAYER_UNIT_SIMILARITY: np.full(n, 0.3),
        }
    for name in ("encoder.1", "decoder.1"):
        layers[name] = {fmt.LAYER_ACTIVATION_STD: np.full(n, 0.3),
                        fmt.LAYER_DEAD_FRACTION: np.full(n, 0.15)}
    return layers


def build(signals: dict, layers: dict | None = None, metadata: dict | None = None,
          steps=STEPS, name: str = "run") -> RunData:
    run = RunData(name, metadata if metadata is not None else healthy_metadata())
    for signal, values in signals.items():
        run.signals[signal] = Series.from_points(steps, np.broadcast_to(values, len(steps)))
    for layer, series in (layers or {}).items():
        for signal, values in series.items():
            run.layers.setdefault(layer, {})[signal] = Series.from_points(
                steps, np.broadcast_to(values, len(steps)))
    return run


def healthy_run(**changes) -> RunData:
    signals = healthy_signals()
    signals.update(changes)
    return build(signals, healthy_layers())
