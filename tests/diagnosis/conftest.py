"""Make the repository root importable, for the ``benchmarks`` package the scenario test uses
(``pytest`` alone does not put the working directory on sys.path)."""

from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
