"""aelog: why does my autoencoder produce (nearly) identical outputs?

Two lines in a training script::

    import aelog
    aelog.watch(model, optimizer, logdir="runs/exp1")
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["watch", "diagnose", "Monitor", "__version__"]


def __getattr__(name: str):
    # Lazy: `import aelog` must stay cheap and torch-free for the CLI and the plugin.
    if name in ("watch", "Monitor"):
        from aelog.sdk import monitor

        return getattr(monitor, name)
    if name == "diagnose":
        from aelog.diagnosis.api import diagnose

        return diagnose
    raise AttributeError(f"module 'aelog' has no attribute {name!r}")
