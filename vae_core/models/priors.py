"""Priors p(z) by name. Each gives its density, samples, the KL term of the ELBO, and its
density on any plane of two latent dimensions (the window draws it under the latent map).

Every prior here is a mixture of diagonal Gaussians (the standard normal a mixture of one), so
`mixture()` describes it exactly: the exact likelihood of a linear model and the marginals on a
plane are computed from that description.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from vae_core.config import ModelConfig
from vae_core.errors import VaeStudioError
from vae_core.models.distributions import (
    LOG_2PI,
    DiagonalGaussian,
    diagonal_mixture_log_density,
    normal_log_density,
)

# What a prior may need of its model: the encoder's posterior for a batch of inputs (None where
# the encoder also needs labels). Every prior class is built with `from_config(config, encode)`.
Encode = Callable[[torch.Tensor], DiagonalGaussian]


class StandardNormalPrior(nn.Module):
    """N(0, I): the KL to a diagonal Gaussian posterior is in closed form."""

    def __init__(self, latent_dim: int):
        super().__init__()
        self.latent_dim = latent_dim
        # Follows the model across devices; not part of its weights.
        self.register_buffer("_origin", torch.zeros(1, latent_dim), persistent=False)

    @classmethod
    def from_config(cls, config: ModelConfig, encode: Encode | None) -> StandardNormalPrior:
        return cls(config.latent_dim)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """(..., D) -> (...)."""
        return -0.5 * (LOG_2PI + z.square()).sum(-1)

    def sample(self, count: int, generator=None, device=None) -> torch.Tensor:
        return torch.randn(
            count, self.latent_dim, generator=generator, device=device, dtype=self._origin.dtype
        )

    def kl(self, posterior: DiagonalGaussian, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The KL per example (B,) and its share per latent dimension (B, D), in closed form."""
        per_dim = posterior.kl_standard_normal()
        return per_dim.sum(-1), per_dim

    def mixture(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Component means (K, D), log-variances (K, D) and normalised log-weights (K,)."""
        return self._origin, self._origin, self._origin[:, 0]

    def plane_log_prob(self, points: torch.Tensor, dims: tuple[int, int]) -> torch.Tensor:
        """The marginal log density of latent dimensions `dims` at points (..., 2) -> (...)."""
        _check_dims(dims, self.latent_dim)
        return -0.5 * (LOG_2PI + points.square()).sum(-1)


class _DiagonalMixturePrior(nn.Module):
    """A prior that is a mixture of diagonal Gaussians; subclasses say where the components come from.

    The KL to the posterior has no closed form: it is estimated from the posterior's sample z as
    log q(z|x) - log p(z), unbiased for the total. The share per dimension is the same estimate
    for each dimension's own marginals, log q(z_d|x) - log p(z_d), so it shows which dimensions
    carry information even though dimensions of a mixture are not independent (the shares need
    not add up to the total).
    """

    def __init__(self, latent_dim: int):
        super().__init__()
        self.latent_dim = latent_dim

    def mixture(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        return diagonal_mixture_log_density(z, *self.mixture())

    def sample(self, count: int, generator=None, device=None) -> torch.Tensor:
        means, log_vars, log_weights = self.mixture()
        chosen = torch.multinomial(log_weights.exp(), count, replacement=True, generator=generator)
        noise = torch.randn(
            count, self.latent_dim, generator=generator, device=means.device, dtype=means.dtype
        )
        return means[chosen] + torch.exp(0.5 * log_vars[chosen]) * noise

    def kl(self, posterior: DiagonalGaussian, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        means, log_vars, log_weights = self.mixture()
        posterior_per_dim = normal_log_density(z, posterior.mean, posterior.log_var)  # (B, D)
        prior_per_component = normal_log_density(z.unsqueeze(-2), means, log_vars)  # (B, K, D)
        prior_total = torch.logsumexp(prior_per_component.sum(-1) + log_weights, dim=-1)
        prior_per_dim = torch.logsumexp(prior_per_component + log_weights[:, None], dim=-2)
        return posterior_per_dim.sum(-1) - prior_total, posterior_per_dim - prior_per_dim

    def plane_log_prob(self, points: torch.Tensor, dims: tuple[int, int]) -> torch.Tensor:
        # The marginal of a diagonal mixture on some dimensions is the mixture of the components' marginals.
        _check_dims(dims, self.latent_dim)
        means, log_vars, log_weights = self.mixture()
        index = list(dims)
        return diagonal_mixture_log_density(
            points, means[:, index], log_vars[:, index], log_weights
        )


class MixtureOfGaussiansPrior(_DiagonalMixturePrior):
    """Σ_k π_k N(μ_k, diag(σ_k²)) with means, scales and weights learned with the model."""

    def __init__(self, latent_dim: int, components: int):
        super().__init__(latent_dim)
        if components < 1:
            raise VaeStudioError(f"a mixture prior needs at least 1 component, got {components}")
        # Means spread like draws of N(0, I), so the components start apart and cover its mass.
        self.means = nn.Parameter(torch.randn(components, latent_dim))
        self.log_vars = nn.Parameter(torch.zeros(components, latent_dim))
        self.logits = nn.Parameter(torch.zeros(components))

    @classmethod
    def from_config(cls, config: ModelConfig, encode: Encode | None) -> MixtureOfGaussiansPrior:
        return cls(config.latent_dim, config.prior_components)

    def mixture(self):
        return self.means, self.log_vars, torch.log_softmax(self.logits, dim=0)


class VampPrior(_DiagonalMixturePrior):
    """The VampPrior (Tomczak and Welling, 2018): (1/K) Σ_k q(z|u_k), the encoder's posteriors of
    K learned pseudo-inputs u_k. It couples the prior to the encoder, the optimal prior being the
    average posterior of the data."""

    # Pseudo-inputs start as faint images (Tomczak and Welling's initialisation) and stay in [0, 1].
    initial_intensity = 0.05
    initial_spread = 0.01

    def __init__(
        self, latent_dim: int, components: int, input_shape: tuple[int, ...], encode: Encode
    ):
        super().__init__(latent_dim)
        if components < 1:
            raise VaeStudioError(f"a VampPrior needs at least 1 pseudo-input, got {components}")
        self.pseudo_inputs = nn.Parameter(
            self.initial_intensity + self.initial_spread * torch.randn(components, *input_shape)
        )
        # A plain attribute, not a submodule: the encoder's weights belong to the model alone.
        self._encode = encode

    @classmethod
    def from_config(cls, config: ModelConfig, encode: Encode | None) -> VampPrior:
        if encode is None:
            raise VaeStudioError(
                f"the VampPrior needs an encoder that takes no labels: model '{config.family}' has none"
            )
        return cls(config.latent_dim, config.prior_components, tuple(config.input_shape), encode)

    def mixture(self):
        posterior = self._encode(self.pseudo_inputs.clamp(0, 1))
        components = len(self.pseudo_inputs)
        log_weights = torch.full((components,), -math.log(components), device=posterior.mean.device)
        return posterior.mean, posterior.log_var, log_weights


def _check_dims(dims: tuple[int, int], latent_dim: int) -> None:
    if len(dims) != 2 or dims[0] == dims[1] or not all(0 <= d < latent_dim for d in dims):
        raise VaeStudioError(
            f"a plane needs two different latent dimensions below {latent_dim}, got {tuple(dims)}"
        )


PRIORS: dict[str, type[nn.Module]] = {
    "normal": StandardNormalPrior,
    "mog": MixtureOfGaussiansPrior,
    "vamp": VampPrior,
}
