"""Promise: the user's own forward behaves as without aelog: its exceptions reach the user
unchanged with no aelog frame on top, and any output structure trains on."""

from __future__ import annotations

import traceback
import warnings

import pytest
import torch
from sdk_fixtures import MLPAE, digits
from torch import nn

import aelog
from aelog.logfile import format as fmt
from aelog.sdk.probe_guard import AelogWarning


class FailsAt(MLPAE):
    def __init__(self, step: int) -> None:
        super().__init__()
        self.calls, self.fail_at = 0, step

    def forward(self, x):
        if not torch.is_grad_enabled():  # aelog's own probe forwards
            return super().forward(x)
        self.calls += 1
        if self.calls == self.fail_at + 1:
            raise ValueError("shape mismatch in user code")
        return super().forward(x)


def _aelog_frames(error: BaseException) -> list[str]:
    return [f.filename for f in traceback.extract_tb(error.__traceback__)
            if "/aelog/" in f.filename.replace("\\", "/")]


@pytest.mark.parametrize("fail_at", [0, 1, 37], ids=["first_step", "logging_step", "quiet"])
@pytest.mark.parametrize("form", ["plain", "with"])
def test_the_users_exception_arrives_unchanged(tmp_path, fail_at, form):
    model = FailsAt(fail_at)
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    data = digits(64)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ValueError) as raised:
            monitor = aelog.watch(model, optimizer, logdir=tmp_path, run_name="r")
            context = monitor if form == "with" else None
            if context is not None:
                context.__enter__()
            try:
                for _ in range(60):
                    optimizer.zero_grad()
                    ((model(data) - data) ** 2).mean().backward()
                    optimizer.step()
            except BaseException as error:
                if context is not None:
                    context.__exit__(type(error), error, error.__traceback__)
                raise
    assert str(raised.value) == "shape mismatch in user code"
    assert type(raised.value) is ValueError and raised.value.__cause__ is None
    assert _aelog_frames(raised.value) == []
    assert not [w for w in caught if issubclass(w.category, AelogWarning)]
    assert monitor.step == fail_at
    monitor.close()


class ListAE(MLPAE):
    def forward(self, x):
        z = self.encoder(x)
        return [self.decoder(z), z]


class ShapeShifter(MLPAE):
    """Returns the reconstruction, then on odd steps a (recon, z) tuple, then a cropped one."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        recon = super().forward(x)
        if self.calls % 3 == 1:
            return recon, self.encoder(x)
        if self.calls % 3 == 2:
            return {"x_hat": recon}
        return recon[:, :32]


def _reconstruction(out):
    if isinstance(out, dict):
        return out["x_hat"]
    return out[0] if isinstance(out, (tuple, list)) else out


@pytest.mark.parametrize("model", [ListAE, ShapeShifter])
def test_outputs_that_are_lists_or_change_between_steps_train_on(tmp_path, model):
    torch.manual_seed(0)
    model = model()
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    data = digits(128)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with aelog.watch(model, optimizer, logdir=tmp_path, run_name="r", log_every=1) as mon:
            for step in range(30):
                x = data[(step % 2) * 64:(step % 2) * 64 + 64]
                out = _reconstruction(model(x))
                ((out - x[:, :out.shape[1]]) ** 2).mean().backward()
                optimizer.step()
                optimizer.zero_grad()
    assert mon.step == 30
    assert len([w for w in caught if issubclass(w.category, AelogWarning)]) <= 1
    assert mon.run_data().signal(fmt.GRAD_NORM) is not None
    assert len(mon.run_data().signal(fmt.GRAD_NORM)) >= 30


def test_an_output_object_of_a_class_made_on_the_fly_is_read(tmp_path):
    class Opaque(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = MLPAE()

        def forward(self, x):
            return type("Result", (), {"recon": self.inner(x)})()

    model = Opaque()
    optimizer = torch.optim.SGD(model.parameters(), 0.01)
    data = digits(64)
    with aelog.watch(model, optimizer, logdir=tmp_path, run_name="r", log_every=1) as mon:
        for _ in range(5):
            optimizer.zero_grad()
            ((model(data).recon - data) ** 2).mean().backward()
            optimizer.step()
    assert mon.step == 5
    assert len(mon.run_data().signal(fmt.RELATIVE_ERROR)) == 6  # each step, and the end
