"""One rank of a 2-process DDP (gloo) training run, for test_distributed.py.

Usage: python ddp_worker.py SCENARIO RANK WORLD PORT OUTDIR. Writes OUTDIR/rank<R>.pt with
what the test checks: the batches and outputs it saw, final parameters, warnings.
"""

from __future__ import annotations

import os
import sys
import warnings

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

import aelog
from aelog.probes import symptom as symptom_probe

STEPS = 40
BATCH = 16


class TinyAE(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 4))
        self.decoder = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 64))

    def forward(self, x):
        return self.decoder(self.encoder(x))


def shard(rank: int) -> torch.Tensor:
    """Each rank its own data: images of a 4-factor model, a different mean per rank
    (no sklearn here: its import alone takes seconds per process)."""
    generator = torch.Generator().manual_seed(100 + rank)
    basis = torch.randn(4, 64, generator=torch.Generator().manual_seed(7))
    factors = torch.randn(STEPS * BATCH, 4, generator=generator)
    return torch.sigmoid(factors @ basis + (2.0 if rank else -2.0))


def train(model, data, watch: dict | None, logdir: str, record: dict, close_at=None):
    torch.manual_seed(0)
    ddp = DistributedDataParallel(model)
    optimizer = torch.optim.Adam(ddp.parameters(), lr=1e-2)
    monitor = aelog.watch(ddp, optimizer, logdir=logdir, run_name="ddp", **watch) \
        if watch is not None else None
    latest_code: list = [None]
    hook = model.encoder.register_forward_hook(
        lambda m, a, out: latest_code.__setitem__(0, out.detach().clone())
    )
    inputs, outputs, codes = (record.setdefault(k, []) for k in ("inputs", "outputs", "codes"))
    for step in range(STEPS):
        x = data[step * BATCH : (step + 1) * BATCH]
        optimizer.zero_grad()
        out = ddp(x)
        inputs.append(x)
        outputs.append(out.detach().clone())
        codes.append(latest_code[0])
        ((out - x) ** 2).mean().backward()
        optimizer.step()
        if close_at is not None and step == close_at and monitor is not None:
            monitor.close()
    hook.remove()
    if monitor is not None:
        monitor.close()
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def main() -> None:
    scenario, rank, world, port, outdir = sys.argv[1:6]
    rank, world = int(rank), int(world)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    logdir = os.path.join(outdir, "logs")
    data = shard(rank)
    record: dict = {"rank": rank}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if scenario == "agree":
            torch.manual_seed(0)
            record["plain"] = train(TinyAE(), data, None, logdir, {})
            torch.manual_seed(0)
            record["watched"] = train(TinyAE(), data, {"on_collapse": "warn"}, logdir, record)
        elif scenario == "disagree":
            watch = {"on_collapse": None} if rank == 0 else {"log_every": 3, "on_collapse": None}
            if rank == 1:  # this rank's probes break and its monitor closes early
                def broken(*args, **kwargs):
                    raise RuntimeError("rank 1 probe bug")
                symptom_probe.symptom_stats = broken
            torch.manual_seed(0)
            train(TinyAE(), data, watch, logdir, record, close_at=25 if rank == 1 else None)
        elif scenario == "rank0_only":
            torch.manual_seed(0)
            train(TinyAE(), data, {"on_collapse": None} if rank == 0 else None, logdir, record)
    record["warnings"] = [str(w.message) for w in caught]
    dist.barrier()
    dist.destroy_process_group()
    torch.save(record, os.path.join(outdir, f"rank{rank}.pt"))


if __name__ == "__main__":
    main()
