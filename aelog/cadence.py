"""When to log: every step at first, then sparser, never costing more than a budget.

Collapse usually shows in the first hundred steps, so the first ``warmup`` steps are all
logged and the first hundred get at least one point every ``early_interval`` steps. After
that the interval grows with the step (``growth`` x step, points evenly spaced on a log
axis) and is stretched further whenever the measured cost of a logging step, relative to
a plain step, would take the overhead past ``budget``. Only logging steps are timed:
plain-step time is the wall time between two logging steps minus the logging work.

The budget covers all of aelog's cost: what the steps that do not log pay for its hooks
(``quiet_step_seconds``, a few microseconds, which on a sub-millisecond step is a fair
share of 2%) comes off the budget first, and a logging step costs whatever it added to
its step, slower hooked layers included, not only the time spent in aelog's own code.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

QUIET_SHARE_CAP = 0.25
"""logging keeps at least a quarter of the budget, even when plain steps are so short that
the hooks' own cost would take it all (the schedule's cap still bounds the gaps)."""


@dataclass
class Cadence:
    budget: float = 0.02
    """the share of training time logging may take (0.02 = 2%)."""
    every: int | None = None
    """a fixed interval (``log_every=N``): no adaptation."""
    warmup: int = 20
    early_interval: int = 10
    early_steps: int = 100
    growth: float = 0.05
    max_interval: int = 1024
    """the longest gap the schedule alone allows; only the budget may stretch it further
    (a power of two, like every adaptive interval)."""
    quiet_step_seconds: float = 6e-6
    """what a step that does not log pays aelog's hooks (PyTorch's hooked call path for the
    model, two fast-path hook calls). An allowance, not a measurement: on a 2-core x86
    server ``python -m benchmarks.overhead`` puts the hooked path alone (PyTorch no-op hooks
    at the same places) at ~13 us per step in a training loop (benchmarks/RESULTS.md), so
    on sub-millisecond steps this undercounts; raising it thins late logging of tiny models."""
    clock: object = field(default=time.perf_counter, repr=False)

    next_step: int = 0
    logged: int = 0
    logging_seconds: float = 0.0
    """total measured time spent logging."""
    _plain_step_seconds: float | None = None
    _log_seconds: float | None = None
    _last_end: float | None = None
    _last_step: int | None = None

    def __post_init__(self) -> None:
        if self.every is not None and self.every < 1:
            raise ValueError(f"log_every must be a positive number of steps, got {self.every}")
        if not 0 < self.budget <= 1:
            raise ValueError(f"overhead_budget must be in (0, 1], got {self.budget}")

    def should_log(self, step: int) -> bool:
        """Plain integer comparison: what a non-logging step pays."""
        return step >= self.next_step

    def logged_step(self, step: int, cost_seconds: float, span_seconds: float | None = None
                    ) -> None:
        """Record a logging step's cost and plan the next one.

        ``cost_seconds`` is the time spent in aelog's code; ``span_seconds``, when given, the
        wall time of the whole logging step (its forward to the end of logging): less a
        plain step, what logging added to it, which may be more (hooked layers run PyTorch's
        slower call path)."""
        now = self.clock()
        if span_seconds is not None and self._plain_step_seconds:
            cost_seconds = max(cost_seconds, span_seconds - self._plain_step_seconds)
        self.logged += 1
        self.logging_seconds += cost_seconds
        self._log_seconds = _smooth(self._log_seconds, cost_seconds)
        if self._last_end is not None and self._last_step is not None and step > self._last_step:
            plain = (now - self._last_end - cost_seconds) / (step - self._last_step)
            if plain > 0:
                self._plain_step_seconds = _smooth(self._plain_step_seconds, plain)
        self._last_end, self._last_step = now, step
        self.next_step = self._aligned_after(step, self.interval_after(step))

    def interval_after(self, step: int) -> int:
        if self.every is not None:
            return self.every - step % self.every
        if step + 1 < self.warmup:
            return 1
        if step + 1 < self.early_steps:
            wanted = max(self._schedule(step), self._budget_interval())
            return max(1, min(self.early_interval, wanted))
        return max(self._schedule(step), self._budget_interval())

    def _aligned_after(self, step: int, interval: int) -> int:
        """The next logging step. With an adaptive cadence the interval is rounded to a
        power of two and the step to a multiple of it, so runs whose measured costs differ
        a little (two machines, two seeds) still log the same steps and their series line
        up. Rounding goes up, except where that would break the schedule's promises (a
        point every ``early_interval`` steps early on, at most ``max_interval`` apart)."""
        if self.every is not None or interval <= 1:
            return step + max(1, interval)
        cap = self.early_interval if step + 1 < self.early_steps else self.max_interval
        rounded = 1 << (interval - 1).bit_length()
        if rounded > cap >= interval:
            rounded = 1 << (cap.bit_length() - 1)
        return (step // rounded + 1) * rounded

    def _schedule(self, step: int) -> int:
        return max(1, min(self.max_interval, math.ceil(self.growth * step)))

    def _budget_interval(self) -> int:
        """Fewest steps between logs that keeps logging under the budget, once the steps
        that do not log have had their share (at most three quarters of it)."""
        if not self._log_seconds or not self._plain_step_seconds:
            return 1
        allowed = self.budget * self._plain_step_seconds
        room = max(allowed - self.quiet_step_seconds, QUIET_SHARE_CAP * allowed)
        return max(1, math.ceil(self._log_seconds / room))

    def overhead(self, elapsed_seconds: float) -> float:
        """Share of ``elapsed_seconds`` spent logging."""
        return self.logging_seconds / elapsed_seconds if elapsed_seconds > 0 else 0.0

    def describe(self) -> dict:
        return {
            "overhead_budget": self.budget,
            "log_every": self.every,
            "warmup_steps": self.warmup,
            "early_interval": self.early_interval,
            "growth": self.growth,
            "max_interval": self.max_interval,
        }


def _smooth(previous: float | None, value: float, weight: float = 0.3) -> float:
    return value if previous is None else (1 - weight) * previous + weight * value
