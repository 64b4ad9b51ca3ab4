"""Every model, output and bottleneck kind the SDK promises: real small training runs."""

from __future__ import annotations

import warnings

import pytest
import torch
from sdk_fixtures import (
    MLPAE,
    VAE,
    Conv1dSequenceAE,
    ConvAE,
    DataclassAE,
    DictAE,
    EncoderPairVAE,
    NamespaceAE,
    PackedEncoderAE,
    RecurrentAE,
    TupleAE,
    digits,
    sequences,
    train,
    unnamed_mlp,
)
from torch import nn

import aelog
from aelog.logfile import format as fmt
from aelog.logfile.runs import load_runs
from aelog.sdk.probe_guard import AelogWarning

HEADLINE = (
    fmt.RELATIVE_ERROR, fmt.OUTPUT_VARIANCE_RATIO, fmt.CODE_EFFECTIVE_RANK, fmt.GRAD_NORM,
    fmt.UPDATE_RATIO, fmt.INPUT_STD, fmt.LR,
)
SLOW_SIGNAL_STEPS = [0, 1, 2, 6, 10, 14, 18, 22, 25]
"""of 25 logged steps and the end (measured at close, after step 24's update), where the
slow signals (the input batch's spread and duplicates, the data's spectrum) are read."""
NEEDS_A_STEP = (fmt.GRAD_NORM, fmt.UPDATE_RATIO)
"""signals of an optimizer step: not in the end-of-run measurement."""


def _run(tmp_path, model, data, steps=25, log_every=1, **watch_kwargs):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    with aelog.watch(model, optimizer, logdir=tmp_path, run_name="run", on_collapse=None,
                     log_every=log_every, **watch_kwargs) as monitor:
        train(model, optimizer, data, steps)
    (run,) = load_runs(str(tmp_path))
    return monitor, run


@pytest.mark.parametrize(
    "model, latent_module, latent_size",
    [
        (MLPAE(), "encoder", 8),
        (TupleAE(), "encoder", 8),
        (DictAE(), "encoder", 8),
        (DataclassAE(), "encoder", 8),
        (NamespaceAE(), "encoder", 8),
    ],
    ids=["tensor", "tuple", "dict", "dataclass", "attributes"],
)
def test_output_kinds(tmp_path, model, latent_module, latent_size):
    torch.manual_seed(0)
    _, run = _run(tmp_path, model, digits())
    for signal in HEADLINE:
        assert len(run.signal(signal)) == (25 if signal in NEEDS_A_STEP else 26), signal
    for signal in (fmt.INPUT_BATCH_VARIANCE, fmt.INPUT_DUPLICATE_FRACTION, fmt.DATA_EFFECTIVE_RANK):
        assert run.signal(signal).steps.tolist() == SLOW_SIGNAL_STEPS, signal
    model_info = run.metadata["model"]
    assert model_info["latent_module"] == latent_module
    assert model_info["latent_size"] == latent_size
    assert run.metadata["config"]["architecture"] == "mlp"
    error = run.signal(fmt.RELATIVE_ERROR).values
    assert error[-1] < error[0]  # it trained, and we measured it
    assert run.layer_signal("encoder.0", fmt.LAYER_GRAD_NORM) is not None
    assert run.layer_signal("encoder.1", fmt.LAYER_DEAD_FRACTION) is not None  # the ReLU


@pytest.mark.parametrize("model", [VAE(), EncoderPairVAE()], ids=["tuple_vae", "encoder_pair"])
def test_vaes_log_kl_and_active_units(tmp_path, model):
    torch.manual_seed(0)
    _, run = _run(tmp_path, model, digits())
    assert run.metadata["model"]["is_vae"] is True
    assert run.metadata["model"]["latent_module"] in ("mu", "encoder")
    assert run.metadata["config"]["latent_size"] == model.decoder[0].in_features
    kl = run.signal(fmt.KL_PER_DIM)
    assert kl is not None and len(kl) == 26 and (kl.values >= 0).all()
    assert run.signal(fmt.KL_MAX_DIM).values[-1] >= kl.values[-1]
    assert 0 <= run.signal(fmt.ACTIVE_UNITS_FRACTION).values[-1] <= 1


def test_conv_autoencoder_with_batchnorm(tmp_path):
    torch.manual_seed(0)
    images = digits().reshape(-1, 1, 8, 8)
    _, run = _run(tmp_path, ConvAE(), images)
    assert run.metadata["config"]["architecture"] == "conv"
    assert run.metadata["model"]["latent_size"] == 4 * 2 * 2
    assert run.metadata["model"]["output_activation"] == "Sigmoid"
    assert run.layer_signal("encoder.1", fmt.LAYER_ACTIVATION_STD) is not None  # BatchNorm
    assert run.layer_signal("decoder.4", fmt.LAYER_SATURATED_FRACTION) is not None


@pytest.mark.parametrize("cell", [nn.GRU, nn.LSTM], ids=["gru", "lstm"])
def test_recurrent_autoencoders_find_their_code(tmp_path, cell):
    torch.manual_seed(0)
    _, run = _run(tmp_path, RecurrentAE(cell), sequences())
    assert run.metadata["config"]["architecture"] == "recurrent"
    assert run.metadata["model"]["latent_module"] == "to_code"  # the narrowest output
    assert run.metadata["model"]["latent_size"] == 4
    assert run.layer_signal("rnn_in", fmt.LAYER_GRAD_NORM) is not None
    assert run.signal(fmt.CODE_EFFECTIVE_RANK).values[-1] > 1


def test_conv1d_sequence_autoencoder(tmp_path):
    torch.manual_seed(0)
    _, run = _run(tmp_path, Conv1dSequenceAE(), sequences().transpose(1, 2).contiguous())
    assert run.metadata["model"]["latent_module"] == "enc"
    assert run.metadata["model"]["latent_size"] == 2 * 6
    assert run.signal(fmt.RELATIVE_ERROR) is not None


def test_narrowest_output_is_the_bottleneck(tmp_path):
    torch.manual_seed(0)
    _, run = _run(tmp_path, unnamed_mlp(latent=6), digits())
    assert run.metadata["model"]["latent_module"] == "2"
    assert run.metadata["model"]["latent_size"] == 6
    bound = run.signal(fmt.RANK_K_ERROR).values  # best rank-6 linear code on each batch
    assert ((0 < bound) & (bound < 1)).all()


class WideEncoderThenHead(nn.Module):
    """``self.encoder`` ends wide; a separate layer squeezes it to the code, as many do."""

    def __init__(self, latent: int = 6) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(64, 256), nn.ReLU())
        self.to_latent = nn.Linear(256, latent)
        self.decoder = nn.Sequential(nn.Linear(latent, 256), nn.ReLU(), nn.Linear(256, 64),
                                     nn.Sigmoid())

    def forward(self, x):
        return self.decoder(self.to_latent(self.encoder(x)))


@pytest.mark.parametrize("latent", [6, 128], ids=["narrow", "wider_than_the_input"])
def test_a_wide_encoder_module_is_not_the_code_when_a_narrower_layer_follows(tmp_path, latent):
    torch.manual_seed(0)
    _, run = _run(tmp_path, WideEncoderThenHead(latent), digits())
    assert run.metadata["model"]["latent_module"] == "to_latent"
    assert run.metadata["model"]["latent_size"] == latent


@pytest.mark.parametrize("by_name", [True, False], ids=["dotted_name", "module"])
def test_latent_named_by_the_user(tmp_path, by_name):
    torch.manual_seed(0)
    model = MLPAE()
    latent = "encoder.0" if by_name else model.encoder[0]
    _, run = _run(tmp_path, model, digits(), latent=latent)
    assert run.metadata["model"]["latent_module"] == "encoder.0"
    assert run.metadata["model"]["latent_size"] == 32


def test_unknown_latent_name_fails_at_watch(tmp_path):
    with pytest.raises(ValueError, match="not a submodule"):
        aelog.watch(MLPAE(), logdir=tmp_path, latent="encoder.9")


def test_denoising_target_callable(tmp_path):
    torch.manual_seed(0)
    data = digits()
    model = MLPAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    noise = torch.Generator().manual_seed(3)
    clean = None

    with aelog.watch(model, optimizer, logdir=tmp_path, run_name="r", on_collapse=None,
                     target=lambda: clean):
        for step in range(25):
            clean = data[(step * 64) % 192 : (step * 64) % 192 + 64]
            noisy = clean + 0.3 * torch.randn(clean.shape, generator=noise)
            optimizer.zero_grad()
            loss = ((model(noisy) - clean) ** 2).mean()
            loss.backward()
            optimizer.step()
    (run,) = load_runs(str(tmp_path))
    # target statistics are those of the clean images (in [0, 1]), not of the noisy input.
    assert run.signal(fmt.TARGET_MIN).values.min() >= 0.0
    assert run.signal(fmt.TARGET_MAX).values.max() <= 1.0
    assert run.signal(fmt.INPUT_STD).values[0] > run.signal(fmt.TARGET_STD).values[0]


@pytest.mark.parametrize("with_target", [False, True], ids=["two_lines", "target"])
def test_a_denoising_loop_without_target_is_told_to_pass_it(tmp_path, with_target):
    # the two default lines on a denoising loop: what aelog measures is against the noisy
    # input, and the loss's gradient says the loss compares something else
    torch.manual_seed(0)
    data, model = digits(), MLPAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    noise = torch.Generator().manual_seed(3)
    clean = None
    extra = {"target": lambda: clean} if with_target else {}
    with aelog.watch(model, optimizer, logdir=tmp_path, run_name="r", on_collapse=None,
                     log_every=5, **extra):
        for step in range(60):
            clean = data[(step * 64) % 192 : (step * 64) % 192 + 64]
            noisy = clean + 0.3 * torch.randn(clean.shape, generator=noise)
            optimizer.zero_grad()
            ((model(noisy) - clean) ** 2).sum(1).mean().backward()
            optimizer.step()
    (diagnosis,) = aelog.diagnose(str(tmp_path))
    told = [n for n in diagnosis.notes if "something other than the model's input" in n]
    assert bool(told) is not with_target, diagnosis.notes
    if told:
        assert "pass target=" in told[0]


class KeywordAE(MLPAE):
    def forward(self, scale, *, x):
        return self.decoder(self.encoder(x * scale))


def test_input_passed_by_keyword(tmp_path):
    torch.manual_seed(0)
    model = KeywordAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    data = digits(128)
    with aelog.watch(model, optimizer, logdir=tmp_path, log_every=1, identity_every=1,
                     on_collapse=None) as monitor:
        for _ in range(3):
            optimizer.zero_grad()
            ((model(1.0, x=data) - data) ** 2).mean().backward()
            optimizer.step()
    run = monitor.run_data()
    # replayed with the keyword input, at each step and at the end
    assert len(run.signal(fmt.IDENTITY_RATIO)) == 4
    assert run.metadata["config"]["input_size"] == 64


class BatchDictAE(MLPAE):
    """Takes the loader's batch dict whole, as many data pipelines hand it over."""

    def forward(self, batch):
        return {"x_hat": self.decoder(self.encoder(batch["image"] * batch["mask"]))}


def _train_on_batch_dicts(model, optimizer, data, steps: int, seen: list) -> None:
    for step in range(steps):
        x = data[(step * 32) % 96:][:32]
        batch = {"index": torch.arange(32), "image": x, "mask": torch.ones_like(x)}
        optimizer.zero_grad()
        ((model(batch)["x_hat"] - x) ** 2).mean().backward()
        optimizer.step()
        seen.append(sorted(batch) == ["image", "index", "mask"] and batch["image"] is x)


def test_a_batch_dict_is_read_by_its_input_entry_and_left_as_it_was(tmp_path):
    """``model(batch)`` with a dict: measured on its ``image`` entry (not the integer
    ``index`` before it), the probes replay copies of the dict, and training is unchanged."""
    data = digits(128)
    torch.manual_seed(0)
    bare = BatchDictAE()
    bare_optimizer = torch.optim.Adam(bare.parameters(), lr=1e-2)
    _train_on_batch_dicts(bare, bare_optimizer, data, 12, [])
    torch.manual_seed(0)
    model = BatchDictAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    seen: list[bool] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with aelog.watch(model, optimizer, logdir=tmp_path, log_every=1, identity_every=1,
                         on_collapse=None) as monitor:
            _train_on_batch_dicts(model, optimizer, data, 12, seen)
    assert not [w for w in caught if issubclass(w.category, AelogWarning)]
    assert all(seen)
    run = monitor.run_data()
    for signal in (fmt.RELATIVE_ERROR, fmt.OUTPUT_VARIANCE_RATIO, fmt.IDENTITY_RATIO,
                   fmt.INPUT_STD):
        assert len(run.signal(signal)) == 13, signal  # every step, and the end
    assert run.metadata["config"]["input_size"] == 64
    for trained, untouched in zip(model.parameters(), bare.parameters(), strict=True):
        assert torch.equal(trained, untouched)


def test_initialisation_is_described_against_pytorch_defaults(tmp_path):
    torch.manual_seed(0)
    model = MLPAE()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Linear):
                module.weight.mul_(0.01)
        model.decoder[0].weight.fill_(0.5)
    monitor = aelog.watch(model, logdir=tmp_path, on_collapse=None)
    monitor.close()
    (run,) = load_runs(str(tmp_path))
    layers = {entry["name"]: entry for entry in run.metadata["model"]["layers"]}
    assert layers["encoder.0"]["weight_std_over_default"] == pytest.approx(0.01, rel=0.2)
    assert layers["encoder.0"]["identical_rows_fraction"] == 0.0
    assert layers["decoder.0"]["identical_rows_fraction"] == 1.0
    assert run.metadata["config"]["init"] == "constant"
    assert run.metadata["optimizer"] is None


def test_each_activation_layer_records_its_width(tmp_path):
    # dense layers count features, conv layers channels: what dead units leave of a layer
    _, mlp = _run(tmp_path / "mlp", MLPAE(), digits(), steps=3)
    widths = {a["name"]: a.get("units") for a in mlp.metadata["model"]["activations"]}
    assert widths == {"encoder.1": 32, "decoder.1": 32}
    _, conv = _run(tmp_path / "conv", ConvAE(), digits().reshape(-1, 1, 8, 8), steps=3)
    entries = {a["name"]: a for a in conv.metadata["model"]["activations"]}
    assert entries["encoder.2"]["units"] == 8 and entries["encoder.2"]["values_per_sample"] == 128
    assert entries["decoder.2"]["units"] == 8 and entries["decoder.4"]["units"] == 1


@pytest.mark.parametrize("bidirectional", [False, True], ids=["lstm", "bidirectional"])
def test_a_recurrent_encoder_over_packed_sequences_gives_its_code(tmp_path, bidirectional):
    # the module named encoder returns (PackedSequence, (h, c)): its final hidden state is
    # what it encodes, and the narrower layer after it is the code
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", AelogWarning)
        _, run = _run(tmp_path, PackedEncoderAE(bidirectional=bidirectional), sequences())
    assert run.metadata["model"]["latent_module"] == "to_code"
    assert run.metadata["model"]["latent_size"] == 4
    assert len(run.signal(fmt.CODE_EFFECTIVE_RANK)) == 26


class LossFirstAE(MLPAE):
    """Returns (loss, reconstruction): the loss first, as some codebases hand it back."""

    def forward(self, x):
        recon = self.decoder(self.encoder(x))
        return ((recon - x) ** 2).mean(), recon


def test_a_loss_returned_before_the_reconstruction_is_passed_over(tmp_path):
    torch.manual_seed(0)
    model = LossFirstAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    data = digits(128)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with aelog.watch(model, optimizer, logdir=tmp_path, log_every=1,
                         on_collapse=None) as monitor:
            for step in range(10):
                optimizer.zero_grad()
                model(data[(step % 2) * 64:][:64])[0].backward()
                optimizer.step()
    assert not [w for w in caught if issubclass(w.category, AelogWarning)]
    run = monitor.run_data()
    assert len(run.signal(fmt.RELATIVE_ERROR)) == 11 and len(run.signal(fmt.IDENTITY_RATIO))
