"""The two gradient estimators of the ELBO (reparameterization against score function) studied
for a few inputs: each one's variance against the number of samples K."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from vae_core.evaluation.gradient_estimators import (
    GradientVarianceReport,
    gradient_variance_study,
)
from vae_core.models import LatentModel


@dataclass(frozen=True)
class GradientRequest:
    images: torch.Tensor  # (B, C, H, W) in [0, 1]
    labels: torch.Tensor | None  # (B,) where the model is conditional
    repeats: int
    selected: int | None  # the map's selected example, None for a batch of the first ones


@dataclass(frozen=True)
class GradientAnswer:
    report: GradientVarianceReport
    seconds: float


def study_gradients(model: LatentModel, request: GradientRequest) -> GradientAnswer:
    """Both estimators at every K, for the request's inputs."""
    started = time.perf_counter()
    report = gradient_variance_study(
        model, request.images, request.labels, repeats=request.repeats, seed=0
    )
    return GradientAnswer(report, time.perf_counter() - started)
