"""The micro-measurements behind this round's fixes, each beside what it replaced.

``python -m benchmarks.overhead.micro`` times, on one thread, in alternation:

- a backward pass of the benchmark's MLP on a model whose parameters once carried a
  gradient hook (removed again) against a model that never did: PyTorch keeps calling
  into Python for such a parameter on every later backward;
- the dead-unit maximum of a (128, 32, 4, 4) conv output: one reduction over the sample
  axes against the batch axis first, then the rest;
- the square sum of a 2176 x 2176 gradient in float64 against float32;
- 100 0-d CPU results brought to the host: stacked and converted at once, as off the CPU
  (``read_stacked``, how they went before stop 15), against ``to_host`` reading each one;
- one full garbage collection of this process (torch, TensorBoard's event code and aelog
  imported): what the overhead benchmark pays before each round's timing.

Each line is a median over repetitions; the figures move with the machine, their ratios
much less.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from aelog.probes.units import per_unit_max
from aelog.sdk.tensor_utils import read_stacked, to_host
from benchmarks.overhead.workloads import DigitsMLPAutoencoder


def _median_us(action: Callable[[], object], repeats: int, inner: int = 1) -> float:
    for _ in range(3):
        action()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(inner):
            action()
        times.append((time.perf_counter() - started) / inner)
    return float(np.median(times)) * 1e6


def removed_hook_cost(hooked_parameters: int, repeats: int = 3000) -> tuple[float, float]:
    """(backward us of a model that once had ``hooked_parameters`` hooks, of one that never
    had any), timed in alternation on the same batch."""
    torch.manual_seed(0)
    once_hooked, never = DigitsMLPAutoencoder(), DigitsMLPAutoencoder()
    for param in list(once_hooked.parameters())[:hooked_parameters]:
        param.register_post_accumulate_grad_hook(lambda p: None).remove()
    x = torch.rand(128, 64)
    seconds: dict[int, list[float]] = {0: [], 1: []}
    for _ in range(repeats):
        for index, model in enumerate((once_hooked, never)):
            loss = F.mse_loss(model(x), x)
            started = time.perf_counter()
            loss.backward()
            seconds[index].append(time.perf_counter() - started)
            model.zero_grad()
    return float(np.median(seconds[0])) * 1e6, float(np.median(seconds[1])) * 1e6


def main() -> None:
    torch.set_num_threads(1)
    print("python -m benchmarks.overhead.micro (medians, 1 thread)")
    for count in (1, 8):
        hooked, plain = removed_hook_cost(count)
        print(f"- backward of the MLP, {count} parameter(s) once hooked: {hooked:.1f} us, "
              f"never hooked: {plain:.1f} us (+{hooked - plain:.1f} us)")
    conv = torch.relu(torch.randn(128, 32, 4, 4, generator=torch.Generator().manual_seed(0)))
    axes = _median_us(lambda: conv.amax(dim=(0, 2, 3)), 300, 10)
    batch_first = _median_us(lambda: per_unit_max(conv, 1), 300, 10)
    print(f"- per-unit maximum of a (128, 32, 4, 4) conv output: one reduction over axes "
          f"(0, 2, 3) {axes:.1f} us, batch axis first {batch_first:.1f} us")
    grad = torch.randn(2176 * 2176, generator=torch.Generator().manual_seed(0))
    wide = _median_us(lambda: torch.dot(*(2 * (grad.double(),))), 30)
    single = _median_us(lambda: torch.dot(grad, grad), 30)
    print(f"- square sum of a 2176 x 2176 gradient: float64 {wide:.0f} us, float32 "
          f"{single:.0f} us ({wide / single:.1f}x)")
    generator = torch.Generator().manual_seed(0)
    results = [torch.randn((), generator=generator) for _ in range(100)]
    stacked = _median_us(lambda: read_stacked(results), 300, 10)
    each = _median_us(lambda: to_host(results), 300, 10)
    print(f"- 100 0-d CPU results to the host: grouped by device and dtype and stacked "
          f"{stacked:.0f} us, to_host (each read) {each:.0f} us")
    import aelog.sdk.monitor  # noqa: F401 - the heap a user's script has, TensorBoard's protos included

    collection = _median_us(gc.collect, 5) / 1e3
    print(f"- one full garbage collection of this process ({len(gc.get_objects()):,} objects "
          f"tracked): {collection:.0f} ms")


if __name__ == "__main__":
    main()
