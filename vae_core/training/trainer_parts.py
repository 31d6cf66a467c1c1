"""What a trainer is built from: the model's config completed from the data, the optimizer by
name, each epoch's order of the examples, and the objective as the module DDP wraps."""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from vae_core.config import RunConfig
from vae_core.data import DataSplit
from vae_core.models import LatentModel
from vae_core.optimizer import make_adam
from vae_core.seeds import derived_seed
from vae_core.training.adamax import Adamax


def complete_model_config(config: RunConfig, data: DataSplit) -> RunConfig:
    """The config with the model's input shape and class count taken from the data."""
    model = dataclasses.replace(
        config.model, input_shape=tuple(data.train.image_shape), num_classes=data.train.num_classes
    )
    return dataclasses.replace(config, model=model)


# Optimizers by name; both keep Adam's state layout, so checkpoints and resumes serve either.
OPTIMIZERS = {"adam": make_adam, "adamax": Adamax}


def epoch_order(size: int, seed: int, epoch: int) -> torch.Tensor:
    """The order of the examples in an epoch: the same in every process, whatever it drew before."""
    return torch.randperm(size, generator=torch.Generator().manual_seed(derived_seed(seed, epoch)))


class Objective(nn.Module):
    """The model's training loss as a forward pass: what DistributedDataParallel wraps."""

    def __init__(self, model: LatentModel):
        super().__init__()
        self.model = model

    def forward(self, x, y, beta: float, generator) -> dict[str, torch.Tensor]:
        return self.model.loss(x, y, beta=beta, generator=generator)
