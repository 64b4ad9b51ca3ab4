"""Promise: non-logging steps cost nothing measurable; every run is measured in every tenth
of its steps and at its end, and a whole run's logging costs at most max(2%, 0.5 s)."""

from __future__ import annotations

import math
import time
from collections import Counter

import pytest
import torch
from sdk_fixtures import MLPAE, digits, train
from torch.profiler import ProfilerActivity, profile

import aelog
from aelog.logfile import format as fmt
from aelog.sdk.cadence import COVERAGE_FIRST, Cadence


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


def _simulate(cadence: Cadence, steps: int, step_seconds: float, log_seconds: float,
              after_seconds: float = 0.0, charged_seconds: float | None = None):
    """The monitor's side of the cadence: a step, maybe a log, the clock read when asked.

    A logging step takes ``log_seconds`` more than a plain step and the step after it
    ``after_seconds`` more (caches, the allocator); aelog's own code is seen to take
    ``charged_seconds`` of it (default: all of ``log_seconds``)."""
    clock = [0.0]
    cadence.clock = lambda: clock[0]
    logged = []
    previous_logged = False
    for step in range(steps):
        clock[0] += step_seconds + (after_seconds if previous_logged else 0.0)
        previous_logged = cadence.should_log(step)
        if previous_logged:
            clock[0] += log_seconds
            logged.append(step)
            cadence.logged_step(step, log_seconds if charged_seconds is None else charged_seconds)
        if step + 1 >= cadence.wake_step:
            cadence.clock_read(step + 1)
    return logged, clock[0]


def _spent(cadence: Cadence, steps: int, logged: list[int], log_seconds: float) -> float:
    """What the run paid aelog: its logging steps and its quiet steps' hooks."""
    return len(logged) * log_seconds + (steps - len(logged)) * cadence.quiet_step_seconds


def _covers_every_tenth(logged: list[int], steps: int) -> bool:
    """A point in each tenth of a run of ``steps`` steps (the end measured at ``steps``)."""
    points = [*logged, steps]
    tenths = [(k * steps / 10, (k + 1) * steps / 10) for k in range(10)]
    return all(any(low <= p <= high for p in points) for low, high in tenths
               if math.floor(high) >= low)  # a tenth of a short run may hold no step


def test_the_first_twenty_steps_are_all_logged_when_a_log_costs_a_few_steps():
    logged, _ = _simulate(Cadence(budget=0.02), 2000, step_seconds=0.001, log_seconds=0.003)
    assert logged[:20] == list(range(20))
    early = [s for s in logged if s < 100]
    assert max(b - a for a, b in zip(early, early[1:], strict=False)) <= 10


@pytest.mark.parametrize("steps", [7, 30, 104, 250, 300, 600, 800, 1500, 2000])
def test_a_small_models_run_of_any_length_has_a_point_in_every_tenth(steps):
    """The benchmark MLP's costs (1.4 ms steps, 4.5 ms logs): the length is unknown while it
    runs, yet wherever it stops, each tenth of it was logged, and the whole run's cost stays
    within max(2% of its time, 0.5 s)."""
    cadence = Cadence(budget=0.02)
    logged, _ = _simulate(cadence, steps, step_seconds=0.0014, log_seconds=0.0045)
    assert _covers_every_tenth(logged, steps)
    assert _spent(cadence, steps, logged, 0.0045) <= max(0.02 * steps * 0.0014, 0.5)


def test_the_schedule_is_geometric_in_the_step():
    logged, _ = _simulate(Cadence(budget=0.02), 100_000, step_seconds=1.0, log_seconds=1e-6)
    later = [s for s in logged if s >= 20]
    gaps = [b - a for a, b in zip(later, later[1:], strict=False)]
    assert all(gap <= 0.1 * a for a, gap in zip(later, gaps, strict=False))
    # about 25 points per tenfold of steps: a cost that grows with the log of the run
    per_decade = len([s for s in logged if 10_000 <= s < 100_000])
    assert 22 <= per_decade <= 27
    assert len(logged) < 1000  # fits TensorBoard's 1,000-point scalar reservoir


@pytest.mark.parametrize(("step_seconds", "log_seconds"), [
    (0.0014, 0.005),  # the benchmark MLP
    (0.009, 0.0075),  # its conv autoencoder
    (0.13, 0.03),     # its 10M-parameter MLP
    (0.002, 0.08),    # a log costing 40 steps
    (0.01, 0.5),      # a log costing 50 steps of a slower model
])
@pytest.mark.parametrize("steps", [300, 2000, 50_000])
def test_a_whole_run_costs_at_most_the_budget_or_a_second(step_seconds, log_seconds, steps):
    """max(2% of the run's time, 0.5 s), and twice the half second where a short run's
    coverage needs it (coverage comes first)."""
    cadence = Cadence(budget=0.02)
    logged, _ = _simulate(cadence, steps, step_seconds, log_seconds)
    spent = _spent(cadence, steps, logged, log_seconds)
    # the first dense_minimum steps are logged whatever they cost
    floor = cadence.dense_minimum * log_seconds
    allowed = max(0.02 * steps * step_seconds, COVERAGE_FIRST * 0.5, floor) + log_seconds
    assert spent <= allowed
    if steps >= 50_000:  # thinned, never silent
        assert len(logged) >= 10


def test_the_steady_state_keeps_to_the_budget():
    """Over the second half of a long run, logging's share is within the budget."""
    for step_seconds, log_seconds in [(0.0014, 0.005), (0.009, 0.0075), (0.13, 0.03)]:
        steps = 100_000
        cadence = Cadence(budget=0.02)
        logged, _ = _simulate(cadence, steps, step_seconds, log_seconds)
        late = [s for s in logged if s >= steps // 2]
        paid = len(late) * log_seconds + (steps // 2) * cadence.quiet_step_seconds
        assert paid / (steps // 2 * step_seconds) <= 0.02


@pytest.mark.parametrize("steps", [300, 800, 2000, 5000])
def test_coverage_comes_before_the_half_second(steps):
    """The benchmark's conv autoencoder (9 ms steps, 7.5 ms logs): a point in every tenth
    costs it more than 0.5 s on runs of 500-5,000 steps; coverage is kept, within 1 s."""
    cadence = Cadence(budget=0.02)
    logged, _ = _simulate(cadence, steps, step_seconds=0.009, log_seconds=0.0075)
    assert _covers_every_tenth(logged, steps) and cadence.thinned == 0
    assert _spent(cadence, steps, logged, 0.0075) <= max(0.02 * steps * 0.009, 1.0)


@pytest.mark.parametrize(("steps", "step_seconds", "log_seconds"), [
    (2000, 0.009, 0.03),  # a conv model whose log costs 3 of its steps
    (100_000, 0.0014, 0.005),  # the MLP, whose quiet steps' hooks take half the budget
])
def test_coverage_the_books_cannot_pay_for_thins_evenly_instead_of_stopping(
        steps, step_seconds, log_seconds):
    """Where 24 points a decade cost more than max(2%, 1 s), the gaps widen, to at most
    40% of the step: thinner, never silent."""
    cadence = Cadence(budget=0.02)
    logged, _ = _simulate(cadence, steps, step_seconds, log_seconds)
    assert cadence.thinned > 0
    later = [s for s in logged if s >= cadence.early_steps]  # a costly model's start: below
    assert all(b - a <= 0.4 * a for a, b in zip(later, later[1:], strict=False))


def test_an_expensive_model_skips_the_dense_start():
    # 50 ms logs on 150 ms steps (a 10M-parameter model on two cores): a dense start of 20
    # logs would be 1 s, 2.2% of a 300-step run on its own
    cadence = Cadence(budget=0.02)
    logged, _ = _simulate(cadence, 300, step_seconds=0.15, log_seconds=0.05)
    assert logged[:3] == [0, 1, 2] and 3 not in logged
    assert _covers_every_tenth(logged, 300)
    assert _spent(cadence, 300, logged, 0.05) <= 0.02 * 300 * 0.15 + 0.05


def test_a_model_whose_log_costs_twenty_ms_skips_the_dense_start():
    logged, _ = _simulate(Cadence(budget=0.02), 300, step_seconds=0.15, log_seconds=0.0196)
    assert logged[:3] == [0, 1, 2] and 3 not in logged


def test_a_one_off_pause_in_the_first_logs_does_not_cancel_the_dense_start():
    # the first logging step's set-up (model inspection, metadata) and a pause in the
    # second (a garbage collection) are no log's cost
    costs = iter([0.2, 0.1] + [0.003] * 100)
    cadence = Cadence(budget=0.02)
    logged = _simulate_costs(cadence, 100, 0.001, lambda index: next(costs))
    assert logged[:20] == list(range(20)) and cadence._dense


def test_the_first_steps_are_logged_whatever_they_cost():
    logged, _ = _simulate(Cadence(budget=0.02), 2000, step_seconds=0.001, log_seconds=0.2)
    assert logged[:3] == [0, 1, 2] and 3 not in logged


def test_log_every_fixes_the_cadence():
    logged, _ = _simulate(Cadence(every=7), 50, step_seconds=0.001, log_seconds=1.0)
    assert logged == list(range(0, 50, 7))
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
    steps = monitor.run_data().signal(fmt.RELATIVE_ERROR).steps.tolist()
    assert steps[:3] == [0, 1, 2]
    if 3 in steps:  # a logging step under 10 ms: the dense start (not on a loaded machine)
        assert steps[:20] == list(range(20))
    assert steps[-1] == 600  # the end, measured at close
    trained = monitor.run_data().trained
    assert trained["thinned"] == monitor.cadence.thinned
    if trained["thinned"] == 0:  # logging cost what this model's logs cost on a quiet machine
        assert _covers_every_tenth(steps[:-1], 600)
    else:  # a loaded machine made the logs costly: thinned evenly, never silent
        gaps = [(b - a) / a for a, b in zip(steps[20:-1], steps[21:-1], strict=False)]
        assert max(gaps) <= 0.4 * 1.01
    assert monitor.cadence.logging_seconds < elapsed
    assert trained["final_step"] == 600 and trained["steps"] == 600
    assert monitor.run_data().metadata["cadence"]["overhead_budget"] == 0.02


def test_slightly_different_costs_log_the_same_steps():
    # Two machines (or two runs) whose logging costs differ by 10% log the same steps, so
    # verdicts and run comparisons do not hinge on timing noise.
    steps = 5000
    a, _ = _simulate(Cadence(budget=0.02), steps, step_seconds=0.01, log_seconds=0.0010)
    b, _ = _simulate(Cadence(budget=0.02), steps, step_seconds=0.01, log_seconds=0.0011)
    assert a == b


def test_what_quiet_steps_pay_comes_off_the_budget():
    """A 0.5 ms step pays 6 us of hooks when it does not log: that is 1.2% of it, so over a
    long run logging may take only what is left of the 2%."""
    step_seconds, quiet, log_cost, steps = 0.0005, 6e-6, 0.005, 400_000
    cadence = Cadence(budget=0.02, quiet_step_seconds=quiet)
    logged, _ = _simulate(cadence, steps, step_seconds + quiet, log_cost)
    paid = len(logged) * log_cost + (steps - len(logged)) * quiet
    assert paid <= max(0.02 * steps * step_seconds, 0.5) + log_cost


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
    """Only part of a logging step's cost is aelog's own code (here 2 of 5 ms), and the step
    after it runs 1 ms slow: the clock readings around it charge all 6 ms, plain steps
    are timed without them."""
    cadence = Cadence(budget=0.02)
    steps, step_seconds = 5_000, 0.002
    logged, _ = _simulate(cadence, steps, step_seconds, log_seconds=0.005,
                          after_seconds=0.001, charged_seconds=0.002)
    assert cadence._log_seconds == pytest.approx(0.006, rel=0.05)
    assert cadence._plain_step_seconds == pytest.approx(step_seconds, rel=0.01)
    assert cadence.logging_seconds >= 0.006 * (len(logged) - 20) * 0.95


def test_logs_too_close_for_a_clock_reading_are_charged_their_full_cost():
    """Every step to 20 and gaps of 2 after: no reading falls between two logs there, so
    the slower step after each (3 ms here, beside 3 ms of its own) is charged at the ratio
    the first logs read in full showed."""
    cadence = Cadence(budget=0.02)
    steps = 3000
    logged, _ = _simulate(cadence, steps, step_seconds=0.002, log_seconds=0.003,
                          after_seconds=0.003)
    assert cadence._full_ratio == pytest.approx(2.0, rel=0.05)
    assert cadence.logging_seconds == pytest.approx(0.006 * len(logged), rel=0.05)


def _simulate_costs(cadence: Cadence, steps: int, step_seconds: float, log_cost) -> list[int]:
    """Like _simulate, with each logging step's cost given by ``log_cost(index of the log)``."""
    clock = [0.0]
    cadence.clock = lambda: clock[0]
    logged = []
    for step in range(steps):
        clock[0] += step_seconds
        if cadence.should_log(step):
            cost = log_cost(len(logged))
            clock[0] += cost
            logged.append(step)
            cadence.logged_step(step, cost)
        if step + 1 >= cadence.wake_step:
            cadence.clock_read(step + 1)
    return logged


def test_a_one_off_pause_in_a_logging_step_is_charged_but_does_not_stop_logging(monkeypatch):
    """A 3 s pause (a full garbage collection of a big heap) lands in the 60th logging step
    of a 5 ms-per-log run: the books take all of it, logging thins (never past 40% of the
    step) until they are paid, then keeps its rhythm; counted in full by the estimate of a
    log's cost, the pause would keep it thinned for the rest of the run."""
    def cost(index: int) -> float:
        return 3.0 if index == 60 else 0.005

    cadence = Cadence(budget=0.02)
    logged = _simulate_costs(cadence, 200_000, 0.02, cost)
    assert cadence.logging_seconds >= 3.0 + 0.005 * (len(logged) - 1) - 1e-9
    later = logged[60:]
    ratios = [(b - a) / a for a, b in zip(later, later[1:], strict=False)]
    assert max(ratios) <= 0.4 and ratios[-1] <= 0.1
    monkeypatch.setattr("aelog.sdk.cadence.SPIKE_CAP", float("inf"))
    uncapped = Cadence(budget=0.02)
    logged = _simulate_costs(uncapped, 200_000, 0.02, cost)
    assert len(logged) < len(later) + 60


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
