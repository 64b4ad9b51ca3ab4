"""A plain progress bar on stderr: redrawn in place on a terminal, one line per run otherwise.

No dependency and no ANSI escape codes; piped output (CI logs) gets whole lines only.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

BAR_WIDTH = 24


class Progress:
    def __init__(self, total_steps: int, stream: TextIO | None = None) -> None:
        self.total = max(1, total_steps)
        self.done = 0
        self.stream = stream or sys.stderr
        self.interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.monotonic()

    def advance(self, label: str, steps: int = 1) -> None:
        self.done = min(self.total, self.done + steps)
        if self.interactive:
            filled = BAR_WIDTH * self.done // self.total
            bar = "#" * filled + "." * (BAR_WIDTH - filled)
            percent = 100 * self.done // self.total
            self.stream.write(f"\r[{bar}] {percent:3d}%  {label[:50]:<50}")
            self.stream.flush()

    def finish_item(self, message: str) -> None:
        """One finished run: a line of its own (on a terminal it replaces the bar's line)."""
        elapsed = time.monotonic() - self.started
        percent = 100 * self.done // self.total
        line = f"[{percent:3d}%] {message} ({elapsed:.0f} s)"
        if self.interactive:
            self.stream.write("\r" + line.ljust(BAR_WIDTH + 60) + "\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
