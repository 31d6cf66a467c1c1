"""The aggregate posterior q(z) = (1/N) Σₙ q(z|xₙ) of the map's examples: its density on the
map's plane, the prior samples that land in its holes, its KL to the prior and decodes of both
kinds of prior sample. The examples' encoding is the costly part: a request may carry the one
made for the last answer (a pan or zoom reuses it)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from vae_core.data import ImageDataset
from vae_core.evaluation.aggregate_posterior import (
    AggregatePosterior,
    Holes,
    KlEstimate,
    find_holes,
    kl_to_prior,
)
from vae_core.latent import LatentPlane
from vae_core.model_access import ENCODE_CHUNK, ExplorerModel
from vae_core.models import LatentModel

# The density is evaluated at GRID x GRID cell centres over the visible range.
GRID = 48
PRIOR_SAMPLES = 1000  # M, the prior samples tested for holes
KL_SAMPLES = 1000
HOLE_DECODES = 32
COVERED_DECODES = 8


@dataclass(frozen=True)
class AggregateRequest:
    examples: ImageDataset
    components: AggregatePosterior | None  # None: encode the examples
    plane: LatentPlane
    visible_range: tuple[tuple[float, float], tuple[float, float]] | None  # None: no density
    holes: bool
    page: bool  # the page's figures: the KL and the decodes
    label: int


@dataclass(frozen=True)
class AggregateAnswer:
    components: AggregatePosterior
    density: (
        np.ndarray | None
    )  # (GRID, GRID) log q(z), row r at the r-th grid value of the plane's v
    bounds: tuple[float, float, float, float] | None  # left, bottom, width, height
    holes: Holes | None
    holes_xy: np.ndarray | None  # the prior samples on the plane (M, 2)
    kl: KlEstimate | None
    hole_images: np.ndarray | None
    covered_images: np.ndarray | None
    seconds: float


def encode_aggregate(access: ExplorerModel, examples: ImageDataset) -> AggregatePosterior:
    """q(z|xₙ) of every example: its means and spreads."""
    parts = [
        access.posterior(
            *examples.batch(torch.arange(start, min(start + ENCODE_CHUNK, len(examples))))
        )
        for start in range(0, len(examples), ENCODE_CHUNK)
    ]
    return AggregatePosterior.of(
        np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    )


def density_on_plane(
    aggregate: AggregatePosterior, plane: LatentPlane, x_range, y_range, grid: int = GRID
):
    """log q(z) at the centres of a grid x grid lattice over the range, (grid, grid) with rows
    along v, and the lattice's bounds (left, bottom, width, height)."""
    (x0, x1), (y0, y1) = x_range, y_range
    xs = x0 + (np.arange(grid) + 0.5) * (x1 - x0) / grid
    ys = y0 + (np.arange(grid) + 0.5) * (y1 - y0) / grid
    points = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)  # row-major: rows along v
    log_density = (
        aggregate.log_density(plane.codes(points), torch.float32).numpy().reshape(grid, grid)
    )
    return log_density, (x0, y0, x1 - x0, y1 - y0)


def _prior_log_prob(access: ExplorerModel):
    return lambda z: torch.from_numpy(access.prior_log_density(z.numpy()))


def prior_holes(
    access: ExplorerModel, aggregate: AggregatePosterior, count: int = PRIOR_SAMPLES
) -> Holes:
    """`count` prior samples (the same draws at every refresh: the crosses stay put) tested for holes."""
    with torch.no_grad():
        samples = access.model.prior_module().sample(
            count, generator=torch.Generator().manual_seed(0)
        )
    return find_holes(aggregate, samples, _prior_log_prob(access))


def refresh_aggregate(model: LatentModel, request: AggregateRequest) -> AggregateAnswer:
    """One refresh's whole work (also what the benchmark times)."""
    started = time.perf_counter()
    access = ExplorerModel(model)
    components = request.components
    if components is None:
        components = encode_aggregate(access, request.examples)
    density = bounds = holes = holes_xy = kl = hole_images = covered_images = None
    if request.visible_range is not None:
        density, bounds = density_on_plane(components, request.plane, *request.visible_range)
    if request.holes or request.page:
        holes = prior_holes(access, components)
        holes_xy = request.plane.project(holes.samples.numpy())
    if request.page:
        kl = kl_to_prior(
            components, _prior_log_prob(access), KL_SAMPLES, torch.Generator().manual_seed(0)
        )
        if not access.planar:
            codes = holes.samples.numpy()
            hole_images = access.decode(codes[holes.deepest(HOLE_DECODES).numpy()], request.label)
            covered_images = access.decode(
                codes[holes.covered(COVERED_DECODES).numpy()], request.label
            )
    return AggregateAnswer(
        components,
        density,
        bounds,
        holes,
        holes_xy,
        kl,
        hole_images,
        covered_images,
        time.perf_counter() - started,
    )
