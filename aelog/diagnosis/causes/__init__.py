"""The fifteen causes, one module each; :func:`all_causes` finds them all."""

from __future__ import annotations

import importlib
import pkgutil

from aelog.diagnosis.causes.base import Cause


def all_causes() -> list[Cause]:
    """Every ``CAUSE`` defined in this package, in a fixed (alphabetical) order."""
    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        cause = getattr(module, "CAUSE", None)
        if isinstance(cause, Cause):
            found.append(cause)
    return found
