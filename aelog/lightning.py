"""PyTorch Lightning: ``Trainer(callbacks=[aelog.lightning.CollapseCallback()])``.

Lightning is an optional extra (``pip install aelog[lightning]``); importing this module
without it raises an ImportError that says so. Works with ``lightning`` (2.x) and with the
older ``pytorch_lightning`` package, whichever is installed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import torch

try:
    from lightning.pytorch.callbacks import Callback
except ImportError:  # pragma: no cover - depends on what the user installed
    try:
        from pytorch_lightning.callbacks import Callback
    except ImportError as error:
        raise ImportError(
            "aelog.lightning needs PyTorch Lightning: pip install 'aelog[lightning]'"
        ) from error

import aelog
from aelog.sdk.monitor import Monitor

__all__ = ["CollapseCallback"]


class CollapseCallback(Callback):
    """Watches the LightningModule being fitted, as ``aelog.watch`` would.

    Args:
        logdir: where runs go. Default: beside the Trainer's TensorBoard logger, in its
            ``version_N`` directory (aelog's tags then show in the same TensorBoard run),
            else ``<default_root_dir>/aelog``.
        run_name: default: the logger's version directory name.
        **watch_options: any other ``aelog.watch`` keyword (``latent``, ``tags``,
            ``log_every``, ``on_collapse``, ...).

    The optimizers are the Trainer's (all of them: a step ends once each has stepped).
    ``training_step`` may call submodules (``self.encoder(x)``) rather than ``self(x)``:
    each training batch counts as one forward, and the reconstruction is then the last
    layer output the size of the batch's input.

    Example::

        trainer = Trainer(max_epochs=5, callbacks=[CollapseCallback(tags={"team": "vision"})])
        trainer.fit(model, loader)
    """

    def __init__(self, *, logdir: str | os.PathLike | None = None, run_name: str | None = None,
                 **watch_options: object) -> None:
        super().__init__()
        self._logdir = logdir
        self._run_name = run_name
        self._watch_options = watch_options
        self.monitor: Monitor | None = None

    def on_fit_start(self, trainer, pl_module) -> None:
        logdir, run_name = self._location(trainer)
        self.monitor = aelog.watch(pl_module, list(trainer.optimizers), logdir=logdir,
                                   run_name=run_name, **self._watch_options)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        inputs = batch_input(batch)
        if self.monitor is not None and inputs is not None:
            self.monitor.training_batch_started(inputs)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.monitor is not None:
            self.monitor.training_batch_ended()

    def on_fit_end(self, trainer, pl_module) -> None:
        self._close()

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        self._close(measure_end=isinstance(exception, KeyboardInterrupt))

    def _close(self, measure_end: bool = True) -> None:
        if self.monitor is not None:
            self.monitor.close(measure_end=measure_end)

    def _location(self, trainer) -> tuple[str, str | None]:
        if self._logdir is not None:
            return os.fspath(self._logdir), self._run_name
        for logger in getattr(trainer, "loggers", []) or []:
            if type(logger).__name__ == "TensorBoardLogger":
                parent, version = os.path.split(os.path.normpath(logger.log_dir))
                return parent, self._run_name or version
        return os.path.join(trainer.default_root_dir, "aelog"), self._run_name


def batch_input(batch: object) -> torch.Tensor | None:
    """The model input in a batch: the tensor itself, or the first one in a tuple or dict."""
    if isinstance(batch, torch.Tensor):
        return batch
    if isinstance(batch, Mapping):
        batch = list(batch.values())
    if isinstance(batch, Sequence) and not isinstance(batch, (str, bytes)):
        for item in batch:
            found = batch_input(item)
            if found is not None:
                return found
    return None
