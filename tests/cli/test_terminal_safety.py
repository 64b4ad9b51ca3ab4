"""Promise: names, tags and evidence from the logdir never reach the terminal raw: a
newline cannot break a table row and an escape sequence cannot drive the terminal."""

from __future__ import annotations

import os
import re

from aelog.cli.terminal_text import one_line, terminal_safe
from cli.cli_runs import collapsed_signals, healthy_signals, run_aelog, write_run

RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2028\u2029]")
HOSTILE_NAMES = ["line\nbreak", "esc\x1b[31mred\x1b[0m", "bidi\u202eevil", "bell\x07"]


def _hostile_logdir(tmp_path) -> str:
    logdir = tmp_path / "logs"
    for index, name in enumerate(HOSTILE_NAMES):
        signals = collapsed_signals() if index % 2 else healthy_signals()
        write_run(str(logdir / name), signals, tags={"team": "t\x1b]0;title\x07eam"})
    return str(logdir)


def test_the_diagnose_table_keeps_one_row_per_run_and_escapes_every_name(tmp_path):
    result = run_aelog("diagnose", _hostile_logdir(tmp_path))
    assert result.returncode == 0, result.stderr
    assert not RAW_CONTROL.search(result.stdout)
    table = result.stdout.split("\n\n")[0].splitlines()
    assert len(table) == 2 + len(HOSTILE_NAMES)  # header, rule, one line per run
    for name in ("line\\nbreak", "esc\\x1b[31mred\\x1b[0m", "bidi\\u202eevil", "bell\\x07"):
        assert name in result.stdout
    assert "t\\x1b]0;tit" in result.stdout  # the team column, cut to its width


def test_compare_and_errors_escape_names_too(tmp_path):
    logdir = _hostile_logdir(tmp_path)
    a, b = (os.path.join(logdir, HOSTILE_NAMES[i]) for i in (0, 1))
    result = run_aelog("compare", a, b)
    assert result.returncode == 0, result.stderr
    assert not RAW_CONTROL.search(result.stdout)
    assert "/line\\nbreak  (healthy)\nB: " in result.stdout
    missing = run_aelog("diagnose", str(tmp_path / "no\x1b[2Jsuch"))
    assert missing.returncode == 2 and not RAW_CONTROL.search(missing.stderr)
    assert "no\\x1b[2Jsuch" in missing.stderr and len(missing.stderr.strip().splitlines()) == 1


def test_the_json_output_escapes_control_characters_by_itself(tmp_path):
    result = run_aelog("diagnose", _hostile_logdir(tmp_path), "--json")
    assert not RAW_CONTROL.search(result.stdout) and "\\u001b[31m" in result.stdout


def test_plain_text_passes_unchanged():
    for text in ("vision/run-1", "Größe 2", "日本語", "a\\b"):
        assert one_line(text) == text
    assert terminal_safe("two\nlines\x1b") == "two\nlines\\x1b"
