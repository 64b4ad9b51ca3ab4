"""Train the demo scenarios with ``aelog.watch``: the plain loop a user writes, plus two lines."""

from __future__ import annotations

import os

import torch

import aelog
from aelog.demo.data import load_digit_images
from aelog.demo.progress import Progress
from aelog.demo.scenarios import SCENARIOS, Scenario
from aelog.logfile.run_dir import CLAIM_FILE

BATCH_SIZE = 64
VALIDATION_SIZE = 297
VALIDATE_EVERY = 50


def clear_run_dir(run_dir: str) -> None:
    """Remove event files an earlier demo left in this run directory, and its claim on the
    name (and nothing else), so re-running the demo replaces its runs in place."""
    if not os.path.isdir(run_dir):
        return
    for name in os.listdir(run_dir):
        path = os.path.join(run_dir, name)
        if ("tfevents" in name or name == CLAIM_FILE) and os.path.isfile(path):
            os.remove(path)


def train_scenario(scenario: Scenario, logdir: str, steps: int, images: torch.Tensor,
                   progress: Progress, seed: int = 0) -> None:
    torch.manual_seed(seed)
    model, optimizer = scenario.build()
    train, validation = images[:-VALIDATION_SIZE], images[-VALIDATION_SIZE:]
    batches = torch.Generator().manual_seed(seed)
    clear_run_dir(os.path.join(logdir, scenario.name))
    monitor = aelog.watch(model, optimizer, logdir=logdir, run_name=scenario.name,
                          latent=scenario.latent, tags=scenario.tags, on_collapse=None)
    with monitor:
        for step in range(steps):
            batch = train[torch.randint(len(train), (BATCH_SIZE,), generator=batches)]
            optimizer.zero_grad()
            loss = scenario.loss(model(batch), batch)
            loss.backward()
            optimizer.step()
            if (step + 1) % VALIDATE_EVERY == 0:
                model.eval()  # an eval-mode forward is a validation batch for aelog
                with torch.no_grad():
                    model(validation)
                model.train()
            progress.advance(f"{scenario.name}  step {step + 1}/{steps}")


def train_all(logdir: str, steps: int, progress_stream=None) -> list[Scenario]:
    """Train every scenario into ``logdir``; returns them in training order."""
    torch.set_num_threads(min(2, torch.get_num_threads()))
    images = torch.from_numpy(load_digit_images())
    progress = Progress(steps * len(SCENARIOS), progress_stream)
    for scenario in SCENARIOS:
        train_scenario(scenario, logdir, steps, images, progress)
        progress.finish_item(f"{scenario.name}: {scenario.story}")
    return list(SCENARIOS)
