"""Wrapped models (torch.compile, DataParallel, DistributedDataParallel), several models in
one process, and watch() called twice: names come from the user's own model, hooks never
double, and what a wrapper hides is said, not silently missing."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.distributed as dist
from loop_fixtures import TinyAE, assert_same_state, batches, digits, mse, series, state
from torch._dynamo.utils import counters
from torch.nn.parallel import DataParallel, DistributedDataParallel

import aelog
from aelog.logfile import format as fmt
from aelog.logfile.runs import load_runs
from aelog.sdk.probe_guard import AelogWarning

LAYERS = ["decoder.0", "decoder.2", "encoder.0", "encoder.2"]
"""TinyAE's parameterised layers; its activations are encoder.1 and decoder.1."""
ALL_LAYERS = sorted(LAYERS + ["decoder.1", "encoder.1"])


def _train(model, optimizer, steps: int) -> None:
    for x in batches(digits(), steps):
        optimizer.zero_grad()
        mse(model(x), x).backward()
        optimizer.step()


def _compiled_run(watch_dir=None):
    torch.manual_seed(9)
    model = TinyAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    compiled = torch.compile(model, backend="eager")
    monitor = None
    if watch_dir is not None:
        with pytest.warns(AelogWarning, match="compiled model: per-layer activations"):
            monitor = aelog.watch(compiled, optimizer, logdir=watch_dir, run_name="compiled",
                                  log_every=2, on_collapse=None)
    counters.clear()
    _train(compiled, optimizer, 8)
    graphs = counters["stats"]["unique_graphs"]
    breaks = sum(counters["graph_break"].values())
    if monitor is not None:
        monitor.close()
    return state(model), monitor, (graphs, breaks)


def test_a_compiled_model_keeps_its_graph_and_says_what_it_cannot_see(tmp_path):
    torch._dynamo.reset()
    plain, _, plain_compile = _compiled_run()
    torch._dynamo.reset()
    watched, monitor, watched_compile = _compiled_run(tmp_path)
    assert_same_state(plain, watched)
    assert watched_compile == plain_compile  # no graph break, no recompilation of ours
    run = monitor.run_data()
    for signal in (fmt.GRAD_NORM, fmt.UPDATE_RATIO):
        assert [s for s, _ in series(run, signal)] == [0, 2, 4, 6], signal
    for signal in (fmt.RELATIVE_ERROR, fmt.OUTPUT_VARIANCE_RATIO, fmt.INPUT_STD):
        assert [s for s, _ in series(run, signal)] == [0, 2, 4, 6, 8], signal  # 8: the end
    assert sorted(run.layers) == LAYERS  # the user's names, not "_orig_mod.encoder.0"
    assert run.layer_signal("encoder.0", fmt.LAYER_GRAD_NORM) is not None
    assert run.layer_signal("encoder.0", fmt.LAYER_ACTIVATION_STD) is None  # hidden ...
    assert run.signal(fmt.CODE_EFFECTIVE_RANK) is None
    assert run.metadata["loop"]["compiled"] is True  # ... and said to be
    assert run.records[0]["kind"] == "not_measured"


def test_data_parallel_is_unwrapped(tmp_path):
    torch.manual_seed(1)
    model = TinyAE()
    wrapped = DataParallel(model)  # on CPU it calls the model directly; names stay clean
    optimizer = torch.optim.Adam(wrapped.parameters(), lr=1e-2)
    with aelog.watch(wrapped, optimizer, logdir=tmp_path, log_every=1,
                     on_collapse=None) as monitor:
        _train(wrapped, optimizer, 3)
    run = monitor.run_data()
    assert sorted(run.layers) == ALL_LAYERS
    assert run.metadata["model"]["latent_module"] == "encoder"
    assert len(series(run, fmt.CODE_EFFECTIVE_RANK)) == 3 + 1  # and the end
    assert run.metadata["loop"]["wrappers"] == ["DataParallel"]


@pytest.fixture
def process_group(tmp_path):
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0,
                            world_size=1)
    yield
    dist.destroy_process_group()


def _ddp_run(watch_dir=None):
    torch.manual_seed(6)
    model = DistributedDataParallel(TinyAE())
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    monitor = None
    if watch_dir is not None:
        monitor = aelog.watch(model, optimizer, logdir=watch_dir, run_name="ddp", log_every=1,
                              on_collapse=None)
    _train(model, optimizer, 4)
    if monitor is not None:
        monitor.close()
    return state(model.module), monitor


def test_distributed_data_parallel_is_unwrapped(tmp_path, process_group):
    plain, _ = _ddp_run()
    watched, monitor = _ddp_run(tmp_path)
    assert_same_state(plain, watched)
    run = monitor.run_data()
    assert sorted(run.layers) == ALL_LAYERS
    assert len(series(run, fmt.CODE_EFFECTIVE_RANK)) == 4 + 1  # and the end
    assert len(series(run, fmt.GRAD_NORM)) == 4
    assert run.signal(fmt.GRAD_CLIPPED) is None  # each rank's raw gradient is not the one used


def test_two_models_in_one_process_make_two_runs(tmp_path):
    torch.manual_seed(0)
    small, large = TinyAE(latent=2), TinyAE(latent=12)
    small_opt = torch.optim.Adam(small.parameters(), lr=1e-2)
    large_opt = torch.optim.Adam(large.parameters(), lr=1e-2)
    first = aelog.watch(small, small_opt, logdir=tmp_path, log_every=1, on_collapse=None)
    second = aelog.watch(large, large_opt, logdir=tmp_path, log_every=1, on_collapse=None)
    assert first.run_dir != second.run_dir
    for x in batches(digits(), 4):
        for model, optimizer in ((small, small_opt), (large, large_opt)):
            optimizer.zero_grad()
            mse(model(x), x).backward()
            optimizer.step()
    first.close()
    second.close()
    runs = {run.metadata["config"]["latent_size"]: run for run in load_runs(str(tmp_path))}
    assert sorted(runs) == [2, 12]
    assert len(aelog.diagnose(tmp_path)) == 2
    assert first.run_data().metadata["config"]["latent_size"] == 2
    for monitor in (first, second):
        assert len(series(monitor.run_data(), fmt.GRAD_NORM)) == 4


def test_watching_the_same_model_through_a_wrapper_reattaches(tmp_path):
    torch.manual_seed(0)
    model = TinyAE()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    first = aelog.watch(model, optimizer, logdir=tmp_path, run_name="one", on_collapse=None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        second = aelog.watch(DataParallel(model), optimizer, logdir=tmp_path, run_name="two",
                             log_every=1, on_collapse=None)
    assert any("already watched" in str(w.message) for w in caught)
    assert first.closed and not second.closed
    assert len(model._forward_pre_hooks) == 1
    assert len(optimizer._optimizer_step_post_hooks) == 1
    # the skipped-step counter arms a forward hook for logging steps only (every step here)
    assert not model._forward_hooks
    _train(model, optimizer, 2)
    assert len(model._forward_hooks) == 1
    second.close()
    assert not model._forward_pre_hooks and not optimizer._optimizer_step_post_hooks
    assert not model._forward_hooks
    assert all(p._post_accumulate_grad_hooks is None for p in model.parameters())
    assert len(series(second.run_data(), fmt.GRAD_NORM)) == 2
