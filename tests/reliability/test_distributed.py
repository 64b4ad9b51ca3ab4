"""Distributed training (DDP, gloo, 2 processes on this machine): every rank watches, one
run is written (rank 0), whole-batch statistics cover every rank's samples, training is
unchanged, and ranks that disagree about logging never deadlock."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from aelog.logfile import format as fmt
from aelog.logfile.runs import load_runs
from aelog.probes import code as code_probe
from aelog.probes import symptom as symptom_probe

WORKER = os.path.join(os.path.dirname(__file__), "ddp_worker.py")
WORLD = 2
DEADLOCK_TIMEOUT_S = 150

pytestmark = pytest.mark.skipif(not torch.distributed.is_available()
                                or not torch.distributed.is_gloo_available(),
                                reason="torch.distributed with gloo is not available")


def _launch(scenario: str, outdir) -> list[dict]:
    from plugin.tensorboard_process import free_port

    port = str(free_port())
    env = {**os.environ, "AELOG_DIST_AGREE_TIMEOUT_S": "3", "OMP_NUM_THREADS": "1"}
    ranks = [subprocess.Popen([sys.executable, WORKER, scenario, str(rank), str(WORLD), port,
                               str(outdir)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for rank in range(WORLD)]
    try:
        logs = [rank.communicate(timeout=DEADLOCK_TIMEOUT_S)[0] for rank in ranks]
    except subprocess.TimeoutExpired:
        for rank in ranks:
            rank.kill()
            rank.wait()
        pytest.fail(f"{scenario}: the ranks did not finish in {DEADLOCK_TIMEOUT_S} s (deadlock)")
    for rank, log in zip(ranks, logs, strict=True):
        assert rank.returncode == 0, log[-3000:]
    return [torch.load(outdir / f"rank{rank}.pt") for rank in range(WORLD)]


def _one_run(outdir):
    runs = load_runs(str(outdir / "logs"))
    assert [run.name for run in runs] == ["ddp"]
    files = [f for f in os.listdir(outdir / "logs" / "ddp") if "tfevents" in f]
    assert len(files) == 1  # rank 0's event file only
    return runs[0]


def test_every_rank_watches_one_run_whole_batch_statistics_training_unchanged(tmp_path):
    records = _launch("agree", tmp_path)
    for record in records:  # bit-identical parameters with and without watch, on every rank
        assert all(torch.equal(record["plain"][k], record["watched"][k]) for k in record["plain"])
    run = _one_run(tmp_path)
    assert run.metadata["distributed"]["world_size"] == WORLD
    assert run.metadata["distributed"]["mode"] == "gather"
    assert run.metadata["distributed"]["samples_last_gather"] == 2 * 16  # both ranks' batches
    spread = run.signal(fmt.OUTPUT_VARIANCE_RATIO)
    rank_series = run.signal(fmt.CODE_EFFECTIVE_RANK)
    assert len(spread) >= 20
    # the end, measured at close, is rank 0's own batch (no collective after training)
    assert run.trained["final_step"] == spread.steps[-1] == rank_series.steps[-1]
    differs = 0
    # the code's rank at full points only; the spread at every point, headline ones included
    for index, step in enumerate(rank_series.steps.tolist()[:-1]):
        codes = torch.cat([r["codes"][step] for r in records])
        expected_rank = code_probe.code_stats(codes)[fmt.CODE_EFFECTIVE_RANK]
        assert rank_series.values[index] == pytest.approx(float(expected_rank), rel=1e-5), step
    for index, step in enumerate(spread.steps.tolist()[:-1]):
        whole = [torch.cat([r[key][step] for r in records]) for key in ("outputs", "inputs")]
        expected = symptom_probe.symptom_stats(whole[0], whole[1], 4)
        assert spread.values[index] == pytest.approx(
            float(expected[fmt.OUTPUT_VARIANCE_RATIO]), rel=1e-5), step
        alone = symptom_probe.symptom_stats(records[0]["outputs"][step],
                                            records[0]["inputs"][step], 4)
        differs += abs(float(alone[fmt.OUTPUT_VARIANCE_RATIO]) - spread.values[index]) > 1e-3
    assert differs >= (len(spread) - 1) // 2  # rank 0's batch alone would have said otherwise
    assert not any("aelog" in w for w in records[1]["warnings"])  # one voice: rank 0's


def test_ranks_that_disagree_about_logging_do_not_deadlock(tmp_path):
    records = _launch("disagree", tmp_path)
    run = _one_run(tmp_path)
    steps = run.signal(fmt.INPUT_STD).steps.tolist()
    assert steps[:20] == list(range(20))  # rank 0's cadence, not rank 1's log_every=3
    assert steps[-1] > 25  # rank 0 logged on after rank 1's monitor closed
    assert any("symptom probe failed" in w for w in records[1]["warnings"])
    assert run.metadata["distributed"]["mode"] == "gather"


def test_watch_on_rank_0_only_measures_alone_without_deadlock(tmp_path):
    records = _launch("rank0_only", tmp_path)
    run = _one_run(tmp_path)
    assert run.metadata["distributed"]["mode"] == "local"
    assert any("watch() was called on 1 of 2 ranks" in w for w in records[0]["warnings"])
    assert len(run.signal(fmt.OUTPUT_VARIANCE_RATIO)) >= 20
