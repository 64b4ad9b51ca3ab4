"""Promise: non-logging steps cost nothing measurable; logging stays under a budget while
still sampling the first hundred steps densely."""

from __future__ import annotations

import time
from collections import Counter

import pytest
import torch
from sdk_fixtures import MLPAE, digits, train
from torch.profiler import ProfilerActivity, profile

import aelog
from aelog import format as fmt
from aelog.cadence import Cadence


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

    # Same ops, same counts: no extra allocation, and no extra host read
    # (aten::_local_scalar_dense, the op behind .item()/.tolist(), beyond what Adam does).
    assert watched == plain
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


def test_first_hundred_steps_are_sampled_densely_when_a_log_costs_a_few_steps():
    # a small model's logging step costs ~3 plain steps: the dense start is ~0.1 s in all
    logged, _ = _simulate(Cadence(budget=0.02), 2000, step_seconds=0.001, log_seconds=0.003)
    early = [s for s in logged if s < 100]
    assert early[:20] == list(range(20)) and len(early) >= 25
    assert max(b - a for a, b in zip(early, early[1:], strict=False)) <= 10


def test_an_expensive_model_skips_the_dense_start_and_keeps_to_the_budget_from_step_3():
    # 50 ms logs on 150 ms steps (a 10M-parameter model on two cores): a dense start of 31
    # logs would be 1.5 s, 3.5% of a 300-step run
    cadence = Cadence(budget=0.02)
    steps, step_seconds, log_seconds = 3000, 0.15, 0.05
    logged, _ = _simulate(cadence, steps, step_seconds, log_seconds)
    # steps 0-2 overspent the budget: twice the budget's spacing (32) until step 128 pays
    # it back, then the budget's own
    assert logged[:6] == [0, 1, 2, 64, 128, 160]
    later = len(logged) - cadence.dense_minimum
    assert later * log_seconds <= 0.02 * steps * step_seconds
    assert later >= 10  # still a usable series


def test_a_model_whose_log_costs_twenty_ms_skips_the_dense_start():
    # the 10M-parameter MLP's cheapest logging step on two cores (~20 ms): at a 20 ms
    # threshold one run took the dense start (0.7 s) and another did not
    logged, _ = _simulate(Cadence(budget=0.02), 300, step_seconds=0.15, log_seconds=0.0196)
    assert logged[:3] == [0, 1, 2] and 3 not in logged
    assert len([s for s in logged if s < 100]) <= 15


def test_a_one_off_pause_in_the_first_logs_does_not_cancel_the_dense_start():
    # the first logging step's set-up (model inspection, metadata) and a pause in the
    # second (a garbage collection) are no log's cost
    costs = iter([0.2, 0.3] + [0.003] * 100)
    cadence = Cadence(budget=0.02)
    clock = [0.0]
    cadence.clock = lambda: clock[0]
    logged = []
    for step in range(100):
        clock[0] += 0.001
        if cadence.should_log(step):
            cost = next(costs)
            clock[0] += cost
            logged.append(step)
            cadence.logged_step(step, cost)
        if step + 1 >= cadence.wake_step:
            cadence.clock_read(step + 1)
    assert logged[:20] == list(range(20)) and len(logged) >= 25


def _whole_run_share(cadence: Cadence, steps: int, step_seconds: float, log_seconds: float
                     ) -> tuple[float, list[int]]:
    logged, _ = _simulate(cadence, steps, step_seconds, log_seconds)
    spent = len(logged) * log_seconds + (steps - len(logged)) * cadence.quiet_step_seconds
    return spent / (steps * step_seconds), logged


def test_the_dense_start_is_paid_back_so_the_whole_run_keeps_to_the_budget(monkeypatch):
    """A conv autoencoder's 7.5 ms logs on 9.5 ms steps: the dense start (~0.23 s) is 1.2%
    of a 2,000-step run on top of the budget. Logging twice as sparsely as the budget
    needs until its books balance brings the whole run within 2%, where spacing by the
    budget alone from step 106 on would not."""
    steps, step_seconds, log_seconds = 2_000, 0.0095, 0.0075
    cadence = Cadence(budget=0.02)
    share, logged = _whole_run_share(cadence, steps, step_seconds, log_seconds)
    assert share <= 0.02
    assert logged[:20] == list(range(20))  # the dense start itself is unchanged
    later = [s for s in logged if s >= 100]
    gaps = [b - a for a, b in zip(later, later[1:], strict=False)]
    assert max(gaps) <= cadence.max_interval
    until = cadence._payback_until  # a power of two: runs a little apart agree on it
    assert until is not None and until > 106 and until & (until - 1) == 0
    monkeypatch.setattr("aelog.cadence.PAYBACK_STRETCH", 1)
    unpaid, _ = _whole_run_share(Cadence(budget=0.02), steps, step_seconds, log_seconds)
    assert unpaid > 0.02


def test_the_first_steps_are_logged_whatever_they_cost():
    logged, _ = _simulate(Cadence(budget=0.02), 2000, step_seconds=0.001, log_seconds=0.2)
    assert logged[:3] == [0, 1, 2] and 3 not in logged
    assert len([s for s in logged if s < 100]) == 3


@pytest.mark.parametrize("log_cost", [0.002, 0.05, 0.5])
def test_overhead_after_the_first_hundred_steps_stays_under_budget(log_cost):
    cadence = Cadence(budget=0.02)
    steps, step_seconds = 50_000, 0.01
    logged, total = _simulate(cadence, steps, step_seconds, log_cost)
    late = [s for s in logged if s >= 100]
    late_overhead = len(late) * log_cost / (steps * step_seconds)
    assert late_overhead <= 0.02
    # still a usable series: a log costing 50 plain steps gets one point per ~2,500 steps
    assert len(logged) >= (30 if log_cost <= 0.05 else 10)


def test_cheap_logging_follows_a_log_spaced_schedule():
    logged, _ = _simulate(Cadence(budget=0.02), 100_000, step_seconds=1.0, log_seconds=1e-6)
    gaps = [b - a for a, b in zip(logged, logged[1:], strict=False)]
    assert max(gaps) <= 1024  # max_interval: a late collapse is still seen
    assert 100 < len(logged) < 1000  # fits TensorBoard's 1,000-point scalar reservoir


def test_log_every_fixes_the_cadence():
    logged, _ = _simulate(Cadence(every=7), 50, step_seconds=0.001, log_seconds=1.0)
    assert logged == list(range(0, 50, 7))
    with pytest.raises(ValueError):
        Cadence(every=0)
    with pytest.raises(ValueError):
        Cadence(budget=0)


def test_real_run_spaces_out_logging(tmp_path):
    torch.manual_seed(0)
    model = MLPAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    data = digits(512)
    started = time.perf_counter()
    with aelog.watch(model, optimizer, logdir=tmp_path, on_collapse=None) as monitor:
        train(model, optimizer, data, 600)
    elapsed = time.perf_counter() - started
    steps = monitor.run_data().signal(fmt.RELATIVE_ERROR).steps.tolist()
    assert steps[:20] == list(range(20))
    assert len([s for s in steps if s < 100]) >= 25
    late = [s for s in steps if s >= 100]
    # after step 100 the gap is at least 5% of the step (or wider, for the budget)
    assert all(b - a >= 0.05 * a for a, b in zip(late, late[1:], strict=False))
    assert len(late) <= 40
    assert monitor.cadence.logging_seconds < elapsed
    assert monitor.run_data().metadata["cadence"]["overhead_budget"] == 0.02


def test_slightly_different_costs_log_the_same_steps():
    # Two machines (or two runs) whose logging costs differ by 10% log the same steps, so
    # verdicts and run comparisons do not hinge on timing noise.
    steps = 5000
    a, _ = _simulate(Cadence(budget=0.02), steps, step_seconds=0.01, log_seconds=0.010)
    b, _ = _simulate(Cadence(budget=0.02), steps, step_seconds=0.01, log_seconds=0.011)
    assert a == b
    late = [s for s in a if s >= 100]
    assert late and all(s % 8 == 0 for s in late)


def test_what_quiet_steps_pay_comes_off_the_budget():
    """A 0.5 ms step pays 6 us of hooks when it does not log: that is 1.2% of it, so
    logging may take only what is left of the 2%, and the whole stays under budget."""
    step_seconds, quiet, log_cost, steps = 0.0005, 6e-6, 0.005, 200_000
    cadence = Cadence(budget=0.02, quiet_step_seconds=quiet)
    clock = [0.0]
    cadence.clock = lambda: clock[0]
    late_cost = 0.0
    for step in range(steps):
        clock[0] += step_seconds
        if cadence.should_log(step):
            clock[0] += log_cost
            late_cost += log_cost if step >= 100 else 0.0
            cadence.logged_step(step, log_cost)
        else:
            clock[0] += quiet
            late_cost += quiet if step >= 100 else 0.0
    assert late_cost / ((steps - 100) * step_seconds) <= 0.02
    # without the quiet share the same schedule would overrun: the accounting matters
    naive = Cadence(budget=0.02, quiet_step_seconds=0.0)
    logged, _ = _simulate(naive, steps, step_seconds + quiet, log_cost)
    naive_cost = sum(log_cost for s in logged if s >= 100) + quiet * (steps - 100)
    assert naive_cost / ((steps - 100) * step_seconds) > 0.02


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
    are timed without them, and the budget holds on what the run really paid."""
    cadence = Cadence(budget=0.02)
    steps, step_seconds = 5_000, 0.002
    logged, total = _simulate(cadence, steps, step_seconds, log_seconds=0.005,
                              after_seconds=0.001, charged_seconds=0.002)
    assert cadence._log_seconds == pytest.approx(0.006, rel=0.05)
    assert cadence._plain_step_seconds == pytest.approx(step_seconds, rel=0.01)
    late = [s for s in logged if s >= 100]
    paid = len(late) * 0.006 + (steps - 100 - len(late)) * cadence.quiet_step_seconds
    assert paid / ((steps - 100) * step_seconds) <= 0.02
    # charged only its own code, the same run would overrun its budget
    naive = Cadence(budget=0.02)
    naive.clock_read = lambda steps_done: None  # no readings around the logging step
    logged, _ = _simulate(naive, steps, step_seconds, log_seconds=0.005,
                          after_seconds=0.001, charged_seconds=0.002)
    late = [s for s in logged if s >= 100]
    paid = len(late) * 0.006 + (steps - 100 - len(late)) * naive.quiet_step_seconds
    assert paid / ((steps - 100) * step_seconds) > 0.02


def test_no_gap_is_shorter_than_the_budget_allows_when_the_interval_grows():
    # 8 ms logs on 7 ms steps need 58 steps between logs: rounded to 64, the first gap after
    # the dense start must not stop short at the next multiple of 64
    cadence = Cadence(budget=0.02)
    logged, _ = _simulate(cadence, 1000, step_seconds=0.007, log_seconds=0.008)
    late = [s for s in logged if s >= 100]
    gaps = [b - a for a, b in zip(late, late[1:], strict=False)]
    assert gaps and min(gaps) >= 58
    assert all(s % 64 == 0 for s in late[1:])



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
    """A 300 ms pause (a full garbage collection of a big heap) lands in the 40th logging
    step of a 5 ms-per-log run: the budget's books take all of it, the cadence goes on
    logging at nearly its rhythm; counted in full, the estimate would stop it for a while."""
    def cost(index: int) -> float:
        return 0.3 if index == 40 else 0.005

    cadence = Cadence(budget=0.02)
    logged = _simulate_costs(cadence, 200_000, 0.002, cost)
    assert cadence.logging_seconds >= 0.3 + 0.005 * (len(logged) - 1) - 1e-9
    gap_after = logged[41] - logged[40]
    assert gap_after <= 4 * (logged[40] - logged[39])
    monkeypatch.setattr("aelog.cadence.SPIKE_CAP", float("inf"))
    uncapped = Cadence(budget=0.02)
    logged = _simulate_costs(uncapped, 200_000, 0.002, cost)
    assert logged[41] - logged[40] > 4 * gap_after


def test_a_gap_the_budget_stretches_past_max_interval_is_not_cut_short():
    """Past max_interval (1,024 steps) only the budget sets the gap: when it asks for 3,900
    steps at step 2,816, the next multiple of 4,096 (1,280 steps on) is too close."""
    cadence = Cadence(budget=0.02)
    assert cadence._aligned_after(2816, 3900) == 8192
    assert cadence._aligned_after(2816, 512) == 3584  # a whole interval on, within the cap
    assert cadence._aligned_after(4000, 1000) == 4096  # only the rounding passes the cap


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
