"""When to log: every step at first, then sparser, never costing more than a budget.

Collapse usually shows in the first hundred steps, so the first ``warmup`` steps are all
logged and the first hundred get at least one point every ``early_interval`` steps, where
a logging step is cheap (under ``dense_log_seconds``): a small model's dense start then
costs 0.1-0.3 s in all, where a large model's would cost seconds (31 logs of 50 ms on
150 ms steps: 3.5% of a 300-step run). A costlier model has its first
``dense_minimum`` steps logged, then as the budget allows. The choice is made once, after
those steps, so two runs whose costs differ a little still log the same steps. After
that the interval grows with the step (``growth`` x step, points evenly spaced on a log
axis) and is stretched further whenever the measured cost of a logging step, relative to
a plain step, would take the overhead past ``budget``. Only logging steps are timed:
plain-step time is the wall time between two logging steps minus the logging work.

The budget holds for the whole run, not only from one logging step to the next: what
the first steps (the dense start, or steps 0-2 of a costly model) spent over it is paid
back by logging less often afterwards (see ``PAYBACK_STRETCH``), until the run's books
(every logging step's cost and the quiet steps' share, over the time since the first
step) are back within ``budget``, by the step decided once when the dense start ends. A
run long enough to pay it back spends, by those books, at most ``budget`` in all; a
shorter one spends the dense start on top (``python -m benchmarks.overhead.run_length``).

The budget covers all of aelog's cost: what the steps that do not log pay for its hooks
(``quiet_step_seconds``, ~16 microseconds, which on a sub-millisecond step is a fair
share of 2%) comes off the budget first, and a logging step costs whatever it added to
the run, not only the time spent in aelog's own code: the monitor reads the clock at the
end of the step before a logging step and of the step after it (one comparison on the
steps that do not log, as for the next logging step), so a logging step is charged those
two steps less two plain steps: slower hooked layers, and the next step's slower start
(caches, the allocator) included, and plain steps are timed between those two readings,
free of both.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

SMOOTHING = 0.3
"""weight of the newest measurement in the running estimates of a step's and a log's cost."""
SPIKE_CAP = 3.0
"""a measured logging step counts toward the running estimate at no more than 3x it: a
one-off pause that lands in a logging step (a full garbage collection of a large heap,
the machine's other work) is charged to the budget, but does not make the cadence stop
logging for the rest of the run; a cost that really tripled is reached within a few logs."""
PAYBACK_STRETCH = 2
"""while the run's books are over the budget, logging steps come at most twice as far apart
as the budget alone would space them (and never past ``max_interval``): what the dense
start overspent is paid back at half the rate logging could spend, and the series keep
their points."""
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
    dense_log_seconds: float = 0.01
    """the dense start goes on past the first ``dense_minimum`` steps where a logging step
    costs under this (the cheapest of those after the first, whose one-off set-up is not a
    log's cost): its ~28 further logs then take ~0.3 s or less in all (their full cost,
    the slower step after each included), a one-off like start-up (aelog's 0.1-0.2 s,
    wandb's 1-1.5 s). On two shared cores the cheapest early logging step of the
    benchmark's MLP takes 3-4 ms, of its conv autoencoder 4-5 ms and of its 10M-parameter
    MLP 17-22 ms (``python -m benchmarks.overhead.dense_start``): none near the line, so
    two runs of one model take the same start (at 20 ms the 10M model took the dense start
    in one run and not in another, a one-off of 0.7 s when it did)."""
    dense_minimum: int = 3
    """the first steps, logged whatever they cost: the state at initialisation and the
    first updates (what most defects already show in)."""
    growth: float = 0.05
    max_interval: int = 1024
    """the longest gap the schedule alone allows; only the budget may stretch it further
    (a power of two, like every adaptive interval)."""
    quiet_step_seconds: float = 16e-6
    """what a step that does not log pays aelog's hooks (PyTorch's hooked call path for the
    model, two fast-path hook calls): the one cost not timed at run time, since timing
    every step would cost more than it. On a 2-core x86 server two runs of ``python -m
    benchmarks.overhead`` put aelog's non-logging MLP steps at 1.013 and 1.019 of the bare
    loop's 1.30 and 1.13 ms (+17 and +21 us; two bare loops differed by 0.5-0.7% there),
    and callgrind counts +43k instructions a step (``benchmarks.overhead.instructions``).
    A faster machine pays less, so this errs on the side of the budget."""
    clock: object = field(default=time.perf_counter, repr=False)

    next_step: int = 0
    wake_step: int = 0
    """the step count at whose end the monitor calls :meth:`clock_read` (the step after a
    logging step, then the step before the next one): a comparison, like ``next_step``."""
    logged: int = 0
    logging_seconds: float = 0.0
    """total measured time spent logging."""
    _plain_step_seconds: float | None = None
    _log_seconds: float | None = None
    _last_end: float | None = None
    _last_step: int | None = None
    _phase: str = "idle"
    """which reading ``wake_step`` waits for: "after" a log, "before" the next, or none."""
    _after: tuple[int, float] | None = None
    """(steps done, time) at the end of the step after the last logging step."""
    _before: float | None = None
    """the time at the end of the step before the logging step under way."""
    _pending: tuple[float, float, float | None] | None = None
    """the last log's (reading before it, cost charged, the estimate before it), until the
    reading after it gives its full cost."""
    _plain_timed: bool = False
    """plain steps were timed between two readings in this gap (not estimated)."""
    _dense: bool | None = None
    """whether the dense start goes on past ``dense_minimum`` steps; None until decided."""
    _cheapest: float | None = None
    """the cheapest logging step before that decision, the first one's set-up excluded."""
    _origin: float | None = None
    """the clock when the first logging step began: the whole run's books start there."""
    _payback_until: int | None = None
    """the step until which logging steps come ``PAYBACK_STRETCH`` times as far apart as
    the budget alone would space them; None until decided (see :meth:`_decide_payback`)."""

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
        slower call path). Either is provisional when the clock was read before this step:
        the reading after the next step replaces it with the full cost (see the module)."""
        now = self.clock()
        if self._origin is None:
            self._origin = now - (cost_seconds if span_seconds is None else span_seconds)
        if span_seconds is not None and self._plain_step_seconds:
            cost_seconds = max(cost_seconds, span_seconds - self._plain_step_seconds)
        self.logged += 1
        self.logging_seconds += cost_seconds
        if self.every is None and self._dense is None:
            self._decide_dense_start(step, cost_seconds)
        previous = self._log_seconds
        self._log_seconds = self._estimate_with(previous, cost_seconds)
        if (not self._plain_timed and self._last_end is not None
                and self._last_step is not None and step > self._last_step):
            plain = (now - self._last_end - cost_seconds) / (step - self._last_step)
            if plain > 0:
                self._plain_step_seconds = _smooth(self._plain_step_seconds, plain)
        self._last_end, self._last_step = now, step
        if (self.every is None and self._payback_until is None
                and step + 1 >= self.dense_minimum and not self._dense_start(step)):
            self._payback_until = self._decide_payback(step, now)
        self.next_step = self._aligned_after(step, self.interval_after(step))
        self._pending = None if self._before is None else (self._before, cost_seconds, previous)
        self._before, self._plain_timed = None, False
        if self.next_step - step >= 3:  # room for a plain step between the two readings
            self.wake_step, self._phase = step + 2, "after"
        else:
            self.wake_step, self._phase, self._pending = self.next_step, "idle", None

    def clock_read(self, steps_done: int) -> None:
        """The monitor's reading at the end of a step, once ``steps_done >= wake_step``."""
        if self._phase == "idle":  # dense logging: no reading is waited for
            return
        now = self.clock()
        if self._phase == "after":
            self._charge_in_full(now)
            self._after = (steps_done, now)
            self.wake_step, self._phase = self.next_step, "before"
        elif self._phase == "before":
            if self._after is not None and steps_done > self._after[0]:
                plain = (now - self._after[1]) / (steps_done - self._after[0])
                self._plain_step_seconds = _smooth(self._plain_step_seconds, plain)
                self._plain_timed = True
            self._before, self._phase = now, "idle"

    def _charge_in_full(self, now: float) -> None:
        """The last log's full cost: from the end of the step before it to the end of the
        step after it, less two plain steps; charged where it exceeds what was charged."""
        if self._pending is None or not self._plain_step_seconds:
            return
        before, charged, previous = self._pending
        self._pending = None
        extra = (now - before) - 2 * self._plain_step_seconds - charged
        if extra > 0:
            self.logging_seconds += extra
            self._log_seconds = self._estimate_with(previous, charged + extra)

    @staticmethod
    def _estimate_with(previous: float | None, cost: float) -> float:
        """The running estimate of a log's cost once one more log cost ``cost``: smoothed,
        the new cost counting at no more than SPIKE_CAP times the estimate before it."""
        if not previous or previous <= 0:
            return cost
        return _smooth(previous, min(cost, SPIKE_CAP * previous))

    def interval_after(self, step: int) -> int:
        if self.every is not None:
            return self.every - step % self.every
        if step + 1 < self.dense_minimum:
            return 1
        if self._dense_start(step):
            if step + 1 < self.warmup:
                return 1
            wanted = max(self._schedule(step), self._budget_interval())
            return max(1, min(self.early_interval, wanted))
        budget = self._budget_interval()
        if self._payback_until is not None and step < self._payback_until:
            budget = min(PAYBACK_STRETCH * budget, max(budget, self.max_interval))
        return max(self._schedule(step), budget)

    def _dense_start(self, step: int) -> bool:
        """Still in the dense start: in the first ``early_steps``, and logging is cheap."""
        return step + 1 < self.early_steps and self._dense is not False

    def _decide_dense_start(self, step: int, cost_seconds: float) -> None:
        if self.logged > 1:
            self._cheapest = cost_seconds if self._cheapest is None else min(
                self._cheapest, cost_seconds)
        if step + 1 >= self.dense_minimum:
            cheapest = cost_seconds if self._cheapest is None else self._cheapest
            self._dense = cheapest < self.dense_log_seconds

    def _aligned_after(self, step: int, interval: int) -> int:
        """The next logging step. With an adaptive cadence the interval is rounded to a
        power of two and the step to a multiple of it, so runs whose measured costs differ
        a little (two machines, two seeds) still log the same steps and their series line
        up. Rounding goes up, and the next step is the first multiple at least a whole
        interval on (the first gap after a change would be shorter otherwise, and the
        budget overrun), except where that would break the schedule's promises (a point
        every ``early_interval`` steps early on, at most ``max_interval`` apart)."""
        if self.every is not None or interval <= 1:
            return step + max(1, interval)
        cap = self.early_interval if self._dense_start(step) else self.max_interval
        rounded = 1 << (interval - 1).bit_length()
        if rounded > cap >= interval:
            rounded = 1 << (cap.bit_length() - 1)
        full_gap = -(-(step + interval) // rounded) * rounded  # no gap under the interval
        if full_gap - step <= cap or interval > cap:  # past the cap, the budget asked for it
            return full_gap
        return (step // rounded + 1) * rounded

    def _schedule(self, step: int) -> int:
        return max(1, min(self.max_interval, math.ceil(self.growth * step)))

    def _budget_interval(self) -> int:
        """Fewest steps between logs that keeps logging under the budget, once the steps
        that do not log have had their share (at most three quarters of it)."""
        if not self._log_seconds or not self._plain_step_seconds:
            return 1
        return max(1, math.ceil(self._log_seconds / self._room_per_step()))

    def _room_per_step(self) -> float:
        """What one step that does not log adds to the budget, less what it pays the hooks."""
        allowed = self.budget * self._plain_step_seconds
        return max(allowed - self.quiet_step_seconds, QUIET_SHARE_CAP * allowed)

    def _decide_payback(self, step: int, now: float) -> int:
        """Until which step the budget's spacing is stretched, decided once, when the dense
        start is over: what the run spent so far (logging steps in full, quiet steps their
        share) over the budget's share of the time since its first step, paid back at what
        a step adds to the budget less what the stretched spacing spends. Rounded up to a
        power of two, so two runs whose costs differ a little still log the same steps."""
        if self._origin is None or not self._log_seconds or not self._plain_step_seconds:
            return step
        quiet_steps = max(0, step + 1 - self.logged)
        spent = self.logging_seconds + self.quiet_step_seconds * quiet_steps
        owed = spent - self.budget * (now - self._origin)
        stretched = max(self._schedule(step), PAYBACK_STRETCH * self._budget_interval())
        rate = self._room_per_step() - self._log_seconds / stretched
        if owed <= 0 or rate <= 0:
            return step
        return 1 << (step + math.ceil(owed / rate) - 1).bit_length()

    def overhead(self, elapsed_seconds: float) -> float:
        """Share of ``elapsed_seconds`` spent logging."""
        return self.logging_seconds / elapsed_seconds if elapsed_seconds > 0 else 0.0

    def describe(self) -> dict:
        return {
            "overhead_budget": self.budget,
            "log_every": self.every,
            "warmup_steps": self.warmup,
            "early_interval": self.early_interval,
            "dense_log_seconds": self.dense_log_seconds,
            "growth": self.growth,
            "max_interval": self.max_interval,
        }


def _smooth(previous: float | None, value: float, weight: float = SMOOTHING) -> float:
    return value if previous is None else (1 - weight) * previous + weight * value
