"""The ``aelog`` console script: an argparse dispatcher, one module per command.

Exit status: 0 ok, 1 when ``diagnose --fail-on`` is met, 2 for a bad path, unreadable data
or bad arguments, each reported as one line on stderr, never a traceback. Only ``demo``
imports torch.
"""

from __future__ import annotations

import argparse
import os
import sys

from aelog import __version__
from aelog.cli import compare, demo, diagnose, report
from aelog.cli.errors import CliError
from aelog.cli.terminal_text import terminal_safe

COMMANDS = (demo, diagnose, compare, report)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aelog",
        description="Why does my autoencoder produce (nearly) identical outputs? "
        "Diagnose, compare and report aelog runs; 'aelog demo' shows it all.",
    )
    parser.add_argument("--version", action="version", version=f"aelog {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except CliError as error:
        return _fail(str(error))
    except BrokenPipeError:  # `aelog diagnose ... | head`: the reader left, nothing to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        return _fail(f"{where}{error.strerror or error}")
    except KeyboardInterrupt:
        print("aelog: interrupted", file=sys.stderr)
        return 130


def _fail(message: str) -> int:
    print(terminal_safe(f"aelog: error: {message}"), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
