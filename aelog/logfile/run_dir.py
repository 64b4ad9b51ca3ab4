"""Where a run's files go: inside its logdir, in a directory of its own.

Run names come from configs and command lines. A name may hold sub-directories
(``"sweep/lr3e-4"``), never a way out of the logdir (``".."``, an absolute path), and no
control characters. Two processes started with one run name (a script launched twice, a
job restarted) must not write into one directory: every reader, TensorBoard's too, would
merge their steps into one run. The first process claims the directory with a marker file
created atomically; the next one gets ``name-2``, and a warning says so.
"""

from __future__ import annotations

import os
import socket
import time
import unicodedata

CLAIM_FILE = ".aelog-run"
"""Created with O_EXCL by the process that writes the run: an atomic claim on the name."""
AELOG_EVENT_SUFFIX = ".aelog"


class RunNameError(ValueError):
    """A run name that would write outside the logdir, or cannot be a directory name."""


def checked_run_name(run_name: object) -> str:
    """``run_name`` as a relative path under the logdir, or a :class:`RunNameError`
    naming what is wrong with it and what to pass instead."""
    if not isinstance(run_name, str):
        raise RunNameError(
            f"aelog.watch: run_name must be a string, got {type(run_name).__name__}")
    shown = ascii(run_name)
    bad = [ch for ch in run_name if unicodedata.category(ch) in ("Cc", "Cf") or ch == "\x7f"]
    if bad:
        raise RunNameError(
            f"aelog.watch: run_name {shown} holds control characters ({ascii(''.join(bad))});"
            " use letters, digits, '-', '_', '.' and '/' for sub-directories.")
    if run_name.startswith(("/", "\\")) or os.path.isabs(run_name) or (
            len(run_name) > 1 and run_name[1] == ":"):
        raise RunNameError(
            f"aelog.watch: run_name {shown} is an absolute path; a run is always written "
            "inside logdir. Pass the parent directory as logdir= and a relative run_name.")
    parts = [part for part in run_name.replace("\\", "/").split("/") if part not in ("", ".")]
    if ".." in parts:
        raise RunNameError(
            f"aelog.watch: run_name {shown} climbs out of logdir with '..'; a run is "
            "always written inside logdir. Pass a name without '..'.")
    if not parts:
        raise RunNameError(
            f"aelog.watch: run_name {shown} names no directory; pass a non-empty name.")
    return "/".join(parts)


def claim_run_dir(logdir: str, run_name: str) -> tuple[str, str]:
    """``(run_name, run_dir)`` of a directory under ``logdir`` that this process alone
    writes: ``run_name`` itself when free, else the first free ``run_name-N``.

    Raises ``OSError`` when the directory cannot be made (the caller words the error)."""
    base, suffix = run_name, 2
    while True:
        run_dir = os.path.join(logdir, *run_name.split("/"))
        if _claim(run_dir):
            return run_name, run_dir
        run_name, suffix = f"{base}-{suffix}", suffix + 1


def _claim(run_dir: str) -> bool:
    os.makedirs(run_dir, exist_ok=True)
    if _holds_aelog_events(run_dir):  # a run from before claims existed, or a finished one
        return False
    try:
        fd = os.open(os.path.join(run_dir, CLAIM_FILE), os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                     0o644)
    except FileExistsError:
        return False
    try:
        os.write(fd, claim_text().encode())
    finally:
        os.close(fd)
    return True


def claim_text() -> str:
    """What a claim file says: who wrote the run, for a person looking at the directory."""
    return f"{socket.gethostname()} pid {os.getpid()} at {time.time():.0f}\n"


def is_claimed_name(name: str) -> bool:
    """A file that makes its directory a run already written: a claim, or aelog's events
    (a run from before claims existed, or a finished one)."""
    return name == CLAIM_FILE or is_aelog_event_file(name)


def is_aelog_event_file(name: str) -> bool:
    return "tfevents" in name and name.endswith(AELOG_EVENT_SUFFIX)


def _holds_aelog_events(run_dir: str) -> bool:
    try:
        names = os.listdir(run_dir)
    except OSError:
        return False
    return any(is_aelog_event_file(name) for name in names)
