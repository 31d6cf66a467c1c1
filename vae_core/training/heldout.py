"""The held-out curve: a fixed part of the training split that a run never trains on, whose ELBO it
measures every few steps, so that choosing a model (best.safetensors) never looks at the test set."""

from __future__ import annotations

import contextlib
import math

import torch

from vae_core.config import RunConfig
from vae_core.data import ImageDataset
from vae_core.evaluation.estimates import total_elbo

# The held-out examples are at most this share of the training split: the rest trains.
MAX_HELDOUT_SHARE = 0.1


def hold_out(train: ImageDataset, config: RunConfig) -> tuple[ImageDataset, ImageDataset | None]:
    """The examples to train on and the held-out ones (None where the config asks for no curve,
    or the split is too small to spare one). The choice depends on the data seed alone."""
    every, size = config.train.heldout_every, config.train.heldout_size
    count = min(size, int(len(train) * MAX_HELDOUT_SHARE))
    if every == 0 or count < 1:
        return train, None
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(config.data.seed))
    # Sorted, so that the examples trained on keep their order in the split.
    return train.subset(order[count:].sort().values), train.subset(order[:count].sort().values)


def heldout_due(every: int, last_step: int, step: int, finished: bool) -> bool:
    """Whether a log point at `step` evaluates: a multiple of `every` was passed since the last
    evaluation (at `last_step`), or the run ends."""
    return step > last_step and (finished or step // every > last_step // every)


class HeldoutElbo:
    """The held-out examples' mean ELBO (nats per example, negative), with the weights' average
    swapped in where there is one: computed once a step, though the run's record and its
    snapshot may both ask at that step."""

    def __init__(self, seed: int):
        self.seed = seed
        self._at: tuple[int, float] = (-1, math.nan)  # (step, its held-out ELBO)

    def at(self, step: int, model, examples: ImageDataset, ema=None) -> float:
        if self._at[0] != step:
            with contextlib.nullcontext() if ema is None else ema.swapped_in(model):
                elbo = total_elbo(model, examples, seed=self.seed)
            self._at = (step, elbo / len(examples))
        return self._at[1]
