"""Which engine made a verdict: a fingerprint of the engine's own source.

A verdict stored in a run (see :mod:`aelog.diagnosis.stored`) is reused only by the
engine that made it. Any change to the engine, a threshold or a cause, changes its
source and so its fingerprint: no version number to forget to bump.
"""

from __future__ import annotations

import functools
import hashlib
import os

import aelog

_ENGINE_PACKAGE = os.path.dirname(os.path.abspath(__file__))
_LOGFILE = os.path.join(os.path.dirname(_ENGINE_PACKAGE), "logfile")
_READ_BY_THE_ENGINE = ("run_data.py", "format.py")
"""the engine's input: how RunData is built from what was logged."""


@functools.lru_cache(maxsize=1)
def engine_version() -> str:
    """``"<aelog version>+<12 hex digits of the engine's source>"``."""
    digest = hashlib.sha256()
    paths = [os.path.join(_LOGFILE, name) for name in _READ_BY_THE_ENGINE]
    for directory, subdirs, files in os.walk(_ENGINE_PACKAGE):
        subdirs.sort()
        paths += [os.path.join(directory, f) for f in sorted(files) if f.endswith(".py")]
    for path in paths:
        try:
            with open(path, "rb") as handle:
                digest.update(os.path.relpath(path, _ENGINE_PACKAGE).encode())
                digest.update(handle.read())
        except OSError:  # installed without sources: the package version alone
            return aelog.__version__
    return f"{aelog.__version__}+{digest.hexdigest()[:12]}"
