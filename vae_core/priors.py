"""Priors p(z) by name. Each gives its density, samples and the KL term of the ELBO."""

from __future__ import annotations

import torch
from torch import nn

from vae_core.distributions import LOG_2PI, DiagonalGaussian


class StandardNormalPrior(nn.Module):
    """N(0, I): the KL to a diagonal Gaussian posterior is in closed form."""

    def __init__(self, latent_dim: int, components: int = 1):
        super().__init__()
        self.latent_dim = latent_dim

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """(..., D) -> (...)."""
        return -0.5 * (LOG_2PI + z.square()).sum(-1)

    def sample(self, count: int, generator=None, device=None) -> torch.Tensor:
        return torch.randn(count, self.latent_dim, generator=generator, device=device)

    def kl(self, posterior: DiagonalGaussian, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The KL per example (B,) and its share per latent dimension (B, D).

        Priors without a closed form estimate the total from the sample z, and give as the
        per-dimension share the closed-form KL of each dimension to N(0, 1).
        """
        per_dim = posterior.kl_standard_normal()
        return per_dim.sum(-1), per_dim


PRIORS: dict[str, type[nn.Module]] = {
    "normal": StandardNormalPrior,
}
