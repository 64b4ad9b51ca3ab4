"""Crash consistency: a training process killed with SIGKILL in the middle of logging
leaves event files that ``aelog diagnose`` and the plugin read up to the last complete
record, with no error."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

from aelog.logfile import format as fmt
from aelog.logfile.runs import load_runs

TRAINING_CHILD = textwrap.dedent("""
    import sys
    import torch
    import aelog
    sys.path.insert(0, {tests!r})
    from reliability.training import TinyAE, digits, train

    torch.set_num_threads(1)
    model = TinyAE()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    aelog.watch(model, optimizer, logdir={logdir!r}, run_name="killed", log_every=1,
                on_collapse=None)
    data = digits()
    for step in range(100000):
        train(model, optimizer, data, 1)
        print(step, flush=True)
""")

WRITER_CHILD = textwrap.dedent("""
    from aelog.logfile import format as fmt
    from aelog.logfile.event_writer import EventWriter

    writer = EventWriter({run_dir!r})
    writer.write_metadata({{"format_version": fmt.FORMAT_VERSION, "config": {{}}}})
    print("ready", flush=True)
    values = {{fmt.layer_tag(f"layer{{i}}", fmt.LAYER_GRAD_NORM): float(i) for i in range(200)}}
    step = 0
    while True:
        values[fmt.scalar_tag(fmt.RELATIVE_ERROR)] = 1.0 / (step + 1)
        writer.write_scalars(step, values)
        step += 1
""")

TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _start(code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _kill_after(child: subprocess.Popen, lines: int, delay_s: float) -> None:
    for _ in range(lines):
        assert child.stdout.readline(), child.stderr.read()
    time.sleep(delay_s)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    child.stdout.close()
    child.stderr.close()
    assert child.returncode == -signal.SIGKILL


def _cli_json(logdir: str) -> dict:
    result = subprocess.run([sys.executable, "-m", "aelog.cli.main", "diagnose", logdir,
                             "--json"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    return json.loads(result.stdout)


def test_training_killed_mid_run_is_read_by_the_cli_and_the_plugin(tmp_path):
    from plugin.conftest import InProcessTensorBoard

    rng = random.Random(7)
    kills = []
    for attempt in range(2):
        logdir = tmp_path / f"attempt{attempt}"
        lines = rng.randrange(5, 40)
        _kill_after(_start(TRAINING_CHILD.format(tests=TESTS_DIR, logdir=str(logdir))),
                    lines, rng.uniform(0, 0.02))
        (run,) = load_runs(str(logdir))
        assert run.metadata["format_version"] == fmt.FORMAT_VERSION
        assert run.last_step is not None and run.last_step >= lines - 1
        steps = run.signal(fmt.INPUT_STD).steps.tolist()
        assert steps == list(range(len(steps)))  # no gaps, nothing half-kept
        (row,) = _cli_json(str(logdir))["runs"]
        assert row["run"] == "killed" and row["status"] in ("healthy", "at_risk", "collapsed")
        plugin_rows = InProcessTensorBoard(str(logdir)).get_json("/runs")["runs"]
        assert [r["run"] for r in plugin_rows] == ["killed"]
        kills.append(run.last_step)
    print(f"killed training at steps {kills}: every run read to its last record")


def test_a_writer_killed_mid_record_stream_loses_only_the_torn_record(tmp_path):
    rng = random.Random(11)
    for attempt in range(5):
        run_dir = tmp_path / f"run{attempt}"
        _kill_after(_start(WRITER_CHILD.format(run_dir=str(run_dir))), 1, rng.uniform(0.05, 0.3))
        (run,) = load_runs(str(run_dir))
        errors = run.signal(fmt.RELATIVE_ERROR)
        assert len(errors) > 0 and errors.steps.tolist() == list(range(len(errors)))
        assert all(len(run.layers[f"layer{i}"]["grad_norm"]) == len(errors) for i in range(200))
        assert all("truncated" in problem for problem in run.problems)
        (row,) = _cli_json(str(run_dir))["runs"]
        assert row["status"] in ("healthy", "at_risk", "collapsed")
