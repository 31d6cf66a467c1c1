"""What a run reports: immutable snapshots, the sums of the steps between two of them, their
figures as rows of the run's metrics, and the error that ends a run whose loss stopped being a
number."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch

from vae_core.errors import VaeStudioError
from vae_core.metrics_columns import METRICS_COLUMNS


class TrainingDiverged(VaeStudioError):
    """The loss stopped being a finite number; the last snapshot's weights are the last good ones."""


@dataclass(frozen=True)
class TrainingSnapshot:
    """What a run reports at a log point: plain numbers and CPU copies only."""

    step: int
    epoch: int  # epochs completed
    epoch_progress: float  # share of the current epoch done, in [0, 1]
    total_steps: int
    wall_time_s: float  # training time, pauses excluded
    images_per_s: float  # over the interval since the previous snapshot
    loss: float  # means over the interval, nats per example
    recon: float
    kl: float
    beta: float
    learning_rate: float
    kl_per_dim: np.ndarray  # (D,)
    finished: bool
    # The ELBO per held-out example (log p convention), where this snapshot evaluated it.
    heldout_elbo: float | None = None
    # Further scalar terms a model family reports (codebook perplexity, say), interval means.
    extra_terms: Mapping[str, float] = dataclasses.field(default_factory=dict)
    # CPU copies of the weights, when the run was asked for them (for a viewer's own model).
    model_state: Mapping[str, torch.Tensor] | None = None
    # The run's metric rows at its own log interval made since the last snapshot, where the run
    # keeps them apart from its snapshots (`Trainer.keep_record`: a window paces its snapshots
    # itself); None where this snapshot's own row is the record.
    records: tuple[tuple[float, ...], ...] | None = None


def metrics_row(snapshot: TrainingSnapshot) -> tuple[float, ...]:
    values = (getattr(snapshot, column) for column in METRICS_COLUMNS)
    return tuple(math.nan if value is None else float(value) for value in values)


# The loss terms every family reports; the others are the family's own, shown as extra terms.
_STANDARD_TERMS = ("loss", "recon", "kl", "kl_per_dim")


class SnapshotInterval:
    """The steps since the last snapshot: sums of their terms (weighted by this process's share
    of each batch), left on the device until the snapshot reads them."""

    def __init__(self, latent_dim: int, device: torch.device):
        self.names: tuple[str, ...] = ()  # the terms summed, known from the first step's
        self.sums: torch.Tensor | None = None
        self.kl_per_dim = torch.zeros(latent_dim, device=device)
        self._device = device
        self.restart()

    def restart(self) -> None:
        if self.sums is not None:
            self.sums.zero_()
        self.kl_per_dim.zero_()
        self.steps = self.images = 0
        self.clock = time.perf_counter()

    @torch.no_grad()
    def add(self, terms: dict[str, torch.Tensor], share: float, images: int) -> None:
        if self.sums is None:
            extra = (name for name in terms if name not in _STANDARD_TERMS)
            self.names = ("loss", "recon", "kl", *extra)
            self.sums = torch.zeros(len(self.names), device=self._device)
        self.sums += torch.stack([terms[name].detach().float() for name in self.names]) * share
        self.kl_per_dim += terms["kl_per_dim"] * share
        self.steps += 1
        self.images += images


class RunRecord:
    """The run's metric rows every `every` steps (the command line's log interval), kept apart
    from snapshots that come at another pace: the steps since the last row, the training time at
    that row, and the rows not yet handed on."""

    def __init__(self, every: int, latent_dim: int, device: torch.device):
        if every < 1:
            raise VaeStudioError(f"steps between metric rows must be at least 1, got {every}")
        self.every = every
        self.interval = SnapshotInterval(latent_dim, device)
        self.wall_time_s = 0.0  # the run's training time at the last row
        self.heldout_step = 0  # the step of the last row with a held-out ELBO
        self.last_figures = (0.0, 0.0, False)  # the last step's β, learning rate and `finished`
        self.rows: list[tuple[float, ...]] = []

    def add(self, terms: dict[str, torch.Tensor], share: float, images: int, figures) -> bool:
        """A step's terms, and its (β, learning rate, finished); True when a row is due."""
        self.interval.add(terms, share, images)
        self.last_figures = figures
        return self.interval.steps >= self.every or figures[2]

    def close_row(self, wall_time_s: float, figures_of: Callable) -> None:
        """The row of the steps since the last, at `wall_time_s` of training; `figures_of`
        (interval, step figures, seconds, last held-out step) gives their figures, the held-out
        ELBO where one is due (the record's own, as the command line's rows have it)."""
        elapsed = wall_time_s - self.wall_time_s
        figures = figures_of(self.interval, self.last_figures, elapsed, self.heldout_step)
        if figures.heldout_elbo is not None:
            self.heldout_step = figures.step
        self.rows.append(metrics_row(dataclasses.replace(figures, wall_time_s=wall_time_s)))
        self.wall_time_s = wall_time_s
        self.interval.restart()

    def handed_on(self) -> tuple[tuple[float, ...], ...]:
        rows, self.rows = tuple(self.rows), []
        return rows
