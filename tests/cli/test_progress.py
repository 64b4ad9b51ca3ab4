"""The demo's progress bar: redrawn in place on a terminal, whole lines in a pipe."""

from __future__ import annotations

import io

from aelog.demo.progress import Progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_gets_a_bar_redrawn_in_place():
    stream = _Terminal()
    progress = Progress(total_steps=4, stream=stream)
    progress.advance("run a  step 1/4")
    progress.advance("run a  step 2/4")
    assert stream.getvalue().count("\r[") == 2
    assert "[############............]  50%  run a  step 2/4" in stream.getvalue()
    progress.finish_item("run a: done")
    assert stream.getvalue().endswith("\n") and "[ 50%] run a: done" in stream.getvalue()
    assert "\x1b" not in stream.getvalue()


def test_pipe_gets_one_line_per_finished_run_only():
    stream = io.StringIO()
    progress = Progress(total_steps=2, stream=stream)
    progress.advance("run a  step 1/2")
    assert stream.getvalue() == ""
    progress.advance("run a  step 2/2")
    progress.finish_item("run a: done")
    assert stream.getvalue().startswith("[100%] run a: done (")
    assert "\r" not in stream.getvalue()
