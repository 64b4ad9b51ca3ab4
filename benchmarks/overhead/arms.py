"""One object per way of logging a training loop: bare, aelog, and each peer.

Every arm owns its own copy of the model (same seed) and optimizer, and trains it one step
at a time on the batch it is given, so the timing loop can interleave arms in short blocks.
Peers log what people write by hand or what their docs suggest: histograms of every
parameter and gradient (TensorBoard, wandb) or Cockpit's "economy" instruments.
"""

from __future__ import annotations

import os
import time

import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.overhead.workloads import BATCH_SIZE, LEARNING_RATE

STEADY_FROM = 106
"""aelog logs densely for the first 100 steps by design (its last dense point falls at step
104 at the latest, where the alignment to multiples of 8 puts it); its budget governs the
intervals after that point, so the budgeted part starts after it and the step after it."""
PEER_DEFAULT_EVERY = 100
"""peers' interval at default settings: every 100 steps (wandb.watch's own default is 1000)."""


def directory_bytes(path: str) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            total += os.path.getsize(os.path.join(root, name))
    return total


class Arm:
    """Bare training: zero_grad, forward, MSE, backward, Adam step."""

    name = "bare"
    label = "bare loop"
    starts_helpers = False
    """the tool runs processes of its own beside training (their CPU time is counted)."""

    def __init__(self, model: nn.Module, workdir: str, every: int | None) -> None:
        self.model = model
        self.optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
        self.workdir = os.path.join(workdir, self.name)
        self.every = every
        self.steps = 0
        self._step_started: float | None = None
        self.own_seconds = 0.0
        """time spent inside this arm's own steps: its clock while others run between."""

    def timed_step(self, x: torch.Tensor) -> float:
        """One training step; returns its wall time and adds it to this arm's own clock."""
        started = self._step_started = time.perf_counter()
        try:
            self.step(x)
        finally:
            self._step_started = None
        elapsed = time.perf_counter() - started
        self.own_seconds += elapsed
        return elapsed

    def own_clock(self) -> float:
        """Seconds this arm has trained: what a clock would read were it running alone.

        Read from inside a step, it includes that step's time so far.
        """
        if self._step_started is None:
            return self.own_seconds
        return self.own_seconds + (time.perf_counter() - self._step_started)

    def step(self, x: torch.Tensor) -> None:
        self.optimizer.zero_grad()
        loss = F.mse_loss(self.model(x), x)
        loss.backward()
        self.optimizer.step()
        self.steps += 1

    def interval(self) -> int:
        return self.every or PEER_DEFAULT_EVERY

    def logged_steps(self) -> set[int]:
        return set()

    def headline_only(self) -> int | None:
        """Points that measured the headline alone (aelog's); None for other tools."""
        return None

    def own_account(self) -> float | None:
        """The share of its training time the tool itself says logging took from step
        STEADY_FROM on, where it keeps such an account (aelog's cadence does)."""
        return None

    def series(self) -> int:
        """How many series one logging step records (scalars or histograms)."""
        return 0

    def output_bytes(self) -> int:
        return directory_bytes(self.workdir) if os.path.isdir(self.workdir) else 0

    def close(self) -> None:
        pass


class BareControl(Arm):
    """A second bare arm: the spread between two identical loops is the noise floor."""

    name = "bare_control"
    label = "bare loop again (noise floor)"


class AelogArm(Arm):
    name = "aelog"

    def __init__(self, model: nn.Module, workdir: str, every: int | None) -> None:
        import aelog

        super().__init__(model, workdir, every)
        self.monitor = aelog.watch(model, self.optimizer, logdir=self.workdir, run_name="run",
                                   log_every=every)
        # The timing loop interleaves arms in blocks; the cadence budgets logging against
        # this loop's own step time, as it would were this loop training alone.
        self.monitor.cadence.clock = self.own_clock
        self.label = "aelog.watch (default cadence)" if every is None else (
            f"aelog.watch(log_every={every})")
        self._account_from: tuple[float, float] | None = None

    def timed_step(self, x: torch.Tensor) -> float:
        if self.steps == STEADY_FROM:
            self._account_from = (self._books(), self.own_seconds)
        return super().timed_step(x)

    def own_account(self) -> float | None:
        if self._account_from is None or self.own_seconds <= self._account_from[1]:
            return None
        logging, started = self._account_from
        return (self._books() - logging) / (self.own_seconds - started)

    def _books(self) -> float:
        """What the cadence counts as logging's cost so far: the logging steps it measured
        and the hooks' fixed share of every step."""
        cadence = self.monitor.cadence
        return cadence.logging_seconds + cadence.quiet_step_seconds * self.steps

    def headline_only(self) -> int | None:
        return self.monitor.cadence.headline_only

    def logged_steps(self) -> set[int]:
        run = self.monitor.run_data()
        steps: set[int] = set()
        for series in run.signals.values():
            steps.update(series.steps.tolist())
        return steps

    def series(self) -> int:
        run = self.monitor.run_data()
        return len(run.signals) + sum(len(signals) for signals in run.layers.values())

    def close(self) -> None:
        self.monitor.close()


class AelogAtPeerInterval(AelogArm):
    """aelog on the peers' own schedule (``log_every=100``): like for like with them,
    where the default cadence logs ~30 times in the first 100 steps alone."""

    name = "aelog_peer_interval"

    def __init__(self, model: nn.Module, workdir: str, every: int | None) -> None:
        super().__init__(model, workdir, every or PEER_DEFAULT_EVERY)


class TensorBoardHistograms(Arm):
    """``SummaryWriter.add_histogram`` of every parameter and gradient, plus the loss."""

    name = "tensorboard"

    def __init__(self, model: nn.Module, workdir: str, every: int | None) -> None:
        from torch.utils.tensorboard import SummaryWriter

        super().__init__(model, workdir, every)
        self.writer = SummaryWriter(self.workdir)
        self.label = f"SummaryWriter histograms every {self.interval()}"

    def step(self, x: torch.Tensor) -> None:
        step = self.steps
        self.optimizer.zero_grad()
        loss = F.mse_loss(self.model(x), x)
        loss.backward()
        if step % self.interval() == 0:
            self.writer.add_scalar("loss", loss.item(), step)
            for name, param in self.model.named_parameters():
                self.writer.add_histogram(name, param, step)
                self.writer.add_histogram(f"{name}.grad", param.grad, step)
        self.optimizer.step()
        self.steps += 1

    def logged_steps(self) -> set[int]:
        return set(range(0, self.steps, self.interval()))

    def series(self) -> int:
        return 2 * len(list(self.model.parameters())) + 1

    def close(self) -> None:
        self.writer.close()


class WandbWatch(Arm):
    """``wandb.watch(model, log="all")`` offline, and ``wandb.log`` of the loss."""

    name = "wandb"
    starts_helpers = True  # wandb-core takes the histograms, wandb-symon samples the system

    def __init__(self, model: nn.Module, workdir: str, every: int | None) -> None:
        import wandb

        super().__init__(model, workdir, every)
        os.makedirs(self.workdir, exist_ok=True)
        self.run = wandb.init(mode="offline", dir=self.workdir, project="aelog-overhead",
                              reinit="finish_previous")
        wandb.watch(model, log="all", log_freq=self.interval())
        self.label = f'wandb.watch(log="all", log_freq={self.interval()})'

    def step(self, x: torch.Tensor) -> None:
        step = self.steps
        self.optimizer.zero_grad()
        loss = F.mse_loss(self.model(x), x)
        loss.backward()
        self.optimizer.step()
        if step % self.interval() == 0:
            self.run.log({"loss": loss.item()}, step=step)
        self.steps += 1

    def logged_steps(self) -> set[int]:
        return set(range(0, self.steps, self.interval()))

    def series(self) -> int:
        return 2 * len(list(self.model.parameters())) + 1

    def close(self) -> None:
        import wandb

        wandb.unwatch(self.model)
        self.run.finish()


class CockpitEconomy(Arm):
    """Cockpit's "economy" instruments (gradient tests, histograms, alpha, ...)."""

    name = "cockpit"

    def __init__(self, model: nn.Module, workdir: str, every: int | None) -> None:
        from backpack import extend
        from cockpit import Cockpit
        from cockpit.utils import schedules
        from cockpit.utils.configuration import configuration

        super().__init__(extend(model), workdir, every)
        self.loss_function = extend(nn.MSELoss())
        schedule = schedules.linear(interval=self.interval())
        self.quantities = configuration("economy", track_schedule=schedule)
        self.cockpit = Cockpit(self.model.parameters(), quantities=self.quantities)
        self.label = f'Cockpit "economy" every {self.interval()}'

    def step(self, x: torch.Tensor) -> None:
        step = self.steps
        self.optimizer.zero_grad()
        output = self.model(x)
        loss = self.loss_function(output, x)
        losses = ((output - x) ** 2).flatten(1).mean(1)
        info = {"batch_size": BATCH_SIZE, "individual_losses": losses, "loss": loss,
                "optimizer": self.optimizer}
        with self.cockpit(step, info=info):
            loss.backward(create_graph=self.cockpit.create_graph(step))
        self.optimizer.step()
        self.steps += 1

    def logged_steps(self) -> set[int]:
        return set(range(0, self.steps, self.interval()))

    def series(self) -> int:
        return len(self.quantities)

    def close(self) -> None:
        os.makedirs(self.workdir, exist_ok=True)
        self.cockpit.write(os.path.join(self.workdir, "cockpit"))


ARMS = {arm.name: arm for arm in (Arm, BareControl, AelogArm, AelogAtPeerInterval,
                                  TensorBoardHistograms, WandbWatch, CockpitEconomy)}
DEFAULT_ONLY = ("aelog_peer_interval",)
"""arms that would repeat another when every arm logs every step."""
PEERS = ("tensorboard", "wandb", "cockpit")
