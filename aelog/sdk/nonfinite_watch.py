"""The first step at which NaN or Inf came into the inputs or out of the model.

A NaN that enters at a step between logging steps is everywhere by the next one (weights,
gradients, outputs), which no longer says where it began. So every training forward adds
the sum of its inputs and the sum of its output (NaN and Inf survive a sum) into a slot of
a small buffer on the tensors' device: two reductions into tensors allocated once, no host
sync. The logging step reads the buffer back; the first non-finite slot dates the first
NaN/Inf to the step (or to a slot of steps, in gaps of more than ``SLOTS`` steps) and says
whether it came with the inputs or out of the model.
Once found, the watch stops: the logging steps measure the rest.

The two sums cost tens of microseconds on a CPU, which is several percent of a 1 ms step.
The watch times its checks and the steps between them, and keeps to ``WATCH_SHARE`` of
the steps' time: where steps are that cheap it checks every k-th step (and the step the
buffer is read at), and a NaN is dated to the k steps since the check before; whether it
came with a batch between two checks is then unknown, and the record says so
(``checked_every``). Steps of a few milliseconds and more are all checked.
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Mapping, Sequence

import torch

from aelog.sdk.outputs import RECONSTRUCTION_KEYS, output_fields, without_distributions

SLOTS = 1024
WATCH_SHARE = 0.005
"""the share of a plain step the output checks may take: every k-th step, to stay under."""
MAX_EVERY = 64
REVIEW_EVERY = 32
"""checks between two looks at what checks cost against the time from one to the next."""
_clock = time.perf_counter
INPUTS, OUTPUTS = 0, 1
WHERE = ("inputs", "outputs")


class NonFiniteWatch:
    def __init__(self) -> None:
        self.active = True
        """False once a first NaN/Inf was found (or the watch failed): the hooks skip it."""
        self._buffer: torch.Tensor | None = None
        self._slots: list[list[torch.Tensor]] = []
        self._base = 0
        self._stride = 1
        self._used = 0
        self._pending: dict | None = None
        self._scratch: list[torch.Tensor] = []
        self._all_dims: dict[int, tuple[int, ...]] = {}
        self.every = 1
        """check steps that are multiples of this (and the step the buffer is read at)."""
        self._read_at = 0
        self._seconds = 0.0
        """time spent checking, and in how many steps, since the last review."""
        self._checked = 0
        self._step_times: list[float] = []
        """seconds per step from one checked step to the next, since the last review."""
        self._last_checked: int | None = None
        self._checks: list[int] = []
        """the steps checked since the last read (the check before them: ``_before``)."""
        self._before = -1
        self._last_started = 0.0

    def plan(self, first_step: int, next_read_step: int) -> None:
        """Steps ``first_step`` to ``next_read_step`` share the buffer until it is read."""
        self._base, self._read_at = first_step, next_read_step
        self._stride = max(1, math.ceil((next_read_step - first_step + 1) / SLOTS))

    def due(self, step: int) -> bool:
        return step % self.every == 0 or step == self._read_at

    def next_check(self, step: int) -> int:
        """The first step after ``step`` to check: the next multiple of ``every``, or the
        step the buffer is read at if that comes first."""
        following = (step // self.every + 1) * self.every
        return min(following, self._read_at) if self._read_at > step else following

    def inputs(self, step: int, args: tuple, kwargs: dict | None) -> None:
        """One checked step's inputs (the caller asks :meth:`due` / :meth:`next_check`)."""
        started = _clock()
        batch = args[0] if args else next(iter(kwargs.values()), None) if kwargs else None
        if type(batch) is torch.Tensor and batch.is_floating_point():
            self._add(INPUTS, step, batch)
        self._timed(step, started)

    def outputs(self, step: int, output: object) -> None:
        """One checked step's output."""
        started = _clock()
        tensor = _first_tensor(output)
        if tensor is not None and tensor.is_floating_point():
            self._add(OUTPUTS, step, tensor)
        self._timed(step, started)

    def _timed(self, step: int, started: float) -> None:
        self._seconds += _clock() - started
        if step == self._last_checked:
            return
        if self._last_checked is not None and step > self._last_checked:
            self._step_times.append((started - self._last_started) / (step - self._last_checked))
        self._last_checked, self._last_started = step, started
        self._checks.append(step)
        self._checked += 1
        if self._checked >= REVIEW_EVERY:
            self._review()

    def _review(self) -> None:
        """Check every k-th step, k such that checks take WATCH_SHARE of the steps' time."""
        times = sorted(self._step_times)
        per_step = times[len(times) // 2] if times else 0.0  # a pause (validation) is no step
        if per_step > 0:
            per_check = self._seconds / self._checked
            wanted = math.ceil(per_check / (WATCH_SHARE * per_step))
            self.every = max(1, min(MAX_EVERY, wanted))
        self._seconds, self._checked = 0.0, 0
        self._step_times = []

    def _add(self, kind: int, step: int, tensor: torch.Tensor) -> None:
        if self._buffer is None or self._buffer.device != tensor.device:
            self._allocate(tensor.device)
        slot = min(SLOTS - 1, max(0, (step - self._base) // self._stride))
        if slot >= self._used:
            self._used = slot + 1
        scratch = self._scratch[kind]  # summed into a tensor of ours: nothing allocated
        torch.sum(tensor.detach(), dim=self._dims(tensor), dtype=torch.float32, out=scratch)
        self._slots[kind][slot].add_(scratch)

    def _dims(self, tensor: torch.Tensor) -> tuple[int, ...]:
        rank = tensor.dim()
        dims = self._all_dims.get(rank)
        if dims is None:
            dims = self._all_dims[rank] = tuple(range(rank))
        return dims

    def _allocate(self, device: torch.device) -> None:
        if self._buffer is not None:  # moved device mid-run: keep what was seen
            found = self.read()
            if found is not None:
                self._pending = found
        self._buffer = torch.zeros(2, SLOTS, dtype=torch.float32, device=device)
        self._slots = [[row[i] for i in range(SLOTS)] for row in self._buffer]
        self._scratch = [torch.zeros((), dtype=torch.float32, device=device) for _ in WHERE]

    def read(self) -> dict | None:
        """``{"first_step", "last_step", "where"}`` of the first NaN/Inf since the last read, or
        None; the buffer starts over. One small device-to-host copy."""
        if self._pending is not None:
            found, self._pending = self._pending, None
            return found
        if self._buffer is None or not self._used:
            return None
        used = self._used
        with torch.no_grad():
            sums = self._buffer[:, :used].tolist()
            self._buffer.zero_()
        self._used = 0
        checks, before = self._checks, self._before
        self._checks = []
        self._before = checks[-1] if checks else before
        for slot in range(used):
            for kind in (INPUTS, OUTPUTS):
                if not math.isfinite(sums[kind][slot]):
                    return _dated(kind, self._base + slot * self._stride,
                                  self._stride if slot < SLOTS - 1 else None, checks, before)
        return None


def _dated(kind: int, start: int, stride: int | None, checks: list[int], before: int) -> dict:
    """The span a non-finite slot dates the NaN/Inf to. An input is the batch of the step
    checked; an output, once spoiled (NaN weights), stays so: it began after the check
    before, and ``checked_every`` says how many steps' batches that span left unseen."""
    at = bisect.bisect_left(checks, start)
    checked = checks[at] if at < len(checks) else start
    previous = checks[at - 1] if at > 0 else before
    last = None if stride is None else start + stride - 1
    if kind == INPUTS:
        return {"first_step": checked, "last_step": last, "where": WHERE[kind]}
    first = max(previous + 1, 0)
    found = {"first_step": first, "last_step": last, "where": WHERE[kind]}
    if checked - first > 0:
        found["checked_every"] = checked - previous
    return found


def _first_tensor(output: object) -> torch.Tensor | None:
    if type(output) is torch.Tensor:
        return output
    if not isinstance(output, (Mapping, Sequence, torch.Tensor)):
        output = output_fields(output) or output
    output = without_distributions(output)
    if isinstance(output, Mapping):
        for key in RECONSTRUCTION_KEYS:
            value = output.get(key)
            if isinstance(value, torch.Tensor):
                return value
        return next((v for v in output.values() if isinstance(v, torch.Tensor)), None)
    if isinstance(output, Sequence) and not isinstance(output, (str, bytes)):
        tensors = [item for item in output if isinstance(item, torch.Tensor)]
        # (loss, reconstruction, ...): the reconstruction, not a loss handed back first
        return next((t for t in tensors if t.dim() > 0), tensors[0] if tensors else None)
    if isinstance(output, torch.Tensor):
        return output
    return None


def nonfinite_layers(model: torch.nn.Module, limit: int = 5) -> dict[str, list[str]]:
    """Modules whose weights, or whose gradients, hold NaN/Inf now (model order, at most
    ``limit`` each): read once, when a first NaN/Inf was found."""
    found: dict[str, list[str]] = {"weights": [], "gradients": []}
    with torch.no_grad():
        for name, param in model.named_parameters():
            layer = name.rsplit(".", 1)[0] if "." in name else "(model)"
            for key, tensor in (("weights", param), ("gradients", param.grad)):
                if (tensor is not None and len(found[key]) < limit and layer not in found[key]
                        and not bool(torch.isfinite(tensor).all())):
                    found[key].append(layer)
    return found
