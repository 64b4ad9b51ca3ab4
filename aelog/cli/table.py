"""Plain-text tables for the terminal: aligned columns, long cells cut with an ellipsis."""

from __future__ import annotations

from collections.abc import Sequence

from aelog.cli.terminal_text import one_line


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(1, width - 1)] + "…"


def format_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], max_widths: Sequence[int] | None = None
) -> str:
    """Columns padded to their widest cell (capped by ``max_widths``), two spaces apart."""
    limits = list(max_widths) if max_widths else [10**6] * len(header)
    cells = [[_cut(one_line(c), limits[i]) for i, c in enumerate(row)] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = []
    for row in cells:
        padded = [c.ljust(widths[i]) for i, c in enumerate(row)]
        lines.append("  ".join(padded).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_number(value) -> str:
    """Short, readable numbers: 3 significant digits; non-finite and missing spelled out."""
    if value is None:
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if value != value or value in (float("inf"), float("-inf")):
        return "non-finite"
    return f"{value:.3g}"
