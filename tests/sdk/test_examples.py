"""The article's three examples run as written, with the aelog lines added, and log."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from aelog.logfile import format as fmt
from aelog.logfile.runs import load_runs

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


def _run_example(name: str, cwd) -> str:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run(
        [sys.executable, os.path.join(EXAMPLES, name)], cwd=cwd, env=env,
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "Epoch:80" in result.stdout
    return result.stderr


@pytest.mark.parametrize(
    "name, logdir, latent, init",
    [
        ("example1_large_latent.py", "example1", 80, "default"),
        ("example2_small_init.py", "example2", 20, "constant"),
    ],
)
def test_article_example(tmp_path, name, logdir, latent, init):
    _run_example(name, tmp_path)
    (run,) = load_runs(str(tmp_path / "runs" / logdir))
    config = run.metadata["config"]
    assert config["latent_size"] == latent and config["input_size"] == 100
    assert config["batch_size"] == 1000 and config["init"] == init
    steps = run.signal(fmt.RELATIVE_ERROR).steps.tolist()
    assert steps[:3] == [0, 1, 2] and steps[-1] == 100  # the first updates, and the end
    # A full point of these examples (batch 1000, 100 features) costs 6-10 ms on two
    # shared cores, next to the dense start's 10 ms line: which start it takes depends on
    # the machine's load. Either way every step to 20 is logged (in full, or the headline
    # where the start is not dense) and a point every tenth after.
    assert steps[:20] == list(range(20))
    assert len([s for s in steps if s < 100]) >= 25
    # the measured bound: isotropic noise leaves roughly (100 - k)% to any rank-k code
    bound = run.signal(fmt.RANK_K_ERROR).values[-1]
    assert 0.5 * (100 - latent) / 100 < bound < (100 - latent) / 100


def test_article_example3_logs_both_phases(tmp_path):
    stderr = _run_example("example3_no_regularization.py", tmp_path)
    assert "already watched" in stderr
    runs = {run.name: run for run in load_runs(str(tmp_path / "runs" / "example3"))}
    assert set(runs) == {"plain", "regularized"}
    assert runs["plain"].metadata["config"]["weight_decay"] == 0.0
    assert runs["regularized"].metadata["config"]["weight_decay"] == 1e-5
    assert runs["regularized"].signal(fmt.REGULARIZATION_PULL).values.max() > 0
