"""`aelog compare` in the terminal: configuration differences and where the signals part."""

from __future__ import annotations

import os

from cli.cli_runs import run_aelog


def test_compare_two_run_directories(logdir):
    healthy = os.path.join(logdir, "vision", "healthy")
    collapsed = os.path.join(logdir, "speech", "collapsed")
    result = run_aelog("compare", healthy, collapsed)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"A: {healthy}  (healthy)" in out
    assert f"B: {collapsed}  (collapsed since step" in out
    assert "Configuration differences (3):" in out
    init_row = next(line for line in out.splitlines() if line.startswith("init "))
    assert init_row.split() == ["init", "default", "constant"]
    assert "Signals part at step 0:" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines()
            if line.startswith(("output_variance_ratio", "relative_error"))}
    assert rows["output_variance_ratio"][1:] == ["0", "0.3", "0.001"]
    # healthy error falls linearly 1 -> 0.1; it leaves the 25% band around 1.0 at step 110
    assert rows["relative_error"][1] == "110"


def test_compare_run_names_inside_a_logdir(logdir):
    result = run_aelog("compare", "--logdir", logdir, "vision/healthy", "vision/healthy")
    assert result.returncode == 0, result.stderr
    assert "Configuration differences: none" in result.stdout
    assert "Signals do not part" in result.stdout


def test_compare_refuses_a_logdir_with_many_runs(logdir):
    result = run_aelog("compare", logdir, os.path.join(logdir, "vision", "healthy"))
    assert result.returncode == 2
    assert "holds 2 runs" in result.stderr and "Traceback" not in result.stderr


def test_compare_missing_run(logdir):
    result = run_aelog("compare", "--logdir", logdir, "vision/healthy", "vision/nope")
    assert result.returncode == 2
    assert "no such file or directory" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
