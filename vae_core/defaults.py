"""The settings a run starts from for each data set, the same in the window and on the command
line: what suits the data's kind (points in the plane, or images)."""

from __future__ import annotations

import dataclasses

from vae_core.config import DataConfig, RunConfig
from vae_core.data.points import POINT_CLOUDS

# Points are coordinates, not pixel intensities: a Gaussian over them, and networks that take a
# vector (a conv network needs an image).
POINT_MODEL = {"likelihood": "gaussian", "arch": "mlp"}


def defaults_for(dataset: str) -> RunConfig:
    """The run a user gets from choosing `dataset` and nothing else."""
    config = RunConfig(data=DataConfig(dataset=dataset))
    if dataset in POINT_CLOUDS:
        config.model = dataclasses.replace(config.model, **POINT_MODEL)
    return config
