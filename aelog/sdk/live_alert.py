"""The live console warning: run the diagnosis engine on what was logged so far.

``on_collapse`` is "warn" (one warning per newly found cause, with its fix), "raise"
(stop training with :class:`CollapseDetected` once the run is diagnosed as collapsed),
a callable (called with each new Diagnosis that names a new cause) or None (off).

A collapse that no cause explains acts only once it lasts: still collapsed at a step half
again as far into the run as where it was first seen. Early in many sound runs the outputs
sit at the data's mean for a while (a slow optimizer, a wide model) before they spread;
a named cause has measured evidence, "none of the 15" has none, and a console alarm on
every such start would teach users to ignore it. NaN/Inf is the exception: it acts at once.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

from aelog.logfile import format as fmt
from aelog.logfile.run_data import RunData
from aelog.sdk.probe_guard import user_stacklevel

CONFIRM_AFTER = 1.5
"""a collapse no cause explains acts once still there at 1.5x the step it was first seen at."""


class CollapseWarning(UserWarning):
    """The diagnosis engine found a likely cause of output collapse in this run."""


class CollapseDetected(RuntimeError):
    """Raised from the optimizer step when ``on_collapse="raise"`` and the run collapsed."""


def load_engine() -> Callable[[RunData], object] | None:
    try:
        from aelog.diagnosis.engine import diagnose_run, load_causes
    except ImportError:
        return None
    load_causes()
    return diagnose_run


class CollapseAlert:
    def __init__(self, action: object, engine: Callable[[RunData], object] | None = None) -> None:
        if action not in ("warn", "raise", None) and not callable(action):
            raise ValueError(
                f'on_collapse must be "warn", "raise", a callable or None, got {action!r}'
            )
        self.action = action
        self.engine = engine
        self.reported: set[str] = set()
        self._engine_missing = False
        self._unexplained_since: int | None = None
        """the step a collapse no cause explains was first seen at, while it lasts."""
        self._nonfinite = False
        """the run last diagnosed held NaN/Inf (a record of where it came in)."""
        if self.enabled and engine is None:  # importing the engine and its causes takes
            self._load()                    # tens of ms: at watch(), not in a training step

    def _load(self) -> None:
        self.engine = load_engine()
        self._engine_missing = self.engine is None  # look once, not at every check

    @property
    def enabled(self) -> bool:
        return self.action is not None

    def diagnose(self, run: RunData) -> object | None:
        """The engine's Diagnosis, or None when no engine is installed."""
        if self.engine is None and not self._engine_missing:
            self._load()
        self._nonfinite = any(record.get("kind") == fmt.NONFINITE_RECORD
                              for record in run.records)
        return None if self.engine is None else self.engine(run)

    def act(self, diagnosis: object, step: int) -> None:
        """Warn, call back or raise for causes not reported before."""
        causes = list(getattr(diagnosis, "causes", []) or [])
        status = getattr(diagnosis, "status", "unknown")
        messages = [(c.id, _describe(c)) for c in causes]
        unexplained = not causes and status == "collapsed"  # by a cause outside the 15
        if not unexplained:
            self._unexplained_since = None
        elif not self._lasted(step):
            return
        if unexplained:
            messages += [(OUTSIDE_THE_15, note) for note in getattr(diagnosis, "notes", [])
                         if str(note).startswith(OUTSIDE_THE_15)][:1]
        if self.action == "raise" and status == "collapsed":
            raise CollapseDetected(
                f"aelog: run {getattr(diagnosis, 'run', '?')} collapsed at step {step}: "
                + "; ".join(text for _, text in messages)
            )
        new = [(key, text) for key, text in messages if key not in self.reported]
        if not new:
            return
        self.reported.update(key for key, _ in new)
        if callable(self.action):
            self.action(diagnosis)
            return
        for _, text in new:
            warnings.warn(
                f"aelog: step {step}, {status}: {text}",
                CollapseWarning,
                stacklevel=user_stacklevel(),
            )

    def _lasted(self, step: int) -> bool:
        """Whether an unexplained collapse seen now has lasted long enough to act on."""
        if self._nonfinite:
            return True
        if self._unexplained_since is None:
            self._unexplained_since = step
        return step >= CONFIRM_AFTER * max(1, self._unexplained_since)


OUTSIDE_THE_15 = "cause not among the 15"
"""how the engine's note on a collapse no cause id names begins (NaN from the data...)."""


def _describe(cause: object) -> str:
    evidence = "; ".join(list(getattr(cause, "evidence", []))[:2])
    confidence = getattr(cause, "confidence", 0.0)
    return (
        f"{cause.id} (confidence {confidence:.2f}): {evidence}. Fix: {getattr(cause, 'fix', '')}"
    )
