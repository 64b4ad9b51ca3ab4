"""Real event files for the CLI tests, written through aelog's own EventWriter.

Synthetic values, but shaped like the runs they stand for: a healthy run whose error
falls and whose outputs keep their spread, and a run whose outputs collapsed to the mean.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np

from aelog.logfile import format as fmt
from aelog.logfile.event_writer import EventWriter

STEPS = list(range(0, 400, 10))


def write_run(run_dir: str, signals: dict[str, list[float]], *, tags: dict | None = None,
              config: dict | None = None, steps: list[int] | None = None) -> str:
    steps = steps or STEPS
    writer = EventWriter(run_dir)
    writer.write_metadata({
        "format_version": fmt.FORMAT_VERSION,
        "run_name": os.path.basename(run_dir),
        "tags": tags or {},
        "config": config or {},
    })
    for i, step in enumerate(steps):
        writer.write_scalars(step, {fmt.scalar_tag(name): values[i]
                                    for name, values in signals.items()})
    writer.close()
    return run_dir


def healthy_signals(n: int = len(STEPS)) -> dict[str, list[float]]:
    t = np.linspace(0, 1, n)
    return {
        fmt.RELATIVE_ERROR: list(1.0 - 0.9 * t),
        fmt.OUTPUT_VARIANCE_RATIO: list(0.3 + 0.6 * t),
        fmt.CODE_EFFECTIVE_RANK: list(6 + 2 * t),
        fmt.RANK_K_ERROR: [0.08] * n,
        fmt.GRAD_NORM: list(1.0 - 0.5 * t),
    }


def collapsed_signals(n: int = len(STEPS)) -> dict[str, list[float]]:
    return {
        fmt.RELATIVE_ERROR: [1.0] * n,
        fmt.OUTPUT_VARIANCE_RATIO: [0.001] * n,
        fmt.CODE_EFFECTIVE_RANK: [1.0] * n,
        fmt.CODE_UNIT_SIMILARITY: [1.0] * n,
        fmt.RANK_K_ERROR: [0.08] * n,
        fmt.GRAD_NORM: [1e-4] * n,
    }


HEALTHY_CONFIG = {"optimizer": "Adam", "lr": 0.003, "init": "default", "latent_size": 12}
COLLAPSED_CONFIG = {"optimizer": "Adam", "lr": 0.003, "init": "constant", "latent_size": 12}


def run_aelog(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """The ``aelog`` console script as a user runs it (``python -m`` when not installed)."""
    script = shutil.which("aelog", path=os.path.dirname(sys.executable))
    command = [script] if script else [sys.executable, "-m", "aelog.cli.main"]
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=timeout,
                          env=env)
