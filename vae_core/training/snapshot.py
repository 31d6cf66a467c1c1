"""What a run reports: immutable snapshots, the sums of the steps between two of them, their
figures as rows of the run's metrics, and the error that ends a run whose loss stopped being a
number."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping
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
