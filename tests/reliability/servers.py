"""Waiting on a real tensorboard (tests/plugin/tensorboard_process.py) for runs that may
have no step at all, which its own ``wait_for_runs`` treats as not yet loaded."""

from __future__ import annotations

import time


def wait_until_listed(tensorboard, count: int, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert tensorboard.process.poll() is None, "tensorboard exited"
        try:
            status, body = tensorboard.get("/data/plugin/aelog/runs")
        except OSError:
            status = 0
        if status == 200 and body.count(b'"run": ') >= count:
            return
        time.sleep(0.5)
    raise TimeoutError(f"tensorboard did not list {count} runs in {timeout_s:.0f} s")
