"""On a GPU: do non-logging steps synchronise with the device? (Skipped without CUDA.)

The first workload is trained on the GPU with ``torch.cuda.set_sync_debug_mode("error")``
around 50 steps that do not log: any host-device synchronisation raises. Then 200 more
non-logging steps are timed for the bare loop and aelog, interleaved, each synchronised
at its end so the time is the device's too.
"""

from __future__ import annotations

import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F

from benchmarks.overhead.workloads import LEARNING_RATE, Batches, by_name

QUIET_STEPS = 200
SYNC_CHECK_STEPS = 50
LOG_EVERY = 1000
"""only step 0 logs: every step checked or timed here is a non-logging one."""


def _step(model, optimizer, x) -> None:
    optimizer.zero_grad()
    F.mse_loss(model(x), x).backward()
    optimizer.step()


def check_cuda(steps: int = QUIET_STEPS) -> dict:
    """``{"available": False, "reason": ...}`` without CUDA, else the check's outcome."""
    if not torch.cuda.is_available():
        return {"available": False, "reason": "no CUDA device on this machine"}
    import aelog

    workload = by_name("mlp_digits")
    count = max(steps, SYNC_CHECK_STEPS) + 1
    batches = Batches(workload, count)
    device = torch.device("cuda")
    data = [batches[i].to(device) for i in range(count)]
    bare = workload.model().to(device)
    watched = workload.model().to(device)
    bare_opt = torch.optim.Adam(bare.parameters(), lr=LEARNING_RATE)
    watched_opt = torch.optim.Adam(watched.parameters(), lr=LEARNING_RATE)
    result = {"available": True, "device": torch.cuda.get_device_name(0), "steps": steps}
    with tempfile.TemporaryDirectory(prefix="aelog-bench-cuda-") as logdir:
        monitor = aelog.watch(watched, watched_opt, logdir=logdir, log_every=LOG_EVERY,
                              on_collapse=None)
        _step(bare, bare_opt, data[0])
        _step(watched, watched_opt, data[0])  # step 0 logs (and may synchronise)
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            for i in range(SYNC_CHECK_STEPS):  # none of these logs
                _step(watched, watched_opt, data[i + 1])
            result["synchronisations"] = 0
        except RuntimeError as error:
            result["synchronisations"] = f"raised: {str(error).splitlines()[0]}"
        finally:
            torch.cuda.set_sync_debug_mode("default")
        times = {"bare": np.zeros(steps), "aelog": np.zeros(steps)}
        for i in range(steps):
            for name, model, optimizer in (("bare", bare, bare_opt),
                                           ("aelog", watched, watched_opt)):
                torch.cuda.synchronize()
                started = time.perf_counter()
                _step(model, optimizer, data[i + 1])
                torch.cuda.synchronize()
                times[name][i] = time.perf_counter() - started
        monitor.close()
    result["bare_median_ms"] = float(np.median(times["bare"]) * 1000)
    result["aelog_median_ms"] = float(np.median(times["aelog"]) * 1000)
    return result
