"""Promise: close() flushes; a process that exits without close() or is killed loses
nothing already logged; stock TensorBoard reads the run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import torch
from sdk_fixtures import MLPAE, digits, train
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import aelog
from aelog.logfile import format as fmt
from aelog.logfile.runs import load_runs

HERE = os.path.dirname(os.path.abspath(__file__))

SCRIPT = textwrap.dedent(
    """
    import sys, time, torch
    torch.set_num_threads(1)
    sys.path.insert(0, {here!r})
    from sdk_fixtures import MLPAE, digits, train
    import aelog
    torch.manual_seed(0)
    model = MLPAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2) if {with_optimizer} else None
    aelog.watch(model, optimizer, logdir={logdir!r}, run_name="r", log_every=1,
                on_collapse=None)
    train(model, optimizer, digits(128), 8)
    print("trained", flush=True)
    if {wait}:
        time.sleep(60)
    """
)


def _script(tmp_path, *, with_optimizer: bool, wait: bool) -> list[str]:
    code = SCRIPT.format(here=HERE, logdir=str(tmp_path), with_optimizer=with_optimizer,
                         wait=wait)
    return [sys.executable, "-c", code]


def test_sigkill_loses_nothing_already_logged(tmp_path):
    process = subprocess.Popen(_script(tmp_path, with_optimizer=True, wait=True),
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "trained"
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    (run,) = load_runs(str(tmp_path))
    assert run.problems == []
    assert run.signal(fmt.RELATIVE_ERROR).steps.tolist() == list(range(8))
    assert run.metadata["run_name"] == "r"
    assert run.trained is None  # never closed


def test_exit_without_close_finishes_the_open_step(tmp_path):
    # Without an optimizer the last step ends only at the next forward or at close():
    # the exit hook closes the monitor, so step 7 is written too.
    result = subprocess.run(_script(tmp_path, with_optimizer=False, wait=False),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    (run,) = load_runs(str(tmp_path))
    assert run.signal(fmt.GRAD_NORM).steps.tolist() == list(range(8))


def test_close_flushes_and_stock_tensorboard_reads_the_run(tmp_path):
    torch.manual_seed(0)
    model = MLPAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    monitor = aelog.watch(model, optimizer, logdir=tmp_path, run_name="exp", log_every=1,
                          tags={"team": "vision", "owner": "ana"}, on_collapse=None)
    train(model, optimizer, digits(128), 5)
    monitor.close()
    monitor.close()  # idempotent
    assert monitor.run_dir == os.path.join(str(tmp_path), "exp")

    accumulator = EventAccumulator(monitor.run_dir, size_guidance={"scalars": 0, "tensors": 0})
    accumulator.Reload()
    scalars = accumulator.Tags()["scalars"]
    assert fmt.scalar_tag(fmt.RELATIVE_ERROR) in scalars
    assert fmt.layer_tag("encoder.0", fmt.LAYER_GRAD_NORM) in scalars
    points = accumulator.Scalars(fmt.scalar_tag(fmt.OUTPUT_VARIANCE_RATIO))
    assert [p.step for p in points] == [0, 1, 2, 3, 4, 5]  # 5: the end, measured at close
    assert fmt.METADATA_TAG in accumulator.Tags()["tensors"]
    assert fmt.METADATA_TAG in accumulator.PluginTagToContent(fmt.PLUGIN_NAME)

    (run,) = load_runs(str(tmp_path))
    meta = run.metadata
    assert run.tags == {"team": "vision", "owner": "ana"}
    for key in ("format_version", "aelog_version", "torch_version", "host", "pid",
                "start_time", "run_name", "tags", "config", "model", "optimizer", "cadence"):
        assert key in meta, key
    config = meta["config"]
    assert config["input_size"] == 64 and config["batch_size"] == 64
    assert config["latent_size"] == 8 and config["optimizer"] == "Adam"
    assert config["init"] == "default"
    assert meta["model"]["parameters_trainable"] == sum(p.numel() for p in model.parameters())


def test_close_records_the_steps_trained_and_what_logging_cost(tmp_path):
    """close() measures the run's end and says how far it trained and what logging cost."""
    torch.manual_seed(0)
    model = MLPAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    with aelog.watch(model, optimizer, logdir=tmp_path, run_name="short",
                     on_collapse=None) as monitor:
        train(model, optimizer, digits(128), 300)
    (run,) = load_runs(str(tmp_path))
    logged = run.signal(fmt.RELATIVE_ERROR).steps.tolist()
    assert run.trained is not None
    assert run.trained["steps"] == 300
    assert run.trained["logging_steps"] == len(logged) - 1 == monitor.cadence.logged
    assert 0 < run.trained["logging_overhead"] < 1
    assert run.trained["final_step"] == run.last_step == logged[-1] == 300
    assert 0 < run.trained["logging_seconds"] < 1


def test_default_run_name_is_unique(tmp_path):
    model = MLPAE()
    first = aelog.watch(model, logdir=tmp_path, on_collapse=None)
    first.close()
    second = aelog.watch(model, logdir=tmp_path, on_collapse=None)
    second.close()
    assert first.run_dir != second.run_dir
    assert os.path.dirname(first.run_dir) == str(tmp_path)
