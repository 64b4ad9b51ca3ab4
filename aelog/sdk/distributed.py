"""One run across the ranks of ``torch.distributed`` (DDP): rank 0 writes, every rank agrees.

Each rank calls ``aelog.watch``. Rank 0 writes the run; the other ranks write nothing and
print no collapse warning. Statistics that need the whole batch (output variance, code
effective rank, the rank-k error) are computed by rank 0 over every rank's samples.

Deadlock freedom rests on three rules:

* the only collective is one ``all_gather_object`` in an optimizer pre-step hook that is
  never removed while the optimizer lives, even when a rank's monitor failed or closed
  (that rank then sends nothing): DDP keeps ranks in lockstep over optimizer steps, so
  every rank reaches every step;
* which steps gather is rank 0's decision, carried in the gather itself: each gather
  names the next logging step, so ranks whose cadence or ``log_every`` differ still meet;
* whether to gather at all is agreed once, through the process group's store and with a
  timeout: when some rank never called ``watch``, nobody gathers (each rank measures its
  own batch, one warning says so).
"""

from __future__ import annotations

import datetime
import itertools
import os
import time
import warnings
from collections.abc import Callable

import torch

from aelog.probes import code as code_probe
from aelog.probes import symptom as symptom_probe
from aelog.probes import tokens as token_probe
from aelog.sdk.probe_guard import AelogWarning, ProbeGuard, user_stacklevel
from aelog.sdk.tensor_utils import matching_shape

AGREE_TIMEOUT_S = float(os.environ.get("AELOG_DIST_AGREE_TIMEOUT_S", "10"))
"""how long rank 0 waits for every rank to call watch() before measuring alone."""
MAX_SAMPLES_PER_RANK = 1024
"""rows each rank sends at a logging step: bounds the gather on large batches."""
_GATHER, _LOCAL = "gather", "local"
_generations = itertools.count(1)


def _group_size() -> tuple[int, int]:
    """(rank, world size); (0, 1) without an initialised process group."""
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()):
        return 0, 1
    return dist.get_rank(), dist.get_world_size()


def is_writer_rank() -> bool:
    """Rank 0, or any process outside distributed training."""
    return _group_size()[0] == 0


class NullWriter:
    """The event writer of ranks other than 0: always closed, so nothing is written."""

    path = ""
    closed = True

    def close(self) -> None:
        pass


def writer_for_rank():
    """None (open the real event file) on rank 0, a :class:`NullWriter` elsewhere."""
    return None if is_writer_rank() else NullWriter()


class RankSync:
    """The cross-rank part of one Monitor (see the module docstring for its rules)."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        propose_next: Callable[[int], tuple[int, bool]],
        guard: ProbeGuard,
        deliver: Callable[[dict[str, torch.Tensor]], None],
    ) -> None:
        self.rank, self.world_size = _group_size()
        self.next_step = 0
        self.next_full = True
        """whether the agreed next logging step is a full point (rank 0's books decide:
        every rank then captures the same signals, the code's among them)."""
        self.mode: str | None = None
        self.closed = False
        self.samples_last_gather = 0
        self._propose_next = propose_next
        self._guard = guard
        self._deliver = deliver
        self._step = 0
        self._stash: dict[str, torch.Tensor] | None = None
        self._key = f"aelog/watch/{next(_generations)}"
        store = _default_store()
        if store is not None:
            store.add(f"{self._key}/ranks", 1)
        self._handle = optimizer.register_step_pre_hook(self._before_step)

    def describe(self) -> dict:
        return {"world_size": self.world_size, "rank_writing": 0, "mode": self.mode,
                "samples_last_gather": self.samples_last_gather}

    def next_logging_step(self, local_next: int) -> int:
        """The agreed next logging step while gathering; this rank's own otherwise."""
        return self.next_step if self.mode == _GATHER else local_next

    def next_point_full(self, local_full: bool) -> bool:
        """Whether the agreed next logging step is full while gathering; this rank's own
        plan otherwise."""
        return self.next_full if self.mode == _GATHER else local_full

    def stash(self, reconstruction, target: torch.Tensor, code: torch.Tensor | None) -> None:
        """This rank's share of the logging step's batch, for rank 0 to measure as a whole."""
        self._guard.run("distributed", self._stash_batch, reconstruction, target, code)

    def close(self) -> None:
        """The monitor is done; the hook stays (other ranks may still gather) but sends nothing."""
        self.closed = True

    # -- the hook -------------------------------------------------------------------------------

    def _before_step(self, optimizer, args, kwargs) -> None:
        step, self._step = self._step, self._step + 1
        if self.mode == _LOCAL or step != self.next_step:
            return
        if self.mode is None:
            self.mode = self._agree_on_mode()
            if self.mode == _LOCAL:
                return
        payload = {"batch": None if self.closed else self._stash, "next": None}
        self._stash = None
        if self.rank == 0:
            proposed, full = self._propose_next(step)
            payload["next"], payload["full"] = int(proposed), bool(full)
        gathered: list = [None] * self.world_size
        try:
            torch.distributed.all_gather_object(gathered, payload)
        except Exception as error:  # noqa: BLE001 - a broken group must not stop training
            self.mode = _LOCAL
            self._guard.fail("distributed", error)
            return
        self.next_step = int(gathered[0]["next"])
        self.next_full = bool(gathered[0].get("full", True))
        if self.rank == 0 and not self.closed:
            self._guard.run("distributed", self._measure_whole_batch, gathered)

    def _agree_on_mode(self) -> str:
        store = _default_store()
        if store is None:
            return _GATHER
        mode_key = f"{self._key}/mode"
        if self.rank == 0:
            mode, watching = _LOCAL, 0
            deadline = time.monotonic() + AGREE_TIMEOUT_S
            while time.monotonic() < deadline:
                watching = store.add(f"{self._key}/ranks", 0)
                if watching >= self.world_size:
                    mode = _GATHER
                    break
                time.sleep(0.05)
            store.set(mode_key, mode)
            if mode == _LOCAL:
                warnings.warn(
                    f"aelog: watch() was called on {watching} of {self.world_size} ranks; "
                    "rank 0 measures its own batch only. Call aelog.watch on every rank.",
                    AelogWarning, stacklevel=user_stacklevel())
            return mode
        try:
            store.wait([mode_key], datetime.timedelta(seconds=3 * AGREE_TIMEOUT_S))
            return store.get(mode_key).decode()
        except Exception:  # noqa: BLE001 - rank 0 is not watching: nobody gathers
            return _LOCAL

    # -- measuring ------------------------------------------------------------------------------

    def _stash_batch(self, reconstruction, target, code) -> None:
        tokens = token_probe.token_layout(reconstruction, target) is not None
        recon = reconstruction if tokens else matching_shape(reconstruction, target)
        rows = slice(0, MAX_SAMPLES_PER_RANK)
        target = target.detach()[rows]
        self._stash = {
            "reconstruction": recon.detach()[rows].float().cpu(),
            "target": (target.long() if tokens else target.float()).cpu(),
        }
        if code is not None:
            self._stash["code"] = code.detach()[rows].float().cpu()

    def _measure_whole_batch(self, gathered: list) -> None:
        batches = [entry["batch"] for entry in gathered if entry["batch"] is not None]
        if not batches:
            return
        self.samples_last_gather = sum(int(b["target"].shape[0]) for b in batches)
        recon = torch.cat([b["reconstruction"] for b in batches])
        target = torch.cat([b["target"] for b in batches])
        codes = [b["code"] for b in batches if "code" in b]
        code = torch.cat(codes) if len(codes) == len(batches) else None
        code_size = int(code[0].numel()) if code is not None else None
        layout = token_probe.token_layout(recon, target)
        if layout is not None:
            stats = token_probe.token_symptom_stats(recon, target, layout)
        else:
            stats = symptom_probe.symptom_stats(recon, target, code_size)
        if code is not None:
            stats.update(code_probe.code_stats(code))
        self._deliver(stats)


def _default_store():
    try:
        from torch.distributed import distributed_c10d

        return distributed_c10d._get_default_store()
    except Exception:  # noqa: BLE001 - no store (or a private API that moved): trust the ranks
        return None


def rank_sync(
    optimizer: torch.optim.Optimizer | None,
    propose_next: Callable[[int], tuple[int, bool]],
    guard: ProbeGuard,
    deliver: Callable[[dict[str, torch.Tensor]], None],
) -> RankSync | None:
    """A RankSync under distributed training with an optimizer; None otherwise."""
    if optimizer is None or _group_size()[1] < 2:
        return None
    return RankSync(optimizer, propose_next, guard, deliver)
