"""Text from run names, tags and evidence, made safe to print on a terminal.

Run names are directory names and tags come from configs: a newline would break a table
row, and an escape sequence (``\\x1b[...``) would reach the user's terminal, recolour it
or rewrite what was printed before. Every control or invisible formatting character is
shown escaped, the way Python writes it in a string literal.
"""

from __future__ import annotations

import unicodedata

_CONTROL = ("Cc", "Cf", "Zl", "Zp")


def one_line(text: object) -> str:
    """``text`` with every control character escaped (``\\n``, ``\\x1b``, ``\\u202e``)."""
    value = str(text)
    if value.isprintable():
        return value
    return "".join(_escaped(ch) if unicodedata.category(ch) in _CONTROL else ch
                   for ch in value)


def terminal_safe(text: str) -> str:
    """Like :func:`one_line`, keeping the line breaks of a multi-line output."""
    return "\n".join(one_line(line) for line in text.split("\n"))


def _escaped(ch: str) -> str:
    return ascii(ch)[1:-1] if ch != "\\" else ch
