"""The identity log p(x) = ELBO + KL(q(z|x) || p(z|x)) for one input: by quadrature over cells of
the latent plane for 2-D latents, else by importance sampling from q(z|x)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from vae_core.evaluation.importance_samples import importance_samples
from vae_core.evaluation.single_input import exact_log_likelihood, single_input
from vae_core.evaluation.true_posterior import (
    Box,
    covering,
    evaluating,
    fitted_input,
    identity_sums,
    joint_log_probs,
    q_log_density,
)
from vae_core.models import LatentModel

# The identity's cells: a coarse grid over a box holding q(z|x) to this many σ and the posterior,
# whose cells over the posterior's box are split into cells this many times smaller than that box
# a side, so that a q far wider than the posterior (an untrained encoder) does not leave the
# posterior unresolved.
_Q_SIGMAS_HELD = 6.0
IDENTITY_RESOLUTION = 24
_CELLS_ACROSS_POSTERIOR = 24
# Samples for log p(x) by importance sampling above 2-D.
IDENTITY_SAMPLES = 5000


@dataclass(frozen=True)
class ElboIdentity:
    """log p(x) = ELBO + KL(q(z|x) || p(z|x)) for one input."""

    log_likelihood: float
    elbo: float
    kl: float  # log p(x) - ELBO
    method: str  # "quadrature" (2-D latents) or "importance sampling"
    standard_error: float  # of log p(x): 0 for quadrature
    samples: int  # importance samples, 0 for quadrature
    exact_log_likelihood: float | None  # where the model has it in closed form


def _edges(low: float, high: float, count: int) -> np.ndarray:
    return np.linspace(low, high, count + 1)


def _split_cells(outer: Box, inner: Box) -> tuple[np.ndarray, np.ndarray]:
    """Cells tiling `outer`: a coarse grid's, those over `inner` (snapped out to coarse edges)
    split into fine ones. Their centres (N, 2) and areas (N,)."""
    coarse = [_edges(low, high, IDENTITY_RESOLUTION) for low, high in outer]
    spans, fine = [], []
    for edges, (low, high) in zip(coarse, inner):
        first = int(
            np.clip(np.searchsorted(edges, low, side="right") - 1, 0, IDENTITY_RESOLUTION - 1)
        )
        last = int(
            np.clip(np.searchsorted(edges, high, side="left"), first + 1, IDENTITY_RESOLUTION)
        )
        split = max(1, math.ceil(_CELLS_ACROSS_POSTERIOR * (edges[1] - edges[0]) / (high - low)))
        spans.append((first, last))
        fine.append(_edges(edges[first], edges[last], (last - first) * split))
    centres, areas = [], []
    (x_first, x_last), (y_first, y_last) = spans
    inside = np.zeros((IDENTITY_RESOLUTION, IDENTITY_RESOLUTION), dtype=bool)  # (y, x)
    inside[y_first:y_last, x_first:x_last] = True
    for (x_edges, y_edges), keep in (((coarse[0], coarse[1]), ~inside), ((fine[0], fine[1]), None)):
        xs, ys = (x_edges[:-1] + x_edges[1:]) / 2, (y_edges[:-1] + y_edges[1:]) / 2
        points = np.stack(np.meshgrid(xs, ys), axis=-1)
        cell_areas = np.outer(np.diff(y_edges), np.diff(x_edges))
        if keep is not None:
            points, cell_areas = points[keep], cell_areas[keep]
        centres.append(points.reshape(-1, 2))
        areas.append(cell_areas.reshape(-1))
    return np.concatenate(centres), np.concatenate(areas)


def _identity_by_quadrature(model: LatentModel, x, y, seed: int) -> tuple[float, float, float]:
    """log p(x), ELBO and KL(q || p(z|x)) as sums over the same cells: a coarse grid over the
    posterior's box and q's, finer over the posterior's (2-D latents)."""
    with evaluating(model):
        observed, label, posterior, held = fitted_input(model, x, y, seed)
        centres, areas = _split_cells(covering(held, posterior, _Q_SIGMAS_HELD), held)
        parameter = next(model.parameters())
        codes = torch.as_tensor(centres, dtype=parameter.dtype, device=parameter.device)
        log_joint = joint_log_probs(model, observed, label, codes)
        log_areas = torch.as_tensor(np.log(areas), device=log_joint.device)
        log_normaliser, _, _, elbo, kl = identity_sums(
            log_joint, q_log_density(posterior, codes), log_areas
        )
    return float(log_normaliser), float(elbo), float(kl)


def elbo_identity(
    model: LatentModel, x: torch.Tensor, y: int | None = None, seed: int = 0
) -> ElboIdentity:
    """log p(x), the ELBO and KL(q(z|x) || p(z|x)) of image x: by quadrature on a fitted grid for
    2-D latents (ELBO and KL summed over the grid's cells), else by importance sampling from q
    with IDENTITY_SAMPLES draws (the ELBO their mean log-weight, KL = log p̂(x) - ELBO)."""
    with evaluating(model):
        _, observed, label = single_input(model, x, y, seed)
        exact = exact_log_likelihood(model, observed, label)
    if model.config.latent_dim == 2:
        return ElboIdentity(
            *_identity_by_quadrature(model, x, y, seed), "quadrature", 0.0, 0, exact
        )
    samples = importance_samples(model, x, y, IDENTITY_SAMPLES, "posterior", seed)
    return ElboIdentity(
        samples.log_likelihood,
        samples.mean_log_weight,
        samples.log_likelihood - samples.mean_log_weight,
        "importance sampling",
        samples.standard_error,
        IDENTITY_SAMPLES,
        exact,
    )
