"""`aelog demo`: real training through aelog.watch (few steps here), then TensorBoard."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from aelog.demo.scenarios import SCENARIOS
from cli.cli_runs import run_aelog

pytest.importorskip("sklearn")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_trains_every_run_and_prints_the_diagnosis(tmp_path):
    logdir = str(tmp_path / "demo")
    result = run_aelog("demo", "--no-serve", "--steps", "60", "--logdir", logdir, timeout=300)
    assert result.returncode == 0, result.stderr
    for scenario in SCENARIOS:
        run_dir = os.path.join(logdir, scenario.name)
        assert any("tfevents" in f for f in os.listdir(run_dir)), scenario.name
        assert re.search(rf"^{re.escape(scenario.name)}\s+{scenario.tags['team']}\s",
                         result.stdout, re.M), scenario.name
    assert "(6 runs)" in result.stdout
    # piped stderr: whole progress lines, no carriage-return redraws, no ANSI escapes
    assert "\r" not in result.stderr and "\x1b" not in result.stderr
    assert result.stderr.count("%] ") == len(SCENARIOS)
    assert "[100%] speech/dead_bottleneck" in result.stderr

    # the other commands read what the demo wrote (real aelog.watch runs)
    payload = json.loads(run_aelog("diagnose", logdir, "--json").stdout)
    assert sorted(r["run"] for r in payload["runs"]) == sorted(s.name for s in SCENARIOS)
    compared = run_aelog("compare", "--logdir", logdir, "vision/healthy", "speech/weight_decay_3")
    assert compared.returncode == 0, compared.stderr
    assert re.search(r"^weight_decay\s+0\s+3$", compared.stdout, re.M), compared.stdout
    assert re.search(r"^tags\.team\s+vision\s+speech$", compared.stdout, re.M)
    report = str(tmp_path / "demo.html")
    assert run_aelog("report", logdir, "--out", report).returncode == 0
    html = open(report, encoding="utf-8").read()
    assert html.count('<section class="card"') == len(SCENARIOS)

    # run again into the same logdir: the old event files are replaced, not mixed in
    again = run_aelog("demo", "--no-serve", "--steps", "20", "--logdir", logdir, timeout=300)
    assert again.returncode == 0, again.stderr
    for scenario in SCENARIOS:
        files = [f for f in os.listdir(os.path.join(logdir, scenario.name)) if "tfevents" in f]
        assert len(files) == 1, (scenario.name, files)


def _sigint_at_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_demo_serves_tensorboard_and_stops_on_ctrl_c(tmp_path):
    port = _free_port()
    command = [sys.executable, "-m", "aelog.cli.main", "demo", "--steps", "5",
               "--logdir", str(tmp_path / "demo"), "--port", str(port)]
    # Ctrl-C in a terminal: SIGINT at its default in the demo, even when this test runs as a
    # background job (the shell then ignores SIGINT, and a child would inherit that)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, preexec_fn=_sigint_at_default)
    try:
        url_line = ""
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and "Collapse Diagnosis tab" not in url_line:
            url_line = process.stdout.readline()
            if not url_line and process.poll() is not None:
                pytest.fail(f"demo exited early: {process.stderr.read()}")
        assert f"http://127.0.0.1:{port}/#aelog" in url_line
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/data/runs", timeout=10) as r:
            runs = r.read().decode()
        for scenario in SCENARIOS:
            assert scenario.name in runs
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    with socket.socket() as s:  # TensorBoard was stopped with the demo
        assert s.connect_ex(("127.0.0.1", port)) != 0


def test_demo_refuses_a_bad_port():
    result = run_aelog("demo", "--port", "70000", "--no-serve")
    assert result.returncode == 2
    assert "not a TCP port" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_demo_at_full_length_shows_the_cause_each_run_was_built_for(tmp_path):
    """The README's first command, timed: every collapsed run's top cause is the one it was
    built to show, the healthy run is healthy, and training fits the 2-core budget."""
    logdir = str(tmp_path / "demo")
    started = time.monotonic()
    result = run_aelog("demo", "--no-serve", "--logdir", logdir, timeout=600)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert elapsed < 180, f"demo took {elapsed:.0f} s"
    runs = {r["run"]: r for r in json.loads(run_aelog("diagnose", logdir, "--json").stdout)["runs"]}
    for scenario in SCENARIOS:
        run = runs[scenario.name]
        if scenario.expected_cause is None:
            assert run["status"] == "healthy", run
        else:
            assert run["status"] == "collapsed", run
            assert run["causes"][0]["id"] == scenario.expected_cause, (scenario.name, run["causes"])


def test_demo_refuses_a_taken_port_before_training(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_aelog("demo", "--port", str(port), "--logdir", str(tmp_path / "d"))
    assert result.returncode == 2
    assert f"port {port} on 127.0.0.1 is in use" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "d").exists()  # nothing was trained
