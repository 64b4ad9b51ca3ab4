"""Run one scenario: a plain training loop with the two aelog lines, plus a trace of its own."""

from __future__ import annotations

import copy
import warnings

import torch

import aelog
from aelog.logfile.run_data import RunData
from benchmarks.scenarios.base import Scenario, Trace

TRACED_BATCHES = 4
TRACK_EVERY = 10


def relative_error(output: torch.Tensor, target: torch.Tensor) -> float:
    out, x = output.reshape(len(target), -1), target.reshape(len(target), -1)
    return float(((out - x) ** 2).sum() / ((x - x.mean(0)) ** 2).sum().clamp_min(1e-12))


def _track(model: torch.nn.Module, twin: torch.nn.Module, probe: torch.Tensor,
           noise: torch.Tensor, trace: Trace, step: int) -> None:
    """Measure on an unwatched twin: aelog would count eval forwards as validation."""
    twin.load_state_dict(model.state_dict())
    trace.probe_errors[step] = relative_error(_eval_outputs(twin, probe), probe)
    trace.noise_errors[step] = relative_error(_eval_outputs(twin, noise), noise)
    trace.weight_norms[step] = sum(float(p.detach().float().norm() ** 2)
                                   for name, p in model.named_parameters()
                                   if "weight" in name) ** 0.5


def reconstruction(output: object) -> torch.Tensor:
    return output[0] if isinstance(output, (tuple, list)) else output


def _eval_outputs(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    was_training = model.training
    model.eval()
    with torch.no_grad():
        out = reconstruction(model(x))
    model.train(was_training)
    return out


def run_scenario(scenario: Scenario, logdir: str, seed: int = 0) -> tuple[RunData, Trace]:
    """Train with ``aelog.watch`` (warnings silenced) and return what it logged and the trace."""
    torch.manual_seed(seed)
    setup = scenario.setup()
    model, optimizer = setup.model, setup.optimizer
    trace = Trace(initial_state=copy.deepcopy(model.state_dict()))
    twin = copy.deepcopy(model)
    if setup.probe is not None:
        trace.probe_in = setup.probe
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        monitor = aelog.watch(model, optimizer, logdir=logdir, run_name=scenario.name,
                              latent=setup.latent, tags={"cause": scenario.cause or "healthy"},
                              on_collapse=None)
        with monitor:
            if setup.probe is not None:
                trace.probe_out_start = _eval_outputs(twin, setup.probe)
                gen = torch.Generator().manual_seed(9)
                probe = setup.probe
                noise = probe.mean(0) + probe.std(0) * torch.randn(probe.shape, generator=gen)
            for step in range(setup.steps):
                if setup.probe is not None and step % TRACK_EVERY == 0:
                    _track(model, twin, probe, noise, trace, step)
                x = setup.batches(step)
                if step < TRACED_BATCHES:
                    trace.inputs_seen.append(x.detach().clone())
                output = model(x)
                loss = setup.loss(output, x, model)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                trace.losses.append(float(loss.detach()))
                if setup.validation is not None and step % setup.validate_every == 0:
                    model.eval()
                    with torch.no_grad():
                        val = setup.loss(model(setup.validation), setup.validation, model)
                    model.train()
                    trace.val_losses[step] = float(val)
                    trace.train_losses_at_val[step] = trace.losses[-1]
            if setup.probe is not None:
                twin.load_state_dict(model.state_dict())
                trace.probe_out_end = _eval_outputs(twin, setup.probe)
            run = monitor.run_data()
    trace.final_state = copy.deepcopy(model.state_dict())
    trace.model = model
    return run, trace
