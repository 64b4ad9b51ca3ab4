"""Keeps a failing probe away from the user's training loop: one warning, then that probe is off."""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class AelogWarning(UserWarning):
    """Something inside aelog went wrong; training is unaffected."""


_AELOG_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def user_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the user's line, not at aelog or torch.

    Hooks run deep inside torch (``optimizer.step()``, ``module.__call__``); the user
    should see the line of their loop that triggered the warning.
    """
    internal = (_AELOG_DIR,) + tuple(
        os.path.dirname(os.path.abspath(module.__file__)) + os.sep
        for module in (sys.modules.get("torch"),)
        if module is not None and getattr(module, "__file__", None)
    )
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(internal):
        frame, level = frame.f_back, level + 1
    return level


class ProbeGuard:
    def __init__(self, on_failure: Callable[[str, BaseException], None]) -> None:
        self.disabled: set[str] = set()
        self._on_failure = on_failure
        self._told: set[str] = set()
        """failures already warned about: one cause (an output that does not match its
        target) failing several probes is one warning; each probe still goes off."""

    def active(self, name: str) -> bool:
        return name not in self.disabled

    def run(self, name: str, function: Callable[..., T], *args, **kwargs) -> T | None:
        """``function(*args, **kwargs)``, or None when it fails or has failed before."""
        if name in self.disabled:
            return None
        try:
            return function(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - the whole point: nothing escapes
            self.fail(name, error)
            return None

    def fail(self, name: str, error: BaseException) -> None:
        self.disabled.add(name)
        reason = f"{type(error).__name__}: {error}"
        if reason not in self._told:
            self._told.add(reason)
            warnings.warn(
                f"aelog: the {name} probe failed and is switched off ({reason}); "
                "training goes on.",
                AelogWarning,
                stacklevel=user_stacklevel(),
            )
        try:
            self._on_failure(name, error)
        except Exception:  # noqa: BLE001 - reporting a failure must not fail
            pass
