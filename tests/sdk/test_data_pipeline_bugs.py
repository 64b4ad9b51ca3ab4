"""Promise: the most common data-pipeline bug, ``x = next(iter(loader))`` written above
the loop instead of inside it, is named as the pipeline's fault (constant_input) with the
evidence that the model memorises that one batch, and its fix; the same loop drawing a
batch at every step is healthy. Real loops on digits, with a validation pass."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from sdk_fixtures import MLPAE, digits
from torch.utils.data import DataLoader

import aelog
from aelog.diagnosis.engine import diagnose_run


def _train(tmp_path, name: str, hoisted: bool, steps: int = 800):
    torch.manual_seed(0)
    data = digits(1797)
    train, held_out = data[:1400], data[1400:]
    loader = DataLoader(train, batch_size=64, shuffle=True,
                        generator=torch.Generator().manual_seed(1))
    model = MLPAE(latent=16)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    with aelog.watch(model, optimizer, logdir=tmp_path, run_name=name, on_collapse=None) as mon:
        x = next(iter(loader))  # the bug: one batch, drawn once
        batches = iter(loader)
        for step in range(steps):
            if not hoisted:
                x = next(batches, None)
                if x is None:
                    batches = iter(loader)
                    x = next(batches)
            loss = F.mse_loss(model(x), x)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if step % 50 == 0:
                model.eval()
                with torch.no_grad():
                    model(held_out)
                model.train()
    return diagnose_run(mon.run_data())


def test_one_batch_drawn_once_and_memorised_is_the_pipelines_fault(tmp_path):
    diagnosis = _train(tmp_path, "hoisted", hoisted=True)
    assert diagnosis.status != "healthy", diagnosis.to_json()
    top = diagnosis.causes[0]
    assert top.id == "constant_input", diagnosis.to_json()
    assert any("the same batch was fed at 100%" in e for e in top.evidence)
    assert any("memorises the one batch" in e for e in top.evidence)
    assert "next(iter(loader))" in top.fix


def test_a_new_batch_at_every_step_is_healthy(tmp_path):
    diagnosis = _train(tmp_path, "fresh", hoisted=False)
    assert diagnosis.status == "healthy", diagnosis.to_json()
    assert diagnosis.causes == []
