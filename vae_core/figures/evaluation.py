"""The Evaluate page's two jobs: the model scored on test data, and one input's gaps."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vae_core.data import ImageDataset
from vae_core.evaluation.analysis import amortization_gap, importance_sampling_study
from vae_core.evaluation.estimates import evaluate_model
from vae_core.models import LatentModel

# Examples per batch: small enough that progress moves about twice a second for an MLP on MNIST.
BATCH_SIZE = 100
# One input's log p(x) estimated with these numbers of samples, each this many times.
ANALYSIS_SAMPLES = (1, 10, 100, 1000)
ANALYSIS_REPEATS = 10


@dataclass(frozen=True)
class EvaluationRequest:
    data: ImageDataset
    samples: int  # K of the importance-sampled log-likelihood
    limit: int  # the first this many examples


@dataclass(frozen=True)
class AnalysisRequest:
    image: torch.Tensor  # (C, H, W)
    label: int | None


def evaluate(model: LatentModel, request: EvaluationRequest, control) -> dict:
    """`control.progress(done, total)` hears the batches; `control.stopped()` ends it early
    (EvaluationStopped)."""
    return evaluate_model(
        model,
        request.data,
        iw_samples=request.samples,
        limit=request.limit,
        batch_size=BATCH_SIZE,
        progress=control.progress,
        should_stop=control.stopped,
    )


def analyze(model: LatentModel, request: AnalysisRequest, control):
    """(AmortizationReport, ImportanceSamplingReport): a second or less, it runs to its end."""
    gaps = amortization_gap(model, request.image, request.label)
    control.progress(1, 2)
    study = importance_sampling_study(
        model,
        request.image,
        request.label,
        sample_counts=ANALYSIS_SAMPLES,
        repeats=ANALYSIS_REPEATS,
    )
    return gaps, study
