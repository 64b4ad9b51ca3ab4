"""When to log, and how much: a point in every tenth of the run, whatever its length, and
every signal as often as the budget pays for.

A run's length is not known in advance, so the schedule is geometric in the step: after
the first ``warmup`` steps (all logged, where a logging step is cheap: a bad
initialisation shows there), the gap after step ``s`` is a tenth of ``s`` (``coverage``,
rounded down). Any run, stopped at any step N, then has a logged point in every tenth of
its steps, about 24 points per tenfold of steps. The steps follow from the step count
alone, so two runs of one script log the same steps. The monitor adds one more point when
the run ends (:meth:`aelog.sdk.monitor.Monitor.close`), so its verdict is about the end.

Each point is *full* (every signal: layers, gradients, the update, the code, the identity
check) or *headline only* (the reconstruction error and the outputs' spread, read off the
training forward's own output: a few reductions over a tensor the step already made).
Coverage never thins: a headline point costs a small fraction of a step. A point is full
where the books afford it:

* until ``early_steps``, the whole run's books: what logging cost (measured in full, see
  below) plus what the steps that do not log pay the hooks, within ``max(budget x elapsed
  time, allowance)``; ``allowance`` (0.5 s) is what a user does not feel, spent evenly
  over the doublings of the step, and it pays for the dense start;
* from ``early_steps`` on, also the steady state's own books, from its first point:
  within ``budget`` of the time since, so that after the dense start logging takes at most
  ``budget`` of a run, short or long. On a ~1 ms step the hooks of the quiet steps leave
  little of 2%: full points come every few hundred steps, headline points fill the tenths.

A model whose logging step is costly (``dense_log_seconds`` or more, decided once after
its first ``dense_minimum`` steps, so runs whose costs differ a little decide alike) has no
dense start: after steps 0-2 its points follow the coverage gap, full where the books allow.

What is charged: a logging step costs whatever it added to the run, not only the time in
aelog's own code. The monitor reads the clock at the end of the step before a logging
step and of the step after it (one integer comparison on the steps that do not log), so a
logging step is charged those two steps less two plain steps: slower hooked layers, and
the next step's slower start (caches, the allocator), included; plain steps are timed
between the two readings, free of both. The one cost not timed is what a step that does
not log pays the hooks (``quiet_step_seconds``): timing every step would cost more.
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
the machine's other work) is charged to the books, but does not make the cadence stop
logging for the rest of the run; a cost that really tripled is reached within a few logs."""
QUIET_SHARE_CAP = 0.25
"""full points keep at least a quarter of the steady state's budget, even when plain steps
are so short that the hooks' own cost would take it all."""


def coverage_gap(step: int, coverage: float = 0.1) -> int:
    """The widest gap after ``step`` that keeps a point in every tenth of any run that
    reaches the next point: a gap of at most a tenth of the step."""
    return max(1, int(coverage * step))


def next_multiple(step: int, gap: int) -> int:
    """The first multiple of ``gap`` after ``step``."""
    return (step // gap + 1) * gap


@dataclass
class Cadence:
    budget: float = 0.02
    """the share of training time logging may take over the whole run (0.02 = 2%)."""
    every: int | None = None
    """a fixed interval (``log_every=N``): no adaptation."""
    allowance: float = 0.5
    """seconds of logging a whole run may take even when that is over ``budget``: the dense
    start (a 2,000-step run of 1 ms steps has 2 s in all)."""
    coverage: float = 0.1
    """each gap is at most this share of the step reached, so a run stopped at any step has
    a point in every tenth of it."""
    warmup: int = 20
    """the first steps, all logged where a logging step is cheap."""
    early_steps: int = 100
    """the dense start's end: from the first point at or after it, full points also keep to
    ``budget`` of the time since (the steady state's books)."""
    dense_log_seconds: float = 0.01
    """a logging step costing less than this (the cheapest of the first ``dense_minimum``
    after the first, whose one-off set-up is not a log's cost) makes the start dense. On
    two shared cores the cheapest early logging step of the benchmark's MLP takes 3-4 ms,
    of its conv autoencoder 4-5 ms and of its 10M-parameter MLP 17-22 ms: none near the
    line, so two runs of one model take the same start."""
    dense_minimum: int = 3
    """the first steps, logged whatever they cost: the state at initialisation and the
    first updates (what most defects already show in)."""
    quiet_step_seconds: float = 16e-6
    """what a step that does not log pays aelog's hooks (PyTorch's hooked call path for the
    model, two fast-path hook calls). On a 2-core x86 server the benchmark MLP's
    non-logging steps measured +11 to +27 us over the bare loop's; callgrind counts +43k
    instructions a step (``python -m benchmarks.overhead.instructions``)."""
    clock: object = field(default=time.perf_counter, repr=False)

    next_step: int = 0
    next_full: bool = True
    """whether the point at ``next_step`` measures every signal, or the headline only."""
    wake_step: int = 0
    """the step count at whose end the monitor calls :meth:`clock_read` (the step after a
    logging step, then the step before the next one): a comparison, like ``next_step``."""
    logged: int = 0
    logging_seconds: float = 0.0
    """total measured time spent logging."""
    headline_only: int = 0
    """points that measured the headline only, where the books did not pay for a full one."""
    _plain_step_seconds: float | None = None
    _log_seconds: float | None = None
    """the running estimate of a full point's cost (a headline point's is charged, never
    planned for: it is always made)."""
    _last_end: float | None = None
    _last_step: int | None = None
    _phase: str = "idle"
    """which reading ``wake_step`` waits for: "after" a log, "before" the next, or none."""
    _after: tuple[int, float] | None = None
    """(steps done, time) at the end of the step after the last logging step."""
    _before: float | None = None
    """the time at the end of the step before the logging step under way."""
    _pending: tuple[float, float, float | None, bool] | None = None
    """the last log's (reading before it, cost charged, the estimate before it, full), until
    the reading after it gives its full cost."""
    _plain_read: bool = False
    """plain steps have been timed between two readings at least once: from then on, only
    readings update their estimate."""
    _plain_timed: bool = False
    """plain steps were timed between two readings in this gap (not estimated)."""
    _dense: bool | None = None
    """whether the start is dense; None until decided after ``dense_minimum`` steps."""
    _cheapest: float | None = None
    """the cheapest logging step before that decision, the first one's set-up excluded."""
    _full_ratio: float | None = None
    """a log's full cost (the step after it included) over what was charged at once, as the
    clock readings around logs show it; None until a log was read in full."""
    _unread_seconds: float = 0.0
    """what logs no reading showed in full were charged, until ``_full_ratio`` is known."""
    _origin: float | None = None
    """the clock when the first logging step began: the whole run's books start there."""
    _steady: tuple[float, float, int, int] | None = None
    """(clock, logging seconds, step, points logged) when the first point at or after
    ``early_steps`` was planned: the steady state's books start there."""

    def __post_init__(self) -> None:
        if self.every is not None and self.every < 1:
            raise ValueError(f"log_every must be a positive number of steps, got {self.every}")
        if not 0 < self.budget <= 1:
            raise ValueError(f"overhead_budget must be in (0, 1], got {self.budget}")

    def should_log(self, step: int) -> bool:
        """Plain integer comparison: what a non-logging step pays."""
        return step >= self.next_step

    def logged_step(self, step: int, cost_seconds: float, span_seconds: float | None = None,
                    *, full: bool = True) -> None:
        """Record a logging step's cost and plan the next one.

        ``cost_seconds`` is the time spent in aelog's code; ``span_seconds``, when given, the
        wall time of the whole logging step (its forward to the end of logging): less a
        plain step, what logging added to it, which may be more (hooked layers run PyTorch's
        slower call path). Either is provisional when the clock was read before this step:
        the reading after the next step replaces it with the full cost (see the module).
        ``full``: the point measured every signal, not the headline only."""
        now = self.clock()
        if self._origin is None:
            self._origin = now - (cost_seconds if span_seconds is None else span_seconds)
        if span_seconds is not None and self._plain_step_seconds:
            cost_seconds = max(cost_seconds, span_seconds - self._plain_step_seconds)
        self.logged += 1
        if not full:
            self.headline_only += 1
        self.logging_seconds += cost_seconds
        if full and self.every is None and self._dense is None:
            self._decide_dense_start(step, cost_seconds)
        previous = self._log_seconds
        if full:
            self._log_seconds = self._estimate_with(previous, cost_seconds)
        if (not self._plain_read and self._last_end is not None
                and self._last_step is not None and step > self._last_step):
            plain = (now - self._last_end - cost_seconds) / (step - self._last_step)
            if plain > 0:
                self._plain_step_seconds = _smooth(self._plain_step_seconds, plain)
        self._last_end, self._last_step = now, step
        self.next_step = self._plan(step, now)
        read_in_full = self._before is not None and self.next_step - step >= 3
        if not read_in_full:
            self._charge_unread(cost_seconds)
        self._pending = (None if self._before is None
                         else (self._before, cost_seconds, previous, full))
        self._before, self._plain_timed = None, False
        if self.next_step - step >= 3:  # room for a plain step between the two readings
            self.wake_step, self._phase = step + 2, "after"
        else:
            self.wake_step, self._phase, self._pending = self.next_step, "idle", None

    def _charge_unread(self, cost_seconds: float) -> None:
        """A log whose full cost no clock reading will show (logs too close together, early
        in a run): charged at the ratio of full to own cost the readings showed, or, until
        one has, kept aside and charged when it does."""
        if self._full_ratio is None:
            self._unread_seconds += cost_seconds
        else:
            self.logging_seconds += (self._full_ratio - 1) * cost_seconds

    def final_measured(self, cost_seconds: float) -> None:
        """The measurement made when the run ends: charged to the books like a log."""
        self.logging_seconds += cost_seconds

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
                # the first reading replaces the estimate from the time between logs, which
                # holds the slower steps after them
                self._plain_step_seconds = _smooth(
                    self._plain_step_seconds if self._plain_read else None, plain)
                self._plain_timed = self._plain_read = True
            self._before, self._phase = now, "idle"

    def _charge_in_full(self, now: float) -> None:
        """The last log's full cost: from the end of the step before it to the end of the
        step after it, less two plain steps; charged where it exceeds what was charged."""
        if self._pending is None or not self._plain_step_seconds:
            return
        before, charged, previous, full = self._pending
        self._pending = None
        extra = (now - before) - 2 * self._plain_step_seconds - charged
        if extra > 0:
            self.logging_seconds += extra
            if full:
                self._log_seconds = self._estimate_with(previous, charged + extra)
        if charged > 0 and full:  # full points' ratio: what the first, all full, show
            ratio = min(SPIKE_CAP, max(1.0, (charged + extra) / charged))
            self._full_ratio = _smooth(self._full_ratio, ratio)
            self.logging_seconds += (self._full_ratio - 1) * self._unread_seconds
            self._unread_seconds = 0.0

    @staticmethod
    def _estimate_with(previous: float | None, cost: float) -> float:
        """The running estimate of a log's cost once one more log cost ``cost``: smoothed,
        the new cost counting at no more than SPIKE_CAP times the estimate before it."""
        if not previous or previous <= 0:
            return cost
        return _smooth(previous, min(cost, SPIKE_CAP * previous))

    def plan_after(self, step: int) -> tuple[int, bool]:
        """The next logging step after ``step`` and whether it is full, as planned now (rank
        sync asks; this rank's own plan is left as it was)."""
        full = self.next_full
        at = self._plan(step, self.clock())
        planned, self.next_full = self.next_full, full
        return at, planned

    def _plan(self, step: int, now: float) -> int:
        """The next logging step after ``step``, and whether it is full (``next_full``)."""
        self.next_full = True
        if self.every is not None:
            return next_multiple(step, self.every)
        if step + 1 < self.dense_minimum or (self._dense and step + 1 < self.warmup):
            return step + 1
        at = step + coverage_gap(step, self.coverage)
        self.next_full = self._full_affordable(step, at, now)
        return at

    def _full_affordable(self, step: int, at: int, now: float) -> bool:
        """Whether a full point at step ``at`` keeps the books (see the module) within."""
        if self._origin is None or not self._log_seconds or not self._plain_step_seconds:
            return True
        if at >= self.early_steps and self._steady is None:  # the steady state's books
            self._steady = (now, self.logging_seconds, step, self.logged)
        ahead = (at - step) * self._plain_step_seconds
        quiet = (at - step - 1) * self.quiet_step_seconds
        spent = self.logging_seconds + self.quiet_step_seconds * max(0, step + 1 - self.logged)
        elapsed = now - self._origin + ahead
        limit = max(self.budget * elapsed, self._paced_allowance(at))
        if spent + quiet + self._log_seconds > limit:
            return False
        if self._steady is None:
            return True
        since, paid, first, points = self._steady
        elapsed = now - since + ahead
        allowed = self.budget * elapsed
        quiet_steps = max(0, step - first - (self.logged - points)) + (at - step - 1)
        hooks = min(quiet_steps * self.quiet_step_seconds, (1 - QUIET_SHARE_CAP) * allowed)
        return self.logging_seconds - paid + hooks + self._log_seconds <= allowed

    def _paced_allowance(self, step: int) -> float:
        """The part of ``allowance`` a run may have spent by ``step``: all of it by the step
        from which the budget's own share of the time pays more (``allowance / (budget x a
        plain step)`` steps), in equal parts per doubling of the step before it, so a costly
        model's full points thin evenly instead of stopping once the allowance is spent."""
        crossing = self.allowance / (self.budget * self._plain_step_seconds)
        share = math.log2(1 + step) / math.log2(2 + crossing)
        return self.allowance * min(1.0, share)

    def _decide_dense_start(self, step: int, cost_seconds: float) -> None:
        if self.logged > 1:
            self._cheapest = cost_seconds if self._cheapest is None else min(
                self._cheapest, cost_seconds)
        if step + 1 >= self.dense_minimum:
            cheapest = cost_seconds if self._cheapest is None else self._cheapest
            self._dense = cheapest < self.dense_log_seconds

    def overhead(self, elapsed_seconds: float) -> float:
        """Share of ``elapsed_seconds`` spent logging."""
        return self.logging_seconds / elapsed_seconds if elapsed_seconds > 0 else 0.0

    def describe(self) -> dict:
        return {
            "overhead_budget": self.budget,
            "log_every": self.every,
            "warmup_steps": self.warmup,
            "coverage": self.coverage,
            "allowance_seconds": self.allowance,
            "dense_log_seconds": self.dense_log_seconds,
        }


def _smooth(previous: float | None, value: float, weight: float = SMOOTHING) -> float:
    return value if previous is None else (1 - weight) * previous + weight * value
