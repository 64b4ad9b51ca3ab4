"""The one error the CLI shows as a single plain line (exit status 2), never a traceback."""

from __future__ import annotations


class CliError(Exception):
    """A problem the user can fix (bad path, unreadable file, bad option): one line, exit 2."""
