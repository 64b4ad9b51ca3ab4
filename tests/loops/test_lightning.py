"""PyTorch Lightning: one callback in Trainer(callbacks=[...]), runs beside the Trainer's
TensorBoard logs, training steps that call submodules directly, Lightning's own precision,
clipping and accumulation. Skipped when Lightning is not installed (an optional extra)."""

from __future__ import annotations

import os
import warnings

import pytest
import torch
from loop_fixtures import TinyAE, digits, mse, series

try:
    import lightning.pytorch as pl
    from lightning.pytorch.loggers import TensorBoardLogger
except Exception as error:  # noqa: BLE001 - missing, or broken by another package
    pytest.skip(f"PyTorch Lightning is not importable ({error})", allow_module_level=True)

import aelog
from aelog.lightning import CollapseCallback, batch_input
from aelog.logfile import format as fmt
from aelog.logfile.runs import load_runs


class SubmoduleAE(pl.LightningModule):
    """training_step calls the encoder and decoder itself; forward is never used."""

    def __init__(self, lr: float = 1e-2) -> None:
        super().__init__()
        self.encoder = TinyAE().encoder
        self.decoder = TinyAE().decoder
        self.lr = lr
        self.losses: list[float] = []

    def training_step(self, batch, batch_idx):
        (x,) = batch
        loss = mse(self.decoder(self.encoder(x)), x)
        self.losses.append(float(loss.detach()))
        return loss

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


class TwoOptimizerAE(pl.LightningModule):
    """Manual optimisation with separate encoder and decoder optimizers; uses self(x)."""

    def __init__(self) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.ae = TinyAE()

    def forward(self, x):
        return self.ae(x)

    def training_step(self, batch, batch_idx):
        (x,) = batch
        encoder_opt, decoder_opt = self.optimizers()
        encoder_opt.zero_grad()
        decoder_opt.zero_grad()
        self.manual_backward(mse(self(x), x))
        encoder_opt.step()
        decoder_opt.step()

    def configure_optimizers(self):
        return (torch.optim.Adam(self.ae.encoder.parameters(), lr=1e-2),
                torch.optim.SGD(self.ae.decoder.parameters(), lr=0.1))


def _loader(batch: int = 32):
    dataset = torch.utils.data.TensorDataset(digits(256))
    return torch.utils.data.DataLoader(dataset, batch_size=batch, shuffle=False)


def _trainer(tmp_path, callback, *, steps: int, logger=True, **options):
    return pl.Trainer(
        accelerator="cpu", devices=1, max_steps=steps, enable_progress_bar=False,
        enable_model_summary=False, enable_checkpointing=False, num_sanity_val_steps=0,
        log_every_n_steps=1,
        logger=TensorBoardLogger(str(tmp_path)) if logger else False,
        default_root_dir=str(tmp_path), callbacks=[callback], **options,
    )


def test_callback_logs_beside_the_tensorboard_logger_with_submodule_calls(tmp_path):
    torch.manual_seed(0)
    model = SubmoduleAE()
    callback = CollapseCallback(log_every=1, on_collapse=None)
    trainer = _trainer(tmp_path, callback, steps=6)
    trainer.fit(model, _loader())
    log_dir = trainer.logger.log_dir
    assert callback.monitor.run_dir == log_dir and callback.monitor.closed
    events = [name for name in os.listdir(log_dir) if "tfevents" in name]
    assert len(events) == 2  # Lightning's own file and aelog's, one TensorBoard run
    (run,) = load_runs(log_dir)
    assert [s for s, _ in series(run, fmt.RECON_MSE)] == list(range(6))
    # the reconstruction was found among the layers: our error is the step's own loss
    assert [v for _, v in series(run, fmt.RECON_MSE)] == pytest.approx(model.losses, rel=1e-5)
    assert len(series(run, fmt.CODE_EFFECTIVE_RANK)) == 6
    assert len(series(run, fmt.GRAD_NORM)) == 6 and min(series(run, fmt.UPDATE_RATIO))[1] > 0
    assert run.metadata["model"]["latent_module"] == "encoder"
    assert not [r for r in run.records if r.get("kind") == "probe_failed"]
    assert aelog.diagnose(log_dir)[0].status in ("healthy", "at_risk", "collapsed")


def test_callback_with_two_optimizers_and_manual_optimisation(tmp_path):
    torch.manual_seed(0)
    callback = CollapseCallback(log_every=1, on_collapse=None)
    trainer = _trainer(tmp_path, callback, steps=8, logger=False)
    trainer.fit(TwoOptimizerAE(), _loader())
    assert callback.monitor.run_dir.startswith(os.path.join(str(tmp_path), "aelog"))
    run = callback.monitor.run_data()
    # Lightning counts each optimizer's step in max_steps: 8 steps = 4 training steps
    assert [s for s, _ in series(run, fmt.UPDATE_RATIO)] == [0, 1, 2, 3]
    assert run.layer_signal("ae.encoder.0", fmt.LAYER_UPDATE_RATIO).values.min() > 0
    assert len(series(run, fmt.IDENTITY_RATIO)) >= 1  # self(x) is used: the check can replay
    assert run.metadata["optimizer"]["optimizers"] == ["Adam", "SGD"]


def test_training_with_the_callback_is_bit_identical(tmp_path):
    def fit(callbacks):
        torch.manual_seed(0)
        model = TwoOptimizerAE()
        trainer = pl.Trainer(accelerator="cpu", devices=1, max_steps=8, logger=False,
                             enable_progress_bar=False, enable_model_summary=False,
                             enable_checkpointing=False, callbacks=callbacks,
                             default_root_dir=str(tmp_path))
        trainer.fit(model, _loader())
        return model.state_dict()

    plain = fit([])
    watched = fit([CollapseCallback(log_every=1, identity_every=1, on_collapse=None)])
    assert all(torch.equal(plain[name], watched[name]) for name in plain)


def test_callback_under_bf16_with_clipping_and_accumulation(tmp_path):
    torch.manual_seed(0)
    model = SubmoduleAE(lr=1e-3)
    callback = CollapseCallback(log_every=1, on_collapse=None, run_name="amp")
    trainer = _trainer(tmp_path, callback, steps=4, precision="bf16-mixed",
                       gradient_clip_val=0.01, accumulate_grad_batches=2)
    trainer.fit(model, _loader())
    run = callback.monitor.run_data()
    assert callback.monitor.run_name == "amp"
    assert [s for s, _ in series(run, fmt.GRAD_NORM)] == [0, 1, 2, 3]  # optimizer steps
    assert [v for _, v in series(run, fmt.GRAD_NORM)] == pytest.approx([0.01] * 4, rel=1e-3)
    assert {v for _, v in series(run, fmt.GRAD_CLIPPED)} == {1.0}
    assert min(v for _, v in series(run, fmt.GRAD_NORM_BEFORE_CLIP)) > 0.01
    assert {v for _, v in series(run, fmt.SKIPPED_STEPS)} == {0.0}
    assert len(model.losses) == 8  # two micro-batches per step


def test_batch_input_finds_the_tensor():
    x = torch.ones(2, 3)
    assert batch_input(x) is x
    assert batch_input((x, torch.zeros(2))) is x
    assert batch_input([{"image": x, "label": 3}]) is x
    assert batch_input({"meta": "a", "x": x}) is x
    assert batch_input(["no tensor"]) is None


class ForwardAE(pl.LightningModule):
    """training_step calls self(x), as most LightningModules do."""

    def __init__(self) -> None:
        super().__init__()
        self.ae = TinyAE()

    def forward(self, x):
        return self.ae(x)

    def training_step(self, batch, batch_idx):
        (x,) = batch
        return mse(self(x), x)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-2)


def test_the_end_of_a_lightning_run_is_measured_at_fit_end(tmp_path):
    torch.manual_seed(0)
    callback = CollapseCallback(on_collapse=None)  # the default cadence
    trainer = _trainer(tmp_path, callback, steps=38)
    trainer.fit(ForwardAE(), _loader())
    (run,) = load_runs(trainer.logger.log_dir)
    assert run.trained["steps"] == run.trained["final_step"] == 38
    steps = [s for s, _ in series(run, fmt.RELATIVE_ERROR)]
    assert steps[-2:] == [36, 38]  # step 37, the last trained, was not a logging step


def test_a_lightning_run_whose_forward_is_never_called_is_not_replayed(tmp_path):
    """training_step calls the submodules and forward() does not exist: there is no call
    to replay, so the end is what the last logging step saw, and nothing warns."""
    torch.manual_seed(0)
    callback = CollapseCallback(on_collapse=None)
    trainer = _trainer(tmp_path, callback, steps=37)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.fit(SubmoduleAE(), _loader())
    assert not [w for w in caught if "aelog" in str(w.message)]
    (run,) = load_runs(trainer.logger.log_dir)
    assert run.trained["steps"] == 37 and "final_step" not in run.trained
