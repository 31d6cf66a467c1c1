"""The true posterior p(z|x) ∝ p(x|z) p(z) of one input, on a grid of a plane of the latent space,
and log p(x) by quadrature.

On a 2-D latent space the plane is the whole space and the grid's normaliser is log p(x). Above
2-D the plane is a slice (the other dimensions fixed at the plane's origin): the normaliser is
then log ∫ p(x, z) over the slice, and the posterior and q are their conditionals on it.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from vae_core.errors import VaeStudioError
from vae_core.evaluation.single_input import single_input
from vae_core.models import LatentModel
from vae_core.models.distributions import DiagonalGaussian

# Decoded values held at once while the log joint is evaluated at many codes: bounds memory for
# any grid or K (a chunk of 5,000 codes of an MNIST image).
_JOINT_CHUNK_VALUES = 1 << 22
# Cells whose log joint is this far below the largest hold a negligible share of the mass
# (e^-20 each): the box is shrunk to the cells above.
_NEGLIGIBLE_LOG_MASS = 20.0
# The first box: the prior's components and q(z|x) to this many standard deviations.
_PRIOR_SIGMAS = 6.0
_POSTERIOR_SIGMAS = 10.0
# Box fitting: grid points a side of each round, at most this many rounds; it stops once a round
# no longer halves the box.
_FIT_RESOLUTION = 24
_FIT_ROUNDS = 6
# Grid points a side for log p(x) by quadrature: the command line's figure, and the map's readout
# (a refresh under 100 ms on a 784-400-2 MLP).
QUADRATURE_RESOLUTION = 128
READOUT_RESOLUTION = 32

Box = tuple[tuple[float, float], tuple[float, float]]  # ((x low, x high), (y low, y high))


@dataclass(frozen=True)
class PosteriorGrid:
    """The log joint and the two posteriors on the cell centres of a box of the plane.

    Arrays are (rows, columns) = (y, x): row 0 is the lowest y. On the grid, q is normalised over
    the same cells as the posterior, so that ELBO and KL are sums over the same cells and
    log_normaliser = elbo + kl holds to rounding.
    """

    box: Box
    xs: np.ndarray  # (columns,) cell centres
    ys: np.ndarray  # (rows,)
    log_joint: np.ndarray  # log p(x, z) at the centres
    posterior: np.ndarray  # p(z|x) as a density on the plane (Σ density · cell area = 1)
    q: np.ndarray  # q(z|x) as a density on the plane, normalised on the grid
    log_normaliser: float  # log Σ exp(log joint) · cell area: log p(x) when the plane is the space
    elbo: float  # Σ_cells q (log p(x, z) - log q)
    kl: float  # KL(q || p(z|x)) = Σ_cells q (log q - log p(z|x))
    is_slice: bool  # the latent space has more than two dimensions

    @property
    def cell_area(self) -> float:
        return float((self.xs[1] - self.xs[0]) * (self.ys[1] - self.ys[0]))


@contextmanager
def evaluating(model: LatentModel):
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def plane_tensors(model: LatentModel, origin, basis) -> tuple[torch.Tensor, torch.Tensor]:
    """The plane's origin (D,) and orthonormal rows (2, D) as tensors: the first two latent axes by default."""
    dim = model.config.latent_dim
    parameter = next(model.parameters())
    origin = np.zeros(dim) if origin is None else np.asarray(origin, dtype=np.float64)
    basis = np.eye(2, dim) if basis is None else np.asarray(basis, dtype=np.float64)
    if origin.shape != (dim,) or basis.shape != (2, dim):
        raise VaeStudioError(
            f"a plane of a {dim}-D latent space needs an origin ({dim},) and a basis (2, {dim})"
        )
    as_tensor = torch.as_tensor
    return (
        as_tensor(origin, dtype=parameter.dtype, device=parameter.device),
        as_tensor(basis, dtype=parameter.dtype, device=parameter.device),
    )


def joint_log_probs(
    model: LatentModel, observed: torch.Tensor, label, codes: torch.Tensor
) -> torch.Tensor:
    """log p(x|z) + log p(z) of one observed input (1, C, H, W) at codes (N, D): (N,) float64,
    decoded a bounded chunk at a time."""
    chunk = max(1, _JOINT_CHUNK_VALUES // observed[0].numel())
    return torch.cat(
        [
            model.joint_log_prob(observed, codes[start : start + chunk, None, :], label)[
                :, 0
            ].double()
            for start in range(0, len(codes), chunk)
        ]
    )


def cell_centres(box: Box, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """The centres of a resolution x resolution grid of equal cells over the box (the midpoint rule)."""
    return tuple(
        low + (np.arange(resolution) + 0.5) * (high - low) / resolution for low, high in box
    )


def _grid_codes(box: Box, resolution: int, origin: torch.Tensor, basis: torch.Tensor):
    xs, ys = cell_centres(box, resolution)
    points = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)  # rows: y, columns: x
    return xs, ys, origin + torch.as_tensor(points, dtype=basis.dtype, device=basis.device) @ basis


def identity_sums(
    log_joint: torch.Tensor, log_q: torch.Tensor, log_areas
) -> tuple[torch.Tensor, ...]:
    """Over cells with log joint and log q at their centres and log areas (a number or one per
    cell): log Σ p(x, z) · area, log p(z|x) and log q at the centres (q normalised over the same
    cells), the ELBO Σ m (log p(x, z) - log q) and KL Σ m (log q - log p(z|x)), m being each
    cell's share of q. The shares sum to 1, so ELBO + KL = the normaliser to rounding."""
    log_normaliser = torch.logsumexp(log_joint + log_areas, 0)
    log_posterior = log_joint - log_normaliser
    log_q_mass = torch.log_softmax(log_q + log_areas, 0)
    q_mass = log_q_mass.exp()
    log_q_density = log_q_mass - log_areas
    # Cells where q's share underflows to 0 add 0 · (finite) to both sums.
    elbo = (q_mass * (log_joint - log_q_density)).sum()
    kl = (q_mass * (log_q_density - log_posterior)).sum()
    return log_normaliser, log_posterior, log_q_density, elbo, kl


def q_log_density(posterior: DiagonalGaussian, codes: torch.Tensor) -> torch.Tensor:
    q64 = DiagonalGaussian(posterior.mean.double(), posterior.log_var.double())
    return q64.log_prob(codes.double()[:, None, :])[:, 0]


def _grid_of(
    model, observed, label, posterior: DiagonalGaussian, box, resolution, origin, basis
) -> PosteriorGrid:
    xs, ys, codes = _grid_codes(box, resolution, origin, basis)
    log_joint = joint_log_probs(model, observed, label, codes)
    log_area = math.log((xs[1] - xs[0]) * (ys[1] - ys[0]))
    log_normaliser, log_posterior, log_q, elbo, kl = identity_sums(
        log_joint, q_log_density(posterior, codes), log_area
    )
    shape = (len(ys), len(xs))
    return PosteriorGrid(
        box=box,
        xs=xs,
        ys=ys,
        log_joint=log_joint.view(shape).cpu().numpy(),
        posterior=log_posterior.exp().view(shape).cpu().numpy(),
        q=log_q.exp().view(shape).cpu().numpy(),
        log_normaliser=float(log_normaliser),
        elbo=float(elbo),
        kl=float(kl),
        is_slice=model.config.latent_dim > 2,
    )


def posterior_grid(
    model: LatentModel,
    x: torch.Tensor,
    y: int | None,
    box: Box,
    resolution: int = 64,
    origin=None,
    basis=None,
    seed: int = 0,
) -> PosteriorGrid:
    """p(z|x) and q(z|x) of image x (C, H, W) on a resolution² grid over `box` of the plane
    origin + (u, v) @ basis (the first two latent axes when not given)."""
    with evaluating(model):
        _, observed, label = single_input(model, x, y, seed)
        plane = plane_tensors(model, origin, basis)
        return _grid_of(
            model, observed, label, model.encode(observed, label), box, resolution, *plane
        )


def posterior_heat_map(
    model: LatentModel,
    x: torch.Tensor,
    y: int | None,
    visible: Box,
    resolution: int = 48,
    origin=None,
    basis=None,
    seed: int = 0,
) -> PosteriorGrid:
    """The grid of `posterior_grid` over the part of the `visible` box that holds the posterior's
    mass, found on a coarse grid first: a narrow posterior gets the fine grid's cells to itself."""
    with evaluating(model):
        _, observed, label = single_input(model, x, y, seed)
        origin, basis = plane_tensors(model, origin, basis)
        _, _, codes = _grid_codes(visible, _FIT_RESOLUTION, origin, basis)
        held = _shrunk(visible, joint_log_probs(model, observed, label, codes), _FIT_RESOLUTION)
        box = tuple(
            (max(low, seen[0]), min(high, seen[1])) for (low, high), seen in zip(held, visible)
        )
        return _grid_of(
            model, observed, label, model.encode(observed, label), box, resolution, origin, basis
        )


def _first_box(model: LatentModel, posterior: DiagonalGaussian, origin, basis) -> Box:
    """Covers the prior's components and q(z|x), projected onto the plane, to many σ."""
    means, log_vars, _ = (t.detach() for t in model.prior.mixture())
    centres = torch.cat([means, posterior.mean]) - origin
    stds = torch.cat([(0.5 * log_vars).exp() * _PRIOR_SIGMAS, posterior.std * _POSTERIOR_SIGMAS])
    on_plane = centres @ basis.T  # (M, 2)
    reach = stds @ basis.abs().T  # a σ-box's extent along each plane axis
    low, high = (on_plane - reach).min(0).values, (on_plane + reach).max(0).values
    return tuple((float(low[axis]), float(high[axis])) for axis in range(2))


def _shrunk(box: Box, log_joint: torch.Tensor, resolution: int) -> Box:
    """The cells holding all but a negligible share of the mass, with two cells to spare."""
    if not torch.isfinite(log_joint.max()):
        raise VaeStudioError(
            "log p(x, z) is not finite on the plane: the model's weights have diverged"
        )
    heavy = (log_joint >= log_joint.max() - _NEGLIGIBLE_LOG_MASS).view(
        resolution, resolution
    )  # (y, x)
    shrunk = []
    for axis, (low, high) in enumerate(box):
        held = heavy.any(dim=axis).nonzero()[:, 0]  # x: any row of a column; y: any column of a row
        cell = (high - low) / resolution
        shrunk.append((low + (int(held.min()) - 2) * cell, low + (int(held.max()) + 3) * cell))
    return tuple(shrunk)


def fitted_box(model, observed, label, posterior: DiagonalGaussian, origin, basis) -> Box:
    """A box of the plane holding the posterior's mass: from one that covers the prior and q,
    shrunk round by round to the cells that matter, so that a fine grid over it resolves p(z|x)."""
    box = _first_box(model, posterior, origin, basis)
    for _ in range(_FIT_ROUNDS):
        _, _, codes = _grid_codes(box, _FIT_RESOLUTION, origin, basis)
        shrunk = _shrunk(box, joint_log_probs(model, observed, label, codes), _FIT_RESOLUTION)
        halved = any(
            2 * (high - low) <= old_high - old_low
            for (low, high), (old_low, old_high) in zip(shrunk, box)
        )
        box = shrunk
        if not halved:
            break
    return box


def covering(box: Box, posterior: DiagonalGaussian, sigmas: float) -> Box:
    """`box` grown to hold q(z|x) to `sigmas` standard deviations too (2-D latents)."""
    mean, std = posterior.mean[0], posterior.std[0]
    return tuple(
        (
            min(low, float(mean[axis] - sigmas * std[axis])),
            max(high, float(mean[axis] + sigmas * std[axis])),
        )
        for axis, (low, high) in enumerate(box)
    )


def quadrature_applies(model: LatentModel) -> bool:
    """log p(x) by quadrature: one Gaussian latent layer of two dimensions."""
    capabilities = model.capabilities
    return (
        capabilities.samples_posterior
        and capabilities.latent_layers == 1
        and model.config.latent_dim == 2
    )


def fitted_input(model: LatentModel, x, y, seed: int):
    """The observed input, its label, q(z|x) and a box of the latent plane holding the posterior (2-D latents)."""
    if model.config.latent_dim != 2:
        dim = model.config.latent_dim
        raise VaeStudioError(
            f"log p(x) by quadrature needs a 2-D latent space; this model's has {dim}"
        )
    _, observed, label = single_input(model, x, y, seed)
    origin, basis = plane_tensors(model, None, None)
    posterior = model.encode(observed, label)
    return observed, label, posterior, fitted_box(model, observed, label, posterior, origin, basis)


def log_likelihood_quadrature(
    model: LatentModel,
    x: torch.Tensor,
    y: int | None = None,
    resolution: int = QUADRATURE_RESOLUTION,
    seed: int = 0,
) -> float:
    """log p(x) = log ∫ p(x|z) p(z) dz by the midpoint rule on a resolution² grid over a box fitted
    to the posterior (2-D latents)."""
    with evaluating(model):
        observed, label, posterior, box = fitted_input(model, x, y, seed)
        grid = _grid_of(
            model, observed, label, posterior, box, resolution, *plane_tensors(model, None, None)
        )
    return grid.log_normaliser
