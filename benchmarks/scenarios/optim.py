"""Optimiser defects: learning rate too high or too low, parameters that never train."""

from __future__ import annotations

import math

import torch

from benchmarks.scenarios import common as c
from benchmarks.scenarios import data, models
from benchmarks.scenarios.base import Manifest, Scenario, Setup


def _high_mlp_digits_sgd() -> Setup:
    train, val = data.digits("standard")
    model = models.MLPAutoencoder(64, 64, 8)
    opt = torch.optim.SGD(model.parameters(), lr=2.0, momentum=0.9)
    return Setup(model, opt, data.sampler(train), c.mse,
                 validation=val[:128], probe=val[:256])


def _high_vae_binary_adam() -> Setup:
    train, val = data.binary()
    model = models.VAE(64, 64, 6)
    return Setup(model, torch.optim.Adam(model.parameters(), lr=0.5), data.sampler(train),
                 c.vae_loss(1.0, binary=True), validation=val, probe=val, latent="mu")


def _high_conv_digits_adam() -> Setup:
    train, val = data.digits("standard")
    model = models.ConvAutoencoder(8)
    return Setup(model, torch.optim.Adam(model.parameters(), lr=0.3), data.sampler(train), c.mse,
                 validation=val[:128], probe=val[:256])


def _high_mlp_digits_adam() -> Setup:
    train, val = data.digits()
    model = models.MLPAutoencoder(64, 64, 8)
    return Setup(model, torch.optim.Adam(model.parameters(), lr=0.05), data.sampler(train), c.mse,
                 validation=val[:128], probe=val[:256])


def _diverged_or_dead(trace, model) -> Manifest:
    """Diverged, or ReLU units alive at the start all dead at the end (Adam's big steps)."""
    diverged = _diverged(trace, model)
    if diverged.ok:
        return diverged
    start, end = _dead_share(model, trace, trace.initial_state), _dead_share(model, trace, None)
    return Manifest(start < 0.5 and end >= 0.9, 0, f"{diverged.detail}; worst ReLU layer "
                                                   f"{100 * start:.0f}% dead at start, "
                                                   f"{100 * end:.0f}% at the end")


def _dead_share(model, trace, state) -> float:
    import copy

    probe = copy.deepcopy(model)
    if state is not None:
        probe.load_state_dict(state)
    outputs = []
    hooks = [m.register_forward_hook(lambda mod, i, o: outputs.append(o))
             for m in probe.modules() if isinstance(m, torch.nn.ReLU)]
    probe.eval()
    with torch.no_grad():
        probe(trace.probe_in)
    for hook in hooks:
        hook.remove()
    return max(float((o <= 0).all(dim=0).float().mean()) for o in outputs)


def _diverged(trace, model) -> Manifest:
    bad = c.first_bad_step(trace.losses, 3.0)
    tail = trace.losses[len(trace.losses) // 2:]
    pairs = zip(tail, tail[1:], strict=False)
    swings = sum(abs(math.log(max(a, 1e-12) / max(b, 1e-12))) for a, b in pairs
                 if math.isfinite(a) and math.isfinite(b)) / max(1, len(tail) - 1)
    end = c.spread_ratio(trace.probe_out_end, trace.probe_in)
    ok = bad is not None or swings > 0.3 or not math.isfinite(end) or end < 0.05
    return Manifest(ok, bad if bad is not None else 0,
                    f"loss first non-finite or x3 at step {bad}, mean log-swing {swings:.2f}, "
                    f"output spread at end {end:.3g}")


def _low_mlp_digits_sgd() -> Setup:
    train, val = data.digits()
    model = models.MLPAutoencoder(64, 64, 8)
    return Setup(model, torch.optim.SGD(model.parameters(), lr=1e-4), data.sampler(train), c.mse,
                 validation=val[:128], probe=val[:256])


def _low_mlp_digits_adam() -> Setup:
    train, val = data.digits()
    model = models.MLPAutoencoder(64, 64, 8)
    return Setup(model, torch.optim.Adam(model.parameters(), lr=1e-5), data.sampler(train), c.mse,
                 validation=val[:128], probe=val[:256])


def _low_seq_adam() -> Setup:
    train, val = data.sequences()
    model = models.SequenceAutoencoder(24, 16, 4)
    return Setup(model, torch.optim.Adam(model.parameters(), lr=1e-6), data.sampler(train), c.mse,
                 validation=val[:128], probe=val[:128], latent="to_code", steps=200)


def _barely_moved(trace, model) -> Manifest:
    before = torch.cat([v.flatten() for v in trace.initial_state.values()])
    after = torch.cat([v.flatten() for v in trace.final_state.values()])
    moved = float((after - before).norm() / before.norm())
    ok = moved < 0.05
    return Manifest(ok, 0, f"parameters moved {100 * moved:.2f}% over the run")


def _frozen_encoder_not_in_optimizer() -> Setup:
    train, val = data.digits()
    model = models.MLPAutoencoder(64, 64, 8)
    opt = torch.optim.Adam(model.decoder.parameters(), lr=1e-3)
    return Setup(model, opt, data.sampler(train), c.mse, validation=val[:128], probe=val[:256])


def _frozen_decoder_conv_requires_grad() -> Setup:
    train, val = data.digits()
    model = models.ConvAutoencoder(8)
    model.decoder.requires_grad_(False)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    return Setup(model, opt, data.sampler(train), c.mse, validation=val[:128], probe=val[:256])


def _detached_code_seq() -> Setup:
    train, val = data.sequences()
    model = models.SequenceAutoencoder(24, 16, 4, detach_code=True)
    return Setup(model, torch.optim.Adam(model.parameters(), lr=3e-3), data.sampler(train), c.mse,
                 validation=val[:128], probe=val[:128], latent="to_code", steps=200)


def _part_unchanged(trace, model) -> Manifest:
    unchanged = [k for k in trace.initial_state
                 if torch.equal(trace.initial_state[k], trace.final_state[k])]
    share = len(unchanged) / len(trace.initial_state)
    return Manifest(share > 0.2, 0, f"{len(unchanged)} of {len(trace.initial_state)} tensors "
                                    "never changed")


SCENARIOS = [
    Scenario("lr_too_high/mlp_digits_sgd", "lr_too_high",
             "MLP, standardised digits, SGD+momentum lr=2",
             _high_mlp_digits_sgd, _diverged, quick=True, also_acceptable=("dead_relu",)),
    Scenario("lr_too_high/vae_binary_adam", "lr_too_high", "VAE, binary data, Adam lr=0.5",
             _high_vae_binary_adam, _diverged, also_acceptable=("posterior_collapse", "dead_relu")),
    Scenario("lr_too_high/conv_digits_adam", "lr_too_high", "conv AE, standardised digits, "
             "Adam lr=0.3", _high_conv_digits_adam, _diverged, also_acceptable=("dead_relu",)),
    Scenario("lr_too_high/mlp_digits_adam_kills_relus", "lr_too_high",
             "MLP, digits, Adam lr=0.05 (ReLUs die in the first steps)", _high_mlp_digits_adam,
             _diverged_or_dead, also_acceptable=("dead_relu",)),
    Scenario("lr_too_low/mlp_digits_adam", "lr_too_low", "MLP, digits, Adam lr=1e-5",
             _low_mlp_digits_adam, _barely_moved),
    Scenario("lr_too_low/mlp_digits_sgd", "lr_too_low", "MLP, digits, SGD lr=1e-4",
             _low_mlp_digits_sgd, _barely_moved, quick=True),
    Scenario("lr_too_low/seq_adam", "lr_too_low", "GRU sequence AE, sine waves, Adam lr=1e-6",
             _low_seq_adam, _barely_moved),
    Scenario("frozen_parameters/mlp_encoder_not_in_optimizer", "frozen_parameters",
             "MLP, digits, Adam over the decoder only", _frozen_encoder_not_in_optimizer,
             _part_unchanged, quick=True),
    Scenario("frozen_parameters/conv_decoder_requires_grad_off", "frozen_parameters",
             "conv AE, digits, decoder requires_grad off", _frozen_decoder_conv_requires_grad,
             _part_unchanged),
    Scenario("frozen_parameters/seq_detached_code", "frozen_parameters",
             "GRU sequence AE, code.detach()", _detached_code_seq, _part_unchanged),
]
