"""The selected input's true posterior p(z|x) on a grid over the map's visible plane, K importance
samples of it, log p(x) by quadrature, and the ELBO identity with the amortization gap."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vae_core.data import ImageDataset
from vae_core.evaluation.analysis import AmortizationReport, amortization_gap
from vae_core.evaluation.elbo_identity import ElboIdentity, elbo_identity
from vae_core.evaluation.importance_samples import ImportanceSamples, importance_samples
from vae_core.evaluation.observation import observed_examples
from vae_core.evaluation.true_posterior import (
    READOUT_RESOLUTION,
    Box,
    PosteriorGrid,
    log_likelihood_quadrature,
    posterior_heat_map,
)
from vae_core.models import LatentModel

# Grid points a side of the heat map over the part of the visible range that holds the posterior
# (found on a coarser grid first): a refresh under 100 ms on a 784-400-2 MLP on one core.
HEAT_MAP_RESOLUTION = 40


@dataclass(frozen=True)
class SelectedInput:
    """The input selected on the map: its index among the map's examples, image and class."""

    index: int
    image: torch.Tensor  # (C, H, W), as the model observes it
    label: int | None


def observed_selection(model: LatentModel, examples: ImageDataset, index: int) -> SelectedInput:
    """Example `index` of the map's examples as the model observes it: the image that every figure
    of it scores and that the window shows. A Bernoulli model's is binary, drawn as `evaluate` draws
    an example's (from the seed and the index): its encoder was trained on binary images only, and
    q(z|x) of the grey image can lie many σ from the true posterior of a binary one."""
    indices = torch.tensor([index])
    images, labels = examples.batch(indices)
    label = int(labels[0]) if model.capabilities.conditional else None
    return SelectedInput(index, observed_examples(model, images, indices)[0], label)


@dataclass(frozen=True)
class LayersRequest:
    selected: SelectedInput
    origin: np.ndarray  # the map's plane: (D,)
    basis: np.ndarray  # (2, D)
    visible: Box | None  # None: no heat map
    samples: int  # K, 0 for no samples
    proposal: str
    quadrature: bool  # log p(x) by quadrature too (2-D latents)


@dataclass(frozen=True)
class LayersAnswer:
    grid: PosteriorGrid | None = None
    samples: ImportanceSamples | None = None
    quadrature: float | None = None  # log p(x), in an answer of its own


def refresh_layers(model: LatentModel, request: LayersRequest) -> LayersAnswer:
    """The heat map's grid and the importance samples, as asked."""
    selected = request.selected
    image, label = selected.image, selected.label
    grid = samples = None
    if request.visible is not None:
        grid = posterior_heat_map(
            model, image, label, request.visible, HEAT_MAP_RESOLUTION, request.origin, request.basis
        )
    if request.samples:
        samples = importance_samples(model, image, label, request.samples, request.proposal)
    return LayersAnswer(grid, samples)


def compute_layers(model: LatentModel, request: LayersRequest):
    """The layers (yielded), then log p(x) by quadrature where asked (returned), so that the
    layers need not wait for it."""
    yield refresh_layers(model, request)
    if not request.quadrature:
        return None
    selected = request.selected
    return LayersAnswer(
        quadrature=log_likelihood_quadrature(
            model, selected.image, selected.label, READOUT_RESOLUTION
        )
    )


@dataclass(frozen=True)
class IdentityAnswer:
    identity: ElboIdentity | None = None  # first
    gap: AmortizationReport | None = None  # then


def compute_identity(model: LatentModel, selected: SelectedInput):
    """The ELBO identity (yielded), then the report of a q fitted to this input alone."""
    yield IdentityAnswer(identity=elbo_identity(model, selected.image, selected.label))
    return IdentityAnswer(gap=amortization_gap(model, selected.image, selected.label))
