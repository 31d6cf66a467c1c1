"""What a run reports: immutable snapshots, their figures as rows of the run's metrics, and the
error that ends a run whose loss stopped being a number."""

from __future__ import annotations

import dataclasses
import math
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
