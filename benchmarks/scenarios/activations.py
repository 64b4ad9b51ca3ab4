"""Activation defects: dead ReLUs, saturated tanh/sigmoid units, an output activation (and
loss) that cannot reach the targets."""

from __future__ import annotations

import torch
from torch import nn

from benchmarks.scenarios import common as c
from benchmarks.scenarios import data, models
from benchmarks.scenarios.base import Manifest, Scenario, Setup


def _dead_code_mlp_digits() -> Setup:
    train, val = data.digits()
    model = models.MLPAutoencoder(64, 64, 8, code_act=nn.ReLU)
    with torch.no_grad():
        model.encoder[2].bias.fill_(-5.0)
    return Setup(model, torch.optim.Adam(model.parameters(), 1e-3), data.sampler(train), c.mse,
                 validation=val[:128], probe=val[:256])


def _dead_hidden_lowrank_sgd() -> Setup:
    train, val = data.low_rank()
    model = models.MLPAutoencoder(48, 64, 5)
    with torch.no_grad():
        model.encoder[0].bias.fill_(-20.0)
        model.decoder[0].bias.fill_(-20.0)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    return Setup(model, opt, data.sampler(train), c.mse, validation=val, probe=val)


def _dead_code_conv() -> Setup:
    train, val = data.digits()
    model = models.ConvAutoencoder(8, code_act=nn.ReLU)
    with torch.no_grad():
        model.encoder[6].bias.fill_(-3.0)
    return Setup(model, torch.optim.Adam(model.parameters(), 1e-3), data.sampler(train), c.mse,
                 validation=val[:128], probe=val[:256])


def _never_positive(trace, model) -> Manifest:
    """Share of ReLU units (after each nn.ReLU) that output 0 for every probe input."""
    dead, total = 0, 0
    outputs = []
    hooks = [m.register_forward_hook(lambda mod, i, o: outputs.append(o.detach()))
             for m in model.modules() if isinstance(m, nn.ReLU)]
    model.eval()
    with torch.no_grad():
        model(trace.probe_in)
    for h in hooks:
        h.remove()
    worst = 0.0
    for out in outputs:
        units = out.reshape(out.shape[0], out.shape[1], -1).amax(dim=2) if out.dim() > 2 else out
        share = float((units <= 0).all(dim=0).float().mean())
        worst = max(worst, share)
        dead += int((units <= 0).all(dim=0).sum())
        total += units.shape[1]
    return Manifest(worst >= 0.9, 0, f"worst ReLU layer {100 * worst:.0f}% dead, "
                                     f"{dead} of {total} ReLU units dead overall")


class FunctionalReluAE(nn.Module):
    """ReLUs called as F.relu in forward: no activation modules for aelog to hook."""

    def __init__(self, d: int, hidden: int, k: int) -> None:
        super().__init__()
        self.enc1, self.code = nn.Linear(d, hidden), nn.Linear(hidden, k)
        self.dec1, self.out = nn.Linear(k, hidden), nn.Linear(hidden, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = torch.relu(self.code(torch.relu(self.enc1(x))))
        return self.out(torch.relu(self.dec1(z)))


def _dead_functional_binary() -> Setup:
    train, val = data.binary()
    model = FunctionalReluAE(64, 64, 6)
    with torch.no_grad():
        model.code.bias.fill_(-4.0)
    return Setup(model, torch.optim.AdamW(model.parameters(), 1e-3), data.sampler(train), c.mse,
                 validation=val, probe=val, latent="code")


def _dead_functional(trace, model) -> Manifest:
    with torch.no_grad():
        code = torch.relu(model.code(torch.relu(model.enc1(trace.probe_in))))
    share = float((code <= 0).all(dim=0).float().mean())
    return Manifest(share >= 0.9, 0, f"{100 * share:.0f}% of code units 0 for every input")


def _tanh_raw_pixels() -> Setup:
    train, val = data.digits("raw")
    train, val = 16 * train, 16 * val  # 0..256, like unnormalised 8-bit pixels
    model = models.MLPAutoencoder(64, 64, 8, act=nn.Tanh)
    return Setup(model, torch.optim.Adam(model.parameters(), 1e-3), data.sampler(train), c.mse,
                 validation=val[:128], probe=val[:256])


def _sigmoid_code_scaled_lowrank() -> Setup:
    train, val = data.low_rank()
    train, val = 300 * train, 300 * val
    model = models.MLPAutoencoder(48, 32, 5, act=nn.Sigmoid, code_act=nn.Sigmoid)
    return Setup(model, torch.optim.Adam(model.parameters(), 1e-3), data.sampler(train), c.mse,
                 validation=val, probe=val)


def _saturated(trace, model) -> Manifest:
    first = model.encoder[0]
    with torch.no_grad():
        pre = first(trace.probe_in)
    act = model.encoder[1]
    values = act(pre)
    low, high = (-1.0, 1.0) if isinstance(act, nn.Tanh) else (0.0, 1.0)
    margin = 0.02 * (high - low)
    pinned = ((values <= low + margin) | (values >= high - margin)).float().mean(0) > 0.95
    share = float(pinned.float().mean())
    return Manifest(share >= 0.5, 0, f"{100 * share:.0f}% of first-layer units pinned at a limit")


def _sigmoid_standardised_digits() -> Setup:
    train, val = data.digits("standard")
    model = models.MLPAutoencoder(64, 64, 8, out_act=nn.Sigmoid)
    return Setup(model, torch.optim.Adam(model.parameters(), 1e-3), data.sampler(train), c.mse,
                 validation=val[:128], probe=val[:256])


def _relu_output_lowrank() -> Setup:
    train, val = data.low_rank()
    model = models.MLPAutoencoder(48, 32, 5, out_act=nn.ReLU)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    return Setup(model, opt, data.sampler(train), c.mse, validation=val, probe=val)


def _tanh_output_raw_seq() -> Setup:
    train, val = data.sequences()
    train, val = 4 * train, 4 * val
    model = models.SequenceAutoencoder(24, 16, 4)
    model.out = nn.Sequential(nn.Linear(16, 1), nn.Tanh())
    return Setup(model, torch.optim.Adam(model.parameters(), 3e-3), data.sampler(train), c.mse,
                 validation=val[:128], probe=val[:128], latent="to_code", steps=200)


def _out_of_reach(trace, model) -> Manifest:
    out, target = trace.probe_out_end.flatten(), trace.probe_in.flatten()
    low, high = float(out.min()), float(out.max())
    outside = float(((target < low - 0.05) | (target > high + 0.05)).float().mean())
    return Manifest(outside >= 0.2, 0, f"{100 * outside:.0f}% of target values outside the "
                                       f"outputs' range [{low:.2f}, {high:.2f}]")


SCENARIOS = [
    Scenario("dead_relu/mlp_digits_code_bias", "dead_relu",
             "MLP with ReLU code, digits, Adam, code bias -5", _dead_code_mlp_digits,
             _never_positive, quick=True),
    Scenario("dead_relu/lowrank_sgd_hidden_bias", "dead_relu",
             "MLP, low-rank data, SGD+momentum, hidden biases -20", _dead_hidden_lowrank_sgd,
             _never_positive),
    Scenario("dead_relu/conv_code_bias", "dead_relu", "conv AE with ReLU code, digits, Adam, "
             "code bias -3", _dead_code_conv, _never_positive),
    Scenario("dead_relu/functional_relu_binary_adamw", "dead_relu",
             "MLP with F.relu (no modules), binary data, AdamW, code bias -4",
             _dead_functional_binary, _dead_functional),
    Scenario("saturated_activation/tanh_raw_pixels_adam", "saturated_activation",
             "tanh MLP, unnormalised pixels 0..256, Adam", _tanh_raw_pixels, _saturated,
             quick=True),
    Scenario("saturated_activation/sigmoid_scaled_lowrank_adam", "saturated_activation",
             "sigmoid MLP, unnormalised low-rank data (x300), Adam",
             _sigmoid_code_scaled_lowrank, _saturated),
    Scenario("loss_mismatch/sigmoid_on_standardised_digits", "loss_mismatch",
             "MLP + sigmoid output, standardised digits, MSE, Adam",
             _sigmoid_standardised_digits, _out_of_reach, quick=True),
    Scenario("loss_mismatch/relu_output_lowrank_sgd", "loss_mismatch",
             "MLP + ReLU output, low-rank data (half negative), SGD+momentum",
             _relu_output_lowrank, _out_of_reach),
    Scenario("loss_mismatch/tanh_output_seq", "loss_mismatch",
             "GRU sequence AE + tanh output, waves of amplitude up to 6, Adam",
             _tanh_output_raw_seq, _out_of_reach),
]
