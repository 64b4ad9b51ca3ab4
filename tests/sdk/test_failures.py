"""Promise: a failure inside aelog never reaches the training loop; what we can see up front
fails at watch() with a clear message."""

from __future__ import annotations

import errno
import os
import warnings

import pytest
import torch
from sdk_fixtures import MLPAE, digits, train
from torch import nn

import aelog
from aelog.logfile import format as fmt
from aelog.logfile.runs import load_runs
from aelog.probes import code as code_probe
from aelog.probes import data as data_probe
from aelog.probes import identity as identity_probe
from aelog.probes import optimizer as optimizer_probe
from aelog.probes import symptom as symptom_probe
from aelog.probes import units as units_probe
from aelog.sdk import run_metadata
from aelog.sdk.probe_guard import AelogWarning


def _aelog_warnings(caught) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, AelogWarning)]


PROBES = [
    # (module, function, probe name in the warning, a signal it stops, a signal that goes on)
    (code_probe, "code_stats", "code", fmt.CODE_EFFECTIVE_RANK, fmt.RELATIVE_ERROR),
    (symptom_probe, "symptom_stats", "symptom", fmt.RELATIVE_ERROR, fmt.CODE_VARIANCE),
    (data_probe, "input_stats", "data", fmt.INPUT_STD, fmt.RELATIVE_ERROR),
    (identity_probe, "identity_stats", "identity", fmt.IDENTITY_RATIO, fmt.RELATIVE_ERROR),
    (optimizer_probe, "read_gradients", "optimizer", fmt.GRAD_NORM, fmt.RELATIVE_ERROR),
    (optimizer_probe, "step_stats", "optimizer", fmt.UPDATE_RATIO, fmt.FROZEN_FRACTION),
    (units_probe, "activation_stats", "layers", None, fmt.RELATIVE_ERROR),
    (run_metadata, "build_metadata", "metadata", None, fmt.RELATIVE_ERROR),
]


@pytest.mark.parametrize("module, function, probe, stopped, kept", PROBES,
                         ids=[f"{p[0].__name__.rsplit('.', 1)[-1]}.{p[1]}" for p in PROBES])
def test_a_raising_probe_warns_once_and_is_switched_off(
    tmp_path, monkeypatch, module, function, probe, stopped, kept
):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(module, function, broken)
    torch.manual_seed(0)
    model = MLPAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with aelog.watch(model, optimizer, logdir=tmp_path, run_name="r", log_every=1,
                         identity_every=1, on_collapse=None):
            train(model, optimizer, digits(), 10)
    messages = _aelog_warnings(caught)
    assert len(messages) == 1
    assert f"the {probe} probe failed" in messages[0] and "boom" in messages[0]
    assert "training goes on" in messages[0]
    assert caught[0].filename == train.__code__.co_filename  # points at the user's loop
    (run,) = load_runs(str(tmp_path))
    if stopped is not None:
        assert run.signal(stopped) is None or len(run.signal(stopped)) < 10
    assert len(run.signal(kept)) >= 9  # the other probes carried on
    assert run.records[0]["kind"] == "probe_failed" and run.records[0]["probe"] == probe


def test_a_failure_in_the_hooks_themselves_detaches_the_monitor(tmp_path, monkeypatch):
    torch.manual_seed(0)
    model = MLPAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    monitor = aelog.watch(model, optimizer, logdir=tmp_path, log_every=1, on_collapse=None)

    def broken(args):
        raise RuntimeError("hook machinery broke")

    monkeypatch.setattr(monitor, "_start_capture", broken)
    with pytest.warns(AelogWarning, match="monitor probe failed"):
        train(model, optimizer, digits(), 3)  # trains to the end
    assert monitor.closed and not model._forward_pre_hooks


def test_non_finite_values_are_counted_and_training_goes_on(tmp_path):
    torch.manual_seed(0)
    model = MLPAE()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    data = digits()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with aelog.watch(model, optimizer, logdir=tmp_path, run_name="r", log_every=1,
                         on_collapse=None) as monitor:
            train(model, optimizer, data, 3)
            with torch.no_grad():
                model.decoder[2].weight[0, 0] = float("nan")
            train(model, optimizer, data, 3)
    assert _aelog_warnings(caught) == []
    run = monitor.run_data()
    nonfinite = run.signal(fmt.NONFINITE_OUTPUT_FRACTION)
    assert nonfinite.values[0] == 0 and nonfinite.values[-1] > 0
    assert run.signal(fmt.NONFINITE_WEIGHT_FRACTION).values[-1] > 0
    assert len(run.signal(fmt.INPUT_STD)) == 6 + 1  # and the end, measured at close


class Result:
    """Its tensor behind a method: nothing to read the reconstruction from."""

    def __init__(self, values: torch.Tensor) -> None:
        self._values = values

    def reconstruction(self) -> torch.Tensor:
        return self._values


class OddOutputAE(MLPAE):
    def forward(self, x):
        return Result(super().forward(x))


def test_unexpected_output_type_switches_output_probes_off(tmp_path):
    torch.manual_seed(0)
    model = OddOutputAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    data = digits()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with aelog.watch(model, optimizer, logdir=tmp_path, run_name="r", log_every=1,
                         on_collapse=None) as monitor:
            for start in range(0, 256, 64):
                optimizer.zero_grad()
                x = data[start : start + 64]
                ((model(x).reconstruction() - x) ** 2).mean().backward()
                optimizer.step()
    messages = _aelog_warnings(caught)
    assert len(messages) == 1 and "output probe failed" in messages[0]
    run = monitor.run_data()
    assert run.signal(fmt.RELATIVE_ERROR) is None
    # the end, measured at close, has inputs but no update
    assert len(run.signal(fmt.GRAD_NORM)) == 4 and len(run.signal(fmt.INPUT_STD)) == 5


def test_disk_errors_stop_writing_but_not_training(tmp_path):
    torch.manual_seed(0)
    model = MLPAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        monitor = aelog.watch(model, optimizer, logdir=tmp_path, run_name="r", log_every=1,
                              on_collapse=None)
        train(model, optimizer, digits(), 3)

        def full_disk(*args, **kwargs):
            raise OSError(errno.ENOSPC, "No space left on device")

        monitor._log._writer.write_scalars = full_disk
        train(model, optimizer, digits(), 3)
        monitor.close()
    messages = _aelog_warnings(caught)
    assert len(messages) == 1 and "No space left" in messages[0]
    assert len(monitor.run_data().signal(fmt.RELATIVE_ERROR)) == 7  # kept in memory, the end too
    (run,) = load_runs(str(tmp_path))
    assert len(run.signal(fmt.RELATIVE_ERROR)) == 3  # on disk until the disk filled


def test_unwritable_logdir_fails_at_watch(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    with pytest.raises(ValueError, match="a_file") as error:
        aelog.watch(MLPAE(), logdir=blocker)
    assert "logdir=" in str(error.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_read_only_logdir_fails_at_watch(tmp_path):
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match="cannot write"):
            aelog.watch(MLPAE(), logdir=tmp_path / "runs")
    finally:
        tmp_path.chmod(0o700)


def test_no_trainable_parameters_fails_at_watch(tmp_path):
    model = MLPAE().requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        aelog.watch(model, logdir=tmp_path)
    with pytest.raises(ValueError, match="no trainable parameters"):
        aelog.watch(nn.ReLU(), logdir=tmp_path)
    assert not any(tmp_path.iterdir())  # nothing half-created


def test_watching_twice_reattaches_without_double_hooks(tmp_path):
    model = MLPAE()
    optimizer = torch.optim.Adam(model.parameters())
    first = aelog.watch(model, optimizer, logdir=tmp_path, run_name="one")
    hooks = len(model._forward_hooks) + len(model.encoder[0]._forward_hooks)
    with pytest.warns(AelogWarning, match="already watched"):
        second = aelog.watch(model, optimizer, logdir=tmp_path, run_name="two")
    assert first.closed and not second.closed
    assert len(model._forward_hooks) + len(model.encoder[0]._forward_hooks) == hooks
    assert len(optimizer._optimizer_step_post_hooks) == 1
    second.close()
    assert not model._forward_hooks and not optimizer._optimizer_step_post_hooks
