"""Small logdirs written with aelog's own EventWriter, for route tests without training.

Browser tests use real runs from ``aelog.watch``; these exercise the plugin's plumbing
(both loaders, caching, errors) in milliseconds.
"""

from __future__ import annotations

import math
import os

from aelog.logfile import format as fmt
from aelog.logfile.event_writer import EventWriter

LAYERS = ("encoder.0", "encoder.2", "decoder.0")


def write_run(
    run_dir: str,
    *,
    collapse_at: int | None,
    steps: int = 60,
    every: int = 10,
    team: str = "vision",
    lr: float = 1e-3,
) -> str:
    """A run whose outputs keep their spread, or lose it from step ``collapse_at`` on.

    In a collapsing run the layer ``encoder.2`` dies (all units dead) at the same step.
    """
    writer = EventWriter(run_dir)
    writer.write_metadata(
        {
            "format_version": fmt.FORMAT_VERSION,
            "run_name": os.path.basename(run_dir),
            "tags": {"team": team, "owner": "ana"},
            "config": {"optimizer": "Adam", "lr": lr, "weight_decay": 0.0, "latent_size": 8,
                       "init": "default"},
            "model": {"latent_size": 8, "layers": [{"name": name} for name in LAYERS]},
        }
    )
    for index in range(steps):
        step = index * every
        collapsed = collapse_at is not None and step >= collapse_at
        spread = 0.01 if collapsed else 0.9 - 0.5 * math.exp(-index / 10)
        error = 0.99 if collapsed else 0.1 + 0.8 * math.exp(-index / 10)
        values = {
            fmt.scalar_tag(fmt.OUTPUT_VARIANCE_RATIO): spread,
            fmt.scalar_tag(fmt.RELATIVE_ERROR): error,
            fmt.scalar_tag(fmt.RANK_K_ERROR): 0.08,
            fmt.scalar_tag(fmt.CODE_EFFECTIVE_RANK): 1.0 if collapsed else 6.5,
            fmt.scalar_tag(fmt.CODE_DEAD_FRACTION): 1.0 if collapsed else 0.0,
            fmt.scalar_tag(fmt.LR): lr,
        }
        for layer in LAYERS:
            dead = 1.0 if collapsed and layer == "encoder.2" else 0.05
            values[fmt.layer_tag(layer, fmt.LAYER_DEAD_FRACTION)] = dead
            values[fmt.layer_tag(layer, fmt.LAYER_GRAD_NORM)] = 0.0 if dead == 1.0 else 0.3
            values[fmt.layer_tag(layer, fmt.LAYER_UPDATE_RATIO)] = 0.0 if dead == 1.0 else 1e-3
            values[fmt.layer_tag(layer, fmt.LAYER_SATURATED_FRACTION)] = 0.0
        writer.write_scalars(step, values)
    writer.write_record(step, {"kind": "warning", "message": "synthetic run"})
    writer.close()
    return writer.path


def write_logdir(logdir: str) -> dict[str, str]:
    """Three runs in two team folders: ``{run name: event file path}``."""
    return {
        "vision/healthy": write_run(os.path.join(logdir, "vision", "healthy"), collapse_at=None),
        "vision/collapsed": write_run(
            os.path.join(logdir, "vision", "collapsed"), collapse_at=200, lr=0.5
        ),
        "audio/collapsed": write_run(
            os.path.join(logdir, "audio", "collapsed"), collapse_at=300, team="audio"
        ),
    }
