"""glibc's malloc held to fixed thresholds while arms are timed, so no arm pays for another's heap.

By default glibc returns the top of its heap to the kernel whenever enough of it is free
(``M_TRIM_THRESHOLD``) and moves its mmap threshold to the largest block freed so far. A
10M-parameter model's step allocates and frees ~100 MB (gradients, Adam's temporaries), so
whether a step finds that memory mapped or faults it in again depends on what else the
process allocated and freed before: on this benchmark's 10M workload with
``--malloc-defaults``, 4,240 to 8,069 minor page faults a step between identical arms and two
bare loops 5.1% apart; with the thresholds fixed, 92 to 209 and 1.1% (``page faults per
step`` in the report). Fixed thresholds, set once before any
arm runs, leave every arm's steady steps without faults, whatever the heap held: timings
then compare the arms' work, not the allocator's history. The memory part runs each arm
in a fresh process with glibc's defaults, as a user's script would.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024
"""glibc's largest allowed mmap threshold on 64-bit systems: blocks up to 32 MiB (every
tensor of the benchmark's models) come from the heap."""
TRIM_THRESHOLD_BYTES = 2**31 - 1
"""the largest an int takes (2 GiB): freed heap stays mapped for the next step."""


def pin_malloc_thresholds() -> str:
    """Fix glibc's trim and mmap thresholds; says what was done (or why not) for the report."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError) as error:
        return f"malloc thresholds left at their defaults (no glibc mallopt: {error})"
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    trim = mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    mmap = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
    if not (trim and mmap):
        return "malloc thresholds left at their defaults (mallopt refused them)"
    return (f"glibc malloc held to fixed thresholds while timing (trim at "
            f"{TRIM_THRESHOLD_BYTES >> 20:,} MiB, mmap from {MMAP_THRESHOLD_BYTES >> 20} MiB)")
