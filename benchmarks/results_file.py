"""benchmarks/RESULTS.md is shared: each benchmark owns one ``## `` section of it.

A benchmark replaces its own section (from its heading to the next ``## `` heading) and
leaves every other section as it was, so running one benchmark never erases another's
figures.
"""

from __future__ import annotations

import os

RESULTS = os.path.join(os.path.dirname(__file__), "RESULTS.md")
TITLE = (
    "# Benchmark results\n\n"
    "Each section below names the command that produced it; re-running a command replaces "
    "only its own section.\n"
)


def replace_section(text: str, heading: str, path: str = RESULTS) -> None:
    """Write ``text`` (which starts with ``heading``, a ``## `` line) into ``path``."""
    if not heading.startswith("## ") or not text.startswith(heading):
        raise ValueError(f"a section must start with its '## ' heading, got {heading!r}")
    existing = open(path).read() if os.path.exists(path) else TITLE
    lines = existing.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip("\n") == heading), None)
    if start is None:
        kept = existing.rstrip("\n") + "\n\n"
        rest = ""
    else:
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        kept = "".join(lines[:start])
        rest = "".join(lines[end:])
    with open(path, "w") as handle:
        handle.write(kept + text.rstrip("\n") + "\n" + ("\n" + rest if rest else ""))
