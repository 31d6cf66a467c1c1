"""Training as a generator of immutable snapshots, steerable between steps from another thread."""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Callable, Iterator

import torch

from vae_core.choices import check_choice
from vae_core.config import RunConfig
from vae_core.data import DataSplit
from vae_core.device import autocast, resolve_device
from vae_core.distributed import current_team
from vae_core.errors import VaeStudioError
from vae_core.memory import check_training_fits
from vae_core.models import LatentModel, build_model
from vae_core.optimizer import load_adam_state
from vae_core.seeds import derived_seed
from vae_core.training.budget import TimeBudget, step_budget
from vae_core.training.compiled import compiled_objective
from vae_core.training.ema import WeightAverage
from vae_core.training.heldout import HeldoutElbo, heldout_due, hold_out
from vae_core.training.schedules import BETA_SCHEDULES, LR_SCHEDULES, ScheduleClock
from vae_core.training.snapshot import (
    RunRecord,
    SnapshotInterval,
    TrainingDiverged,
    TrainingSnapshot,
    metrics_row,
)
from vae_core.training.trainer_parts import (
    OPTIMIZERS,
    Objective,
    complete_model_config,
    epoch_order,
)

# The snapshot's names stay importable from here, where most callers have always found them.
__all__ = [
    "Trainer",
    "TrainingDiverged",
    "TrainingSnapshot",
    "complete_model_config",
    "epoch_order",
    "metrics_row",
]


class Trainer:
    """Trains one model on one data split. `run()` yields a snapshot every `log_every` steps.

    Under torchrun each process trains the same model on its share of each batch (the process
    team of vae_core.distributed): `batch_size` is the batch of all processes together, the
    snapshots' figures are means over all of them, and any process's stop stops them all at
    the same step.

    `set_beta`, `set_learning_rate`, `set_log_every` and `stop` may be called from any thread;
    they take effect between steps. Pausing is the consumer's: it need only not ask for the next
    snapshot (the window's run job pauses, steps and continues so).
    """

    def __init__(
        self,
        config: RunConfig,
        data: DataSplit,
        device: torch.device | None = None,
        say: Callable[[str], None] | None = None,
    ):
        self.config = complete_model_config(config, data)
        train = self.config.train
        if train.batch_size < 1:
            raise VaeStudioError(f"batch size must be at least 1, got {train.batch_size}")
        if not train.lr > 0:
            raise VaeStudioError(f"learning rate must be positive, got {train.lr}")
        if train.beta < 0:
            raise VaeStudioError(f"beta must not be negative, got {train.beta}")
        check_choice("beta schedule", train.beta_schedule, BETA_SCHEDULES)
        check_choice("learning-rate schedule", train.lr_schedule, LR_SCHEDULES)
        self.device = device or resolve_device(train.device)
        check_training_fits(self.config, self.device)
        # The forward pass's precision, a context factory (a step taken apart runs its forward too).
        self.autocast = autocast(self.device, train.precision)
        torch.manual_seed(train.seed)  # network initialisation
        self.model: LatentModel = build_model(self.config.model).to(self.device)
        self._whole_train = data.train
        train_part, heldout = hold_out(data.train, self.config)
        self.data = train_part.to(self.device)
        self.heldout = None if heldout is None else heldout.to(self.device)
        self._heldout_step = 0  # the step of the last held-out evaluation
        self._heldout_elbo = HeldoutElbo(self.config.train.seed)
        if train.init_output_bias:  # a resumed run's weights replace these in `restore`
            self.model.initialise_output_bias(self.data.mean_image())
        check_choice("optimizer", train.optimizer, OPTIMIZERS)
        self.optimizer = OPTIMIZERS[train.optimizer](
            self.model.parameters(), lr=train.lr, betas=tuple(train.adam_betas), eps=train.adam_eps
        )
        self.ema = WeightAverage(self.model, train.weight_ema) if train.weight_ema > 0 else None
        self._lr_schedule = LR_SCHEDULES[train.lr_schedule]
        self._lr_base = float(train.lr)
        self.team = current_team()
        self._objective = self.team.wrap(Objective(self.model))
        if train.compile:
            self._objective = compiled_objective(
                self._objective,
                self.model,
                self.device,
                self.team.world_size,
                train.batch_size,
                say or (lambda _line: None),
            )
        # The random draws of the steps (noise, binarisation): the leader's stream is a single
        # process's; each other process has its own.
        self.generator = torch.Generator(self.device).manual_seed(self._process_seed(0))
        self.step = 0
        self.epoch = 0
        self.wall_time_s = 0.0
        self._order = epoch_order(len(self.data), train.seed, 0).to(self.device)
        self._position = 0
        self._beta_base = train.beta
        self._log_every = max(1, train.log_every)
        self._record: RunRecord | None = None  # rows of their own, where snapshots are paced
        self._stop_requested = threading.Event()
        # A headless run's deadline (vae_core/training/budget.py), set by whoever enforces it.
        self.time_budget: TimeBudget | None = None

    # Commands, safe from any thread.
    def set_beta(self, beta: float) -> None:
        if beta < 0 or not math.isfinite(beta):
            raise VaeStudioError(f"beta must be a finite number >= 0, got {beta}")
        self._beta_base = float(beta)

    def set_learning_rate(self, lr: float) -> None:
        if not lr > 0 or not math.isfinite(lr):
            raise VaeStudioError(f"learning rate must be positive, got {lr}")
        # The base rate, which the schedule multiplies; the optimizer's group holds it between
        # steps too, so that a checkpoint keeps it. Item assignments, atomic under the GIL.
        self._lr_base = float(lr)
        self.optimizer.param_groups[0]["lr"] = float(lr)

    @property
    def log_every(self) -> int:
        return self._log_every

    def set_log_every(self, steps: int) -> None:
        """Steps between snapshots from the next snapshot on (a viewer paces itself with it)."""
        if steps < 1:
            raise VaeStudioError(f"steps between snapshots must be at least 1, got {steps}")
        self._log_every = int(steps)

    def keep_record(self, every: int) -> None:
        """Keep the run's metric rows every `every` steps whatever the pace of its snapshots (a
        viewer sets that with `set_log_every`): each snapshot carries the rows made since the one
        before. Kept across `run` calls: a stopped run that goes on loses no step of them."""
        self._record = RunRecord(every, self.config.model.latent_dim, self.device)
        self._record.wall_time_s, self._record.heldout_step = self.wall_time_s, self._heldout_step

    def _stop_due(self) -> bool:
        """A stop asked for, or the time budget spent: read between steps, so that a slow model's
        widely spaced snapshots do not stretch its deadline."""
        budget = self.time_budget
        return self._stop_requested.is_set() or (budget is not None and budget.expired())

    def stop(self) -> None:
        self._stop_requested.set()

    @property
    def beta(self) -> float:
        """The β of the next step: the base value shaped by the schedule."""
        schedule = BETA_SCHEDULES[self.config.train.beta_schedule]
        return schedule(self._beta_base, self.step, self.config.train)

    @property
    def base_learning_rate(self) -> float:
        return self._lr_base

    @property
    def learning_rate(self) -> float:
        """The rate of the next step: the base rate shaped by the schedule."""
        return self._lr_base * self._lr_multiplier()

    def _lr_multiplier(self) -> float:
        progress = self.step / max(1, self.total_steps)
        if self.time_budget is not None:
            # The schedule keeps to whichever ends first: the steps, or the deadline's time.
            progress = max(progress, self.time_budget.progress(self.step))
        elif (minutes := self.config.train.max_minutes) is not None:
            # Without a deadline to pace it, the minutes trained so far over the budget's.
            progress = max(progress, self.wall_time_s / (60 * minutes))
        clock = ScheduleClock(self.step, self.steps_per_epoch, progress)
        return self._lr_schedule(clock, self.config.train)

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.data) / self.config.train.batch_size)

    @property
    def total_steps(self) -> int:
        return step_budget(self.config.train, len(self.data))

    def _next_indices(self) -> torch.Tensor:
        if self._position >= len(self.data):
            self.epoch += 1
            self._order = epoch_order(len(self.data), self.config.train.seed, self.epoch).to(
                self.device
            )
            self._position = 0
        batch_size = self.config.train.batch_size
        indices = self._order[self._position : self._position + batch_size]
        self._position += batch_size
        return indices

    def run(self, include_weights: bool = False) -> Iterator[TrainingSnapshot]:
        """Train to the configured budget (or until stopped), yielding snapshots on the way."""
        self.model.train()
        total_steps = self.total_steps
        interval = SnapshotInterval(self.config.model.latent_dim, self.device)
        while self.step < total_steps and not self.team.any(self._stop_due()):
            beta = self.beta
            batch = self._next_indices()
            terms, share, step_lr = self._take_step(batch, beta)
            interval.add(terms, share, len(batch))
            finished = self.step >= total_steps
            if self._record and self._record.add(
                terms, share, len(batch), (beta, step_lr, finished)
            ):
                wall_time_s = self.wall_time_s + time.perf_counter() - interval.clock
                self._record.close_row(wall_time_s, self._figures)
            if interval.steps < self._log_every and not finished:
                continue
            yield self._snapshot(interval, beta, step_lr, finished, include_weights)
            interval.restart()

    def _take_step(self, batch: torch.Tensor, beta: float):
        """One optimisation step on this process's part of `batch`: its loss terms, its share of
        the batch and the learning rate it stepped with."""
        model, optimizer = self.model, self.optimizer
        mine, share = self._my_part(batch)
        images, labels = self.data.batch(mine)
        with self.autocast():
            observed = model.observe(images, self.generator)
            terms = self._objective(observed, labels, beta, self.generator)
        optimizer.zero_grad()
        # Processes average their gradients: weighted by its share, each process's mean loss
        # makes that average the gradient of the whole batch's mean loss.
        scale = share * self.team.world_size
        (terms["loss"] * scale if scale != 1 else terms["loss"]).backward()
        return terms, share, self.step_optimizer()

    def step_optimizer(self) -> float:
        """The optimiser's step on the gradients in place, at the scheduled learning rate, then
        the weight average's and the step count's: the rate it stepped with."""
        step_lr = self.learning_rate
        self.optimizer.param_groups[0]["lr"] = step_lr
        self.optimizer.step()
        self.optimizer.param_groups[0]["lr"] = self._lr_base
        if self.ema is not None:
            self.ema.update(self.model)
        self.step += 1
        return step_lr

    def step_snapshot(self, terms, beta: float, step_lr: float, compute_s: float):
        """The snapshot of one step taken outside `run` on one example (a step taken apart), its
        `terms` as the model's loss gives them, weights included; `compute_s` its compute time."""
        interval = SnapshotInterval(self.config.model.latent_dim, self.device)
        interval.add(terms, 1.0, 1)
        interval.clock = time.perf_counter() - compute_s
        return self._snapshot(interval, beta, step_lr, self.step >= self.total_steps, True)

    def flush_record(self) -> tuple[tuple[float, ...], ...]:
        """The record's rows not handed on yet, the steps since its last row made one (a run
        stopped between two rows): called between `run`s, when the last snapshot has the time."""
        if self._record is None:
            return ()
        if self._record.interval.steps:
            self._record.close_row(self.wall_time_s, self._figures)
        return self._record.handed_on()

    def _snapshot(
        self, interval: SnapshotInterval, beta: float, step_lr: float, finished: bool, weights: bool
    ) -> TrainingSnapshot:
        """A log point: the one place that waits for the device and reads numbers back."""
        elapsed = time.perf_counter() - interval.clock
        self.wall_time_s += elapsed
        snapshot = self._figures(interval, (beta, step_lr, finished), elapsed, self._heldout_step)
        if snapshot.heldout_elbo is not None:
            self._heldout_step = self.step
        return dataclasses.replace(
            snapshot,
            records=None if self._record is None else self._record.handed_on(),
            model_state=self.weights() if weights else None,
        )

    def _figures(
        self, interval: SnapshotInterval, step_figures, elapsed: float, heldout_since: int
    ) -> TrainingSnapshot:
        """The interval's means (one collective over the processes) as a snapshot without
        weights; the held-out ELBO where one is due since the evaluation at `heldout_since`."""
        beta, step_lr, finished = step_figures
        means = self.team.sum_(torch.cat([interval.sums, interval.kl_per_dim])) / interval.steps
        names = interval.names
        loss, recon, kl, *extras = means[: len(names)].tolist()
        if not math.isfinite(loss):
            raise TrainingDiverged(
                f"the loss became {loss} at step {self.step}: try a smaller learning rate or beta"
            )
        heldout_elbo = None
        every = self.config.train.heldout_every
        if self.heldout is not None and heldout_due(every, heldout_since, self.step, finished):
            heldout_elbo = self._heldout_elbo.at(self.step, self.model, self.heldout, self.ema)
        return TrainingSnapshot(
            step=self.step,
            epoch=self.epoch,
            epoch_progress=min(self._position / len(self.data), 1.0),
            total_steps=self.total_steps,
            wall_time_s=self.wall_time_s,
            images_per_s=interval.images / max(elapsed, 1e-9),
            loss=loss,
            recon=recon,
            kl=kl,
            beta=beta,
            learning_rate=step_lr,
            kl_per_dim=means[len(names) :].cpu().numpy(),
            finished=finished,
            heldout_elbo=heldout_elbo,
            extra_terms=dict(zip(names[3:], extras)),
        )

    def _my_part(self, batch: torch.Tensor) -> tuple[torch.Tensor, float]:
        """This process's examples of the batch and their share of it. A process left without
        any (a short last batch) computes on one with weight 0, so that it still joins the
        gradients' all-reduce."""
        mine = self.team.shard(batch)
        if len(mine) == 0:
            return batch[:1], 0.0
        return mine, len(mine) / len(batch)

    def _process_seed(self, step: int) -> int:
        seed = self.config.train.seed
        return seed if self.team.leader else derived_seed(seed, self.team.rank, step)

    def weights(self) -> dict[str, torch.Tensor]:
        """A CPU copy of the model's weights that training will not touch."""
        return {
            name: value.detach().to("cpu", copy=True)
            for name, value in self.model.state_dict().items()
        }

    # Checkpoint support: everything that makes a resumed run continue bit for bit.
    def counters(self) -> dict[str, torch.Tensor]:
        return {
            "step": torch.tensor(self.step),
            "epoch": torch.tensor(self.epoch),
            "position": torch.tensor(self._position),
            "order": self._order.cpu(),
            "generator_state": self.generator.get_state(),
            "wall_time_s": torch.tensor(self.wall_time_s, dtype=torch.float64),
            "beta_base": torch.tensor(self._beta_base, dtype=torch.float64),
        }

    def restore(self, model_state, optimizer_state, counters, ema_state=None) -> None:
        self.model.load_state_dict(model_state)
        if self.ema is not None:  # a checkpoint without an average starts one from its weights
            self.ema = WeightAverage(self.model, self.ema.decay)
            if ema_state:
                self.ema.load(ema_state, int(counters["step"]) if counters else 0)
        if optimizer_state is not None:
            load_adam_state(self.optimizer, optimizer_state)
            self._lr_base = self.optimizer.param_groups[0]["lr"]
        if not counters:
            return
        if self.heldout is not None and len(counters["order"]) == len(self._whole_train):
            # A run begun without a held-out part trained on all of it: it goes on so, with no curve.
            self.data, self.heldout = self._whole_train.to(self.device), None
        if len(counters["order"]) != len(self.data):
            raise VaeStudioError(
                "the checkpoint was trained on a data set of another size: cannot resume on this one"
            )
        self.step = int(counters["step"])
        self._heldout_step = self.step
        self.epoch = int(counters["epoch"])
        self._position = int(counters["position"])
        self._order = counters["order"].to(self.device)
        if self.team.leader:
            self.generator.set_state(counters["generator_state"])
        else:  # the checkpoint holds the leader's stream alone
            self.generator.manual_seed(self._process_seed(self.step))
        self.wall_time_s = float(counters["wall_time_s"])
        self._beta_base = float(counters["beta_base"])
