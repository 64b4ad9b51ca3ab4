"""Promise: non-logging steps cost nothing measurable; every run is measured in every tenth
of its steps and at its end, and a whole run's logging costs at most max(2%, 0.5 s)."""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest
import torch
from sdk_fixtures import MLPAE, digits, train
from torch.profiler import ProfilerActivity, profile

import aelog
from aelog.logfile import format as fmt
from aelog.sdk.cadence import Cadence


def _aten_ops(model, optimizer, x) -> Counter:
    """Every tensor operation (allocations and host reads included) of one training step."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        if optimizer is not None:
            optimizer.zero_grad()
        loss = ((model(x) - x) ** 2).mean()
        loss.backward()
        if optimizer is not None:
            optimizer.step()
    return Counter(e.name for e in prof.events() if e.name.startswith("aten::"))


@pytest.mark.parametrize("with_optimizer", [True, False], ids=["adam", "no_optimizer"])
def test_non_logging_step_runs_exactly_the_users_tensor_ops(tmp_path, with_optimizer):
    x = digits(64)

    def setup():
        torch.manual_seed(0)
        model = MLPAE()
        return model, torch.optim.Adam(model.parameters()) if with_optimizer else None

    plain_model, plain_opt = setup()
    train(plain_model, plain_opt, x, 2)
    plain = _aten_ops(plain_model, plain_opt, x)

    model, optimizer = setup()
    monitor = aelog.watch(model, optimizer, logdir=tmp_path, log_every=1000, on_collapse=None)
    train(model, optimizer, x, 2)  # step 0 logs, step 1 opens (without optimizer)
    watched = _aten_ops(model, optimizer, x)
    # between logging steps the layers carry no hooks at all (PyTorch's fast call path)
    assert all(not m._forward_hooks for m in model.modules())
    assert len(model._forward_pre_hooks) == 1
    # a logging step, for contrast: the same measurement does see aelog's work
    monitor.cadence.next_step = monitor.step
    monitor._logging = True
    logging = _aten_ops(model, optimizer, x)
    monitor.close()

    # The user's ops, plus only the NaN/Inf watch's two sums into tensors of ours (their
    # detach is a view, as_strided/fill_ are sum's own): no allocation (aten::empty*), and no
    # host read (aten::_local_scalar_dense, the op behind .item()/.tolist()) beyond Adam's.
    assert not plain - watched
    extra = watched - plain
    assert extra == Counter({"aten::detach": 2, "aten::sum": 2, "aten::as_strided": 2,
                             "aten::fill_": 2, "aten::add_": 2})
    assert sum(logging.values()) > sum(plain.values())


HEADLINE_SECONDS = 0.0004
"""what a headline point costs the benchmark MLP in place (its step after included)."""


@dataclass
class Simulated:
    logged: list[int] = field(default_factory=list)
    full: list[int] = field(default_factory=list)
    clock: float = 0.0
    spent: float = 0.0
    """what the run paid aelog: its points and its quiet steps' hooks."""
    spent_by_step: list[float] = field(default_factory=list)
    """``spent`` at the end of each step."""
    time_by_step: list[float] = field(default_factory=list)

    def spent_between(self, first: int, last: int) -> float:
        return self.spent_by_step[last - 1] - self.spent_by_step[first - 1]

    def time_between(self, first: int, last: int) -> float:
        return self.time_by_step[last - 1] - self.time_by_step[first - 1]


def _simulate(cadence: Cadence, steps: int, step_seconds: float, log_seconds: float,
              after_seconds: float = 0.0, charged_seconds: float | None = None,
              headline_seconds: float = HEADLINE_SECONDS, log_cost=None) -> Simulated:
    """The monitor's side of the cadence: a step, maybe a point, the clock read when asked.

    A full point takes ``log_seconds`` more than a plain step (``log_cost(index of the
    full point)`` where given), a headline point ``headline_seconds``; the step after a
    full one takes ``after_seconds`` more (caches, the allocator); aelog's own code is seen
    to take ``charged_seconds`` of a full point (default: all of it). Quiet steps pay
    ``cadence.quiet_step_seconds`` of hooks, inside ``step_seconds``."""
    run = Simulated()
    cadence.clock = lambda: run.clock
    previous_full = False
    for step in range(steps):
        run.clock += step_seconds + (after_seconds if previous_full else 0.0)
        logs = cadence.should_log(step)
        previous_full = logs and cadence.next_full
        if not logs:
            run.spent += cadence.quiet_step_seconds
        elif previous_full:
            cost = log_seconds if log_cost is None else log_cost(len(run.full))
            run.clock += cost
            run.spent += cost + after_seconds
            run.full.append(step)
            run.logged.append(step)
            seen = cost if charged_seconds is None else charged_seconds
            cadence.logged_step(step, seen)
        else:
            run.clock += headline_seconds
            run.spent += headline_seconds
            run.logged.append(step)
            cadence.logged_step(step, headline_seconds, full=False)
        if step + 1 >= cadence.wake_step:
            cadence.clock_read(step + 1)
        run.spent_by_step.append(run.spent)
        run.time_by_step.append(run.clock)
    return run


def _covers_every_tenth(logged: list[int], steps: int) -> bool:
    """A point in each tenth of a run of ``steps`` steps (the end measured at ``steps``)."""
    points = [*logged, steps]
    tenths = [(k * steps / 10, (k + 1) * steps / 10) for k in range(10)]
    return all(any(low <= p <= high for p in points) for low, high in tenths
               if math.floor(high) >= low)  # a tenth of a short run may hold no step


def test_the_first_twenty_steps_are_all_logged_in_full_when_a_log_costs_a_few_steps():
    run = _simulate(Cadence(budget=0.02), 2000, step_seconds=0.001, log_seconds=0.003)
    assert run.full[:20] == list(range(20))
    early = [s for s in run.logged if s < 100]
    assert max(b - a for a, b in zip(early, early[1:], strict=False)) <= 10


@pytest.mark.parametrize("steps", [7, 30, 104, 250, 300, 600, 800, 1500, 2000])
def test_a_small_models_run_of_any_length_has_a_point_in_every_tenth(steps):
    """The benchmark MLP's costs (1.2 ms steps, 5 ms full points): the length is unknown
    while it runs, yet wherever it stops, each tenth of it was logged, and the whole run's
    cost stays within max(2% of its time, 0.5 s)."""
    cadence = Cadence(budget=0.02)
    run = _simulate(cadence, steps, step_seconds=0.0012, log_seconds=0.005)
    assert _covers_every_tenth(run.logged, steps)
    assert run.spent <= max(0.02 * run.clock, 0.5)
    assert cadence.headline_only == len(run.logged) - len(run.full)


def test_after_the_dense_start_logging_keeps_to_the_budget_on_a_short_run():
    """The overhead benchmark's case: 2,000 steps of the MLP. From step 106 its quiet steps'
    hooks and headline points take most of the 2%; full points come only where the steady
    state's books pay for them, and every tenth still has a point."""
    cadence = Cadence(budget=0.02)
    steps = 2000
    run = _simulate(cadence, steps, step_seconds=0.00115, log_seconds=0.005)
    assert _covers_every_tenth(run.logged, steps)
    assert run.spent_between(106, steps) <= 0.02 * run.time_between(106, steps)
    assert [s for s in run.logged if s >= 106] and cadence.headline_only > 0


def test_the_schedule_is_geometric_in_the_step():
    run = _simulate(Cadence(budget=0.02), 100_000, step_seconds=1.0, log_seconds=1e-6)
    later = [s for s in run.logged if s >= 20]
    gaps = [b - a for a, b in zip(later, later[1:], strict=False)]
    assert all(gap <= 0.1 * a for a, gap in zip(later, gaps, strict=False))
    # about 25 points per tenfold of steps: a cost that grows with the log of the run
    per_decade = len([s for s in run.logged if 10_000 <= s < 100_000])
    assert 22 <= per_decade <= 27
    assert len(run.logged) < 1000  # fits TensorBoard's 1,000-point scalar reservoir
    assert run.full == run.logged  # cheap logs: every point full


@pytest.mark.parametrize(("step_seconds", "log_seconds"), [
    (0.0014, 0.005),  # the benchmark MLP
    (0.009, 0.0075),  # its conv autoencoder
    (0.13, 0.03),     # its 10M-parameter MLP
    (0.002, 0.08),    # a log costing 40 steps
    (0.01, 0.5),      # a log costing 50 steps of a slower model
])
@pytest.mark.parametrize("steps", [300, 2000, 50_000])
def test_a_whole_run_costs_at_most_the_budget_or_half_a_second(step_seconds, log_seconds, steps):
    """max(2% of the run's time, 0.5 s); a point in every tenth whatever a full one costs."""
    cadence = Cadence(budget=0.02)
    run = _simulate(cadence, steps, step_seconds, log_seconds)
    # the first dense_minimum steps are logged in full whatever they cost
    floor = cadence.dense_minimum * log_seconds
    assert run.spent <= max(0.02 * run.clock, 0.5, floor) + log_seconds
    assert _covers_every_tenth(run.logged, steps)


@pytest.mark.parametrize(("step_seconds", "log_seconds"),
                         [(0.0014, 0.005), (0.009, 0.0075), (0.13, 0.03)])
def test_the_steady_state_keeps_to_the_budget_and_measures_in_full(step_seconds, log_seconds):
    """Over the second half of a long run, logging's share is within the budget, and the
    books pay for full points there."""
    steps = 100_000
    cadence = Cadence(budget=0.02)
    run = _simulate(cadence, steps, step_seconds, log_seconds)
    half = steps // 2
    assert run.spent_between(half, steps) <= 0.02 * run.time_between(half, steps)
    assert len([s for s in run.full if s >= half]) >= 3


@pytest.mark.parametrize(("steps", "step_seconds", "log_seconds"), [
    (2000, 0.009, 0.03),  # a conv model whose full point costs 3 of its steps
    (300, 0.15, 0.05),  # a 10M-parameter model: a full point a third of a step
    (100_000, 0.0014, 0.005),  # the MLP, whose quiet steps' hooks take half the budget
])
def test_where_the_books_cannot_pay_for_full_points_the_headline_keeps_coverage(
        steps, step_seconds, log_seconds):
    """Where 24 full points a decade cost more than the budget, the others measure the
    headline: never thinner than a tenth of the step, full points spread over the run."""
    cadence = Cadence(budget=0.02)
    run = _simulate(cadence, steps, step_seconds, log_seconds)
    assert cadence.headline_only > 0 and _covers_every_tenth(run.logged, steps)
    later = [s for s in run.logged if s >= 20]
    assert all(b - a <= max(1, 0.1 * a) for a, b in zip(later, later[1:], strict=False))
    assert [s for s in run.full if s >= steps // 2]  # full points still come, late in the run


def test_an_expensive_model_skips_the_dense_start():
    # 50 ms full points on 150 ms steps (a 10M-parameter model on two cores): a dense start
    # of 20 would be 1 s, 2.2% of a 300-step run on its own
    cadence = Cadence(budget=0.02)
    run = _simulate(cadence, 300, step_seconds=0.15, log_seconds=0.05)
    assert run.full[:3] == [0, 1, 2] and 3 not in run.full and 3 in run.logged
    assert _covers_every_tenth(run.logged, 300)
    assert run.spent <= 0.02 * run.clock + 0.05


def test_a_model_whose_log_costs_twenty_ms_skips_the_dense_start():
    cadence = Cadence(budget=0.02)
    run = _simulate(cadence, 300, step_seconds=0.15, log_seconds=0.0196)
    assert run.full[:3] == [0, 1, 2] and cadence._dense is False
    assert len([s for s in run.full if s < 20]) < 20 and run.logged[:20] == list(range(20))
    assert run.spent <= max(0.02 * run.clock, 0.5)


def test_a_one_off_pause_in_the_first_logs_does_not_cancel_the_dense_start():
    # the first logging step's set-up (model inspection, metadata) and a pause in the
    # second (a garbage collection) are no log's cost
    costs = iter([0.2, 0.1] + [0.003] * 100)
    cadence = Cadence(budget=0.02)
    run = _simulate(cadence, 100, 0.001, 0.0, log_cost=lambda index: next(costs))
    assert run.full[:20] == list(range(20)) and cadence._dense


def test_the_first_steps_are_logged_in_full_whatever_they_cost():
    run = _simulate(Cadence(budget=0.02), 2000, step_seconds=0.001, log_seconds=0.2)
    assert run.full[:3] == [0, 1, 2] and 3 not in run.full
    assert _covers_every_tenth(run.logged, 2000)


def test_log_every_fixes_the_cadence():
    cadence = Cadence(every=7)
    run = _simulate(cadence, 50, step_seconds=0.001, log_seconds=1.0)
    assert run.logged == run.full == list(range(0, 50, 7))
    with pytest.raises(ValueError):
        Cadence(every=0)
    with pytest.raises(ValueError):
        Cadence(budget=0)


def test_real_run_is_measured_to_its_end(tmp_path):
    torch.manual_seed(0)
    model = MLPAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    data = digits(512)
    started = time.perf_counter()
    with aelog.watch(model, optimizer, logdir=tmp_path, on_collapse=None) as monitor:
        train(model, optimizer, data, 600)
    elapsed = time.perf_counter() - started
    run = monitor.run_data()
    steps = run.signal(fmt.RELATIVE_ERROR).steps.tolist()
    full = run.signal(fmt.LR).steps.tolist()  # every full point, and only those, has it
    assert full[:3] == [0, 1, 2]
    if 3 in full:  # a full point under 10 ms: the dense start (not on a loaded machine)
        assert full[:20] == list(range(20))
    assert steps[-1] == 600 and full[-1] == 600  # the end, measured in full at close
    assert _covers_every_tenth(steps[:-1], 600)
    trained = run.trained
    assert trained["headline_only"] == monitor.cadence.headline_only == len(steps) - len(full)
    assert trained["logging_steps"] == len(steps) - 1  # the end is not a training step's
    headline = {fmt.RELATIVE_ERROR, fmt.OUTPUT_VARIANCE_RATIO, fmt.RECON_MSE,
                fmt.NONFINITE_OUTPUT_FRACTION}
    for step in sorted(set(steps) - set(full)):  # error, spread, finite: nothing else
        assert {name for name, s in run.signals.items() if step in s.steps} == headline
        assert not [s for layer in run.layers.values() for s in layer.values()
                    if step in s.steps]
    assert monitor.cadence.logging_seconds < elapsed
    assert trained["final_step"] == 600 and trained["steps"] == 600
    assert run.metadata["cadence"]["overhead_budget"] == 0.02


def test_slightly_different_costs_log_the_same_steps():
    # Two machines (or two runs) whose logging costs differ by 10% log the same steps, so
    # verdicts and run comparisons do not hinge on timing noise.
    steps = 5000
    a = _simulate(Cadence(budget=0.02), steps, step_seconds=0.01, log_seconds=0.0010)
    b = _simulate(Cadence(budget=0.02), steps, step_seconds=0.01, log_seconds=0.0011)
    assert a.logged == b.logged


def test_what_quiet_steps_pay_comes_off_the_budget():
    """A 0.5 ms step pays 6 us of hooks when it does not log: that is 1.2% of it, so over a
    long run logging may take only what is left of the 2%."""
    step_seconds, quiet, log_cost, steps = 0.0005, 6e-6, 0.005, 400_000
    cadence = Cadence(budget=0.02, quiet_step_seconds=quiet)
    run = _simulate(cadence, steps, step_seconds + quiet, log_cost, headline_seconds=1e-4)
    assert run.spent <= max(0.02 * run.clock, 0.5) + log_cost


def test_a_logging_step_costs_what_it_added_to_its_step():
    """Hooked layers slow the user's own forward on a logging step: the step's whole span,
    less a plain step, is its cost when that is more than aelog's own code took."""
    cadence = Cadence(budget=0.02)
    clock = [0.0]
    cadence.clock = lambda: clock[0]
    for step in range(0, 300, 10):  # plain steps of 1 ms, logging adds 3 ms, 1 ms of it ours
        clock[0] += 0.010 + 0.003
        cadence.logged_step(step, 0.001, span_seconds=0.001 + 0.003)
    assert cadence._log_seconds == pytest.approx(0.003, rel=0.05)
    assert cadence._plain_step_seconds == pytest.approx(0.001, rel=0.05)


def test_a_logging_step_is_charged_what_it_cost_the_run_around_it():
    """Only part of a full point's cost is aelog's own code (here 2 of 5 ms), and the step
    after it runs 1 ms slow: the clock readings around it charge all 6 ms, plain steps
    are timed without them."""
    cadence = Cadence(budget=0.02)
    steps, step_seconds = 20_000, 0.002
    run = _simulate(cadence, steps, step_seconds, log_seconds=0.005,
                    after_seconds=0.001, charged_seconds=0.002)
    assert cadence._log_seconds == pytest.approx(0.006, rel=0.05)
    assert cadence._plain_step_seconds == pytest.approx(step_seconds, rel=0.01)
    headline = len(run.logged) - len(run.full)
    assert cadence.logging_seconds >= (
        0.006 * (len(run.full) - 20) + HEADLINE_SECONDS * headline) * 0.95


def test_logs_too_close_for_a_clock_reading_are_charged_their_full_cost():
    """Every step to 20 and gaps of 2 after: no reading falls between two logs there, so
    the slower step after each (3 ms here, beside 3 ms of its own) is charged at the ratio
    the first logs read in full showed."""
    cadence = Cadence(budget=0.02)
    run = _simulate(cadence, 3000, step_seconds=0.002, log_seconds=0.003, after_seconds=0.003)
    assert cadence._full_ratio == pytest.approx(2.0, rel=0.05)
    assert cadence.logging_seconds == pytest.approx(run.spent - cadence.quiet_step_seconds * (
        3000 - len(run.logged)), rel=0.1)


def test_a_one_off_pause_in_a_logging_step_is_charged_but_does_not_stop_logging(monkeypatch):
    """A 3 s pause (a full garbage collection of a big heap) lands in the 60th full point of
    a 5 ms-per-point run: the books take all of it, the points are headline only until
    they are paid, then full again; counted in full by the estimate of a full point's
    cost, the pause would keep them headline only for the rest of the run."""
    def cost(index: int) -> float:
        return 3.0 if index == 60 else 0.005

    cadence = Cadence(budget=0.02)
    run = _simulate(cadence, 200_000, 0.02, 0.0, log_cost=cost)
    assert cadence.logging_seconds >= 3.0 + 0.005 * (len(run.full) - 1) - 1e-9
    paused_at = run.full[60]
    later = [s for s in run.logged if s >= paused_at]
    assert all(b - a <= 0.1 * a for a, b in zip(later, later[1:], strict=False))
    assert run.logged[-1] in run.full  # full again once paid
    monkeypatch.setattr("aelog.sdk.cadence.SPIKE_CAP", float("inf"))
    uncapped = Cadence(budget=0.02)
    again = _simulate(uncapped, 200_000, 0.02, 0.0, log_cost=cost)
    assert len(again.full) < len(run.full)


def test_watch_sets_up_linear_algebra_before_the_first_step(tmp_path, monkeypatch):
    """The first eigen-decomposition of a process pays the library's set-up; watch() makes
    it, so the first training step does not, and draws nothing from the global RNG."""
    calls = []
    real = torch.linalg.eigvalsh
    monkeypatch.setattr(torch.linalg, "eigvalsh", lambda m: calls.append(m.shape) or real(m))
    torch.manual_seed(0)
    model = MLPAE()
    state = torch.random.get_rng_state()
    with aelog.watch(model, torch.optim.Adam(model.parameters()), logdir=tmp_path,
                     on_collapse=None):
        assert calls, "no eigen-decomposition at watch()"
        assert torch.equal(torch.random.get_rng_state(), state)
