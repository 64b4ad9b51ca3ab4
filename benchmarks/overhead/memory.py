"""Memory, start-up and close of one arm in a clean subprocess.

``python -m benchmarks.overhead.memory WORKLOAD ARM STEPS`` sets the arm up (the tool's
import and set-up: ``aelog.watch``, ``wandb.init`` + ``wandb.watch``, ...), trains STEPS
steps, reads the process's resident memory (RSS) and the Python heap (tracemalloc), trains
10 x STEPS more, reads them again, closes the arm (flushing its files) and prints one JSON
object. A fresh process per arm keeps one arm's allocations out of another's numbers and
makes start-up what a user's script pays: nothing imported or started before it.
Comparisons are against the bare arm's process.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc

GROWTH_FACTOR = 10


def _rss_bytes() -> int:
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except ImportError:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _settled_rss_bytes() -> int:
    """RSS once free memory is given back: a full garbage collection, then glibc's
    ``malloc_trim(0)``. Without it, what the allocator keeps of freed blocks moves RSS by
    tens of MB from one reading to the next on the 10M model (over 50 steps, +73 MB in one
    process, +0.6 MB in another, -35 MB with stop 17's code), which would read as growth,
    or hide it."""
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: RSS as it is
    return _rss_bytes()


def _reset_peak() -> None:
    """Linux: restart the peak-RSS count (VmHWM), so imports' peak does not hide training's."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        pass


def _peak_rss_bytes() -> int:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure(workload_name: str, arm_name: str, steps: int) -> dict:
    import torch

    from benchmarks.overhead.arms import ARMS
    from benchmarks.overhead.peers import cockpit_status, configure_wandb_offline
    from benchmarks.overhead.workloads import Batches, by_name

    torch.set_num_threads(1)
    workload = by_name(workload_name)
    total = steps * (1 + GROWTH_FACTOR)
    batches = Batches(workload, total)
    model = workload.model()
    # torch's own one-off set-up (the first optimizer imports its compile machinery, ~1 s)
    # is every arm's, the bare loop's included: paid here, before the clock starts.
    torch.optim.Adam(workload.model(seed=1).parameters())
    with tempfile.TemporaryDirectory(prefix="aelog-bench-memory-") as workdir:
        started = time.perf_counter()  # the tool's import counts: a user's script pays it
        if arm_name == "wandb":
            configure_wandb_offline()
        if arm_name == "cockpit":
            cockpit_status()  # imports cockpit (with its stand-in, where needed)
        arm = ARMS[arm_name](model, workdir, None)
        setup_seconds = time.perf_counter() - started
        rss_start = _settled_rss_bytes()
        _reset_peak()
        tracemalloc.start()
        for step in range(steps):
            arm.step(batches[step])
        rss_first = _settled_rss_bytes()
        heap_first, _ = tracemalloc.get_traced_memory()
        for step in range(steps, total):
            arm.step(batches[step])
        rss_second = _settled_rss_bytes()
        heap_second, heap_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        started = time.perf_counter()
        arm.close()
        close_seconds = time.perf_counter() - started
    return {
        "workload": workload_name, "arm": arm_name, "steps": steps, "total_steps": total,
        "rss_start": rss_start, "rss_first": rss_first, "rss_second": rss_second,
        "peak_rss": _peak_rss_bytes(),
        "heap_first": heap_first, "heap_second": heap_second, "heap_peak": heap_peak,
        "setup_seconds": setup_seconds, "close_seconds": close_seconds,
    }


def measure_in_subprocess(workload_name: str, arm_name: str, steps: int,
                          timeout: float = 900) -> dict:
    """Run :func:`measure` in a fresh interpreter; on failure, ``{"error": line}``."""
    command = [sys.executable, "-m", "benchmarks.overhead.memory", workload_name, arm_name,
               str(steps)]
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=root)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {done.returncode}: {tail[:300]}"}
    return json.loads(lines[-1])


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], sys.argv[2], int(sys.argv[3]))))
