"""Long runs: memory stays flat over many plain steps, and the event file grows by a
bounded number of bytes per logged step (the adaptive cadence logs ever more rarely)."""

from __future__ import annotations

import gc
import os
import sys
import time

import pytest
import torch
from torch import nn

import aelog
from aelog.logfile import format as fmt
from aelog.logfile.runs import load_runs

PYTHON_BLOCKS_GROWTH = 20_000
"""Python objects (allocated blocks) that may appear after warm-up: the in-memory copy of
~100 logged steps is ~10,000 (tracemalloc would be exact but slows the loop tenfold)."""
RSS_GROWTH = 8 << 20
BYTES_PER_LOGGED_STEP = 4096
"""one logging step of this model: ~40 headline and per-layer scalars in one record."""


def _rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _python_blocks() -> int:
    gc.collect()
    return sys.getallocatedblocks()


def _long_run(tmp_path, steps: int, log_every: int | None = None) -> dict:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 3), nn.ReLU(), nn.Linear(3, 8))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    data = torch.randn(256, 8)
    warm_up = steps // 5
    monitor = aelog.watch(model, optimizer, logdir=tmp_path, run_name="long",
                          log_every=log_every, on_collapse="warn")
    started = time.perf_counter()
    window = max(1, steps // 10)
    timed: dict[str, float] = {}
    try:
        for step in range(steps):
            if step in (warm_up, steps - window):
                timed[f"from_{step}"] = time.perf_counter()
            if step == warm_up:
                heap_start, rss_start = _python_blocks(), _rss_bytes()
                logged_start = monitor.cadence.logged
                file_start = os.path.getsize(monitor._log.path)
            x = data[(step * 4) % 252 : (step * 4) % 252 + 4]
            optimizer.zero_grad()
            ((model(x) - x) ** 2).mean().backward()
            optimizer.step()
            if step in (warm_up + window - 1, steps - 1):
                mark = warm_up if step < steps - 1 else steps - window
                timed[f"took_{mark}"] = (time.perf_counter() - timed[f"from_{mark}"]) / window
        heap_end, rss_end = _python_blocks(), _rss_bytes()
    finally:
        monitor.close()
    size = os.path.getsize(monitor._log.path)
    figures = {
        "steps": steps,
        "seconds": time.perf_counter() - started,
        "logged": monitor.cadence.logged,
        "python_blocks_growth": heap_end - heap_start,
        "rss_growth": rss_end - rss_start,
        "file_bytes": size,
        "first_logging_s": timed[f"took_{warm_up}"],
        "last_logging_s": timed[f"took_{steps - window}"],
        "bytes_per_logged_step": (size - file_start)
        / max(1, monitor.cadence.logged - logged_start),
    }
    print(f"\n{figures}")
    (run,) = load_runs(str(tmp_path))
    assert run.signal(fmt.INPUT_STD).steps[-1] == steps  # the end, measured at close
    return figures


def _check(figures: dict, heap_limit: int) -> None:
    assert figures["python_blocks_growth"] < heap_limit, figures
    assert figures["rss_growth"] < RSS_GROWTH, figures
    assert figures["bytes_per_logged_step"] < BYTES_PER_LOGGED_STEP, figures


def test_memory_flat_and_file_bounded_over_15k_steps(tmp_path):
    figures = _long_run(tmp_path, 15_000)
    assert figures["logged"] < 100  # 20 early, then ~25 a tenfold of steps: a gap of 10%
    _check(figures, PYTHON_BLOCKS_GROWTH)


@pytest.mark.slow
def test_memory_flat_and_file_bounded_over_100k_steps(tmp_path):
    figures = _long_run(tmp_path, 100_000)
    assert figures["logged"] < 200
    _check(figures, PYTHON_BLOCKS_GROWTH)


def test_logging_every_step_stays_flat_in_memory_and_time(tmp_path, monkeypatch):
    """``log_every=1`` bypasses the adaptive cadence: the in-memory copy, and the live
    diagnosis reading it every 5 logging steps, must not grow with the run (a cap of 20
    points stands in for the real 2,000 so the test runs in seconds)."""
    from aelog.logfile import run_log

    monkeypatch.setattr(run_log, "MEMORY_POINTS", 20)
    figures = _long_run(tmp_path, 600, log_every=1)
    _check(figures, PYTHON_BLOCKS_GROWTH)
    first, last = figures["first_logging_s"], figures["last_logging_s"]
    assert last < 3 * first + 0.005, figures  # no growth with the run's length (loose: shared CPU)
    (run,) = load_runs(str(tmp_path))
    assert len(run.signal(fmt.INPUT_STD)) == 601  # the event file keeps every point, and the end


@pytest.mark.slow
def test_logging_every_step_over_10k_steps(tmp_path):
    figures = _long_run(tmp_path, 10_000, log_every=1)
    _check(figures, 2 * 50 * 2 * 2000)  # ~50 series x 4,000 points x 2 objects at most
    # no growth with the run's length; loose, as in the test above: the CPU is shared
    assert figures["last_logging_s"] < 3 * figures["first_logging_s"] + 0.005, figures
