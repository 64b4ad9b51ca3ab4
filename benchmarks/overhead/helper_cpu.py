"""CPU time of the processes a tool starts beside the training process (wandb's service).

Step times measure the training process only. A tool that hands its work to a helper
process (``wandb.watch`` sends its histograms to ``wandb-core``) spends CPU there too: on
a machine whose cores are all busy (data loaders, other jobs) that time comes out of
training. Read from ``/proc`` (Linux), for the live descendants of this process.
"""

from __future__ import annotations

import os

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: str) -> tuple[int, float] | None:
    """(parent pid, user + system CPU seconds) of one process, None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            text = handle.read()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()  # the command name may hold spaces
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICKS


def descendants_cpu_seconds() -> float | None:
    """CPU seconds used so far by this process's live descendants; None off Linux."""
    if not os.path.isdir("/proc/self"):
        return None
    table = {}
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            stat = _stat(pid)
            if stat is not None:
                table[int(pid)] = stat
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    total, waiting = 0.0, list(children.get(os.getpid(), []))
    while waiting:
        pid = waiting.pop()
        total += table[pid][1]
        waiting.extend(children.get(pid, []))
    return total
