"""The diagonal Gaussian posterior and the densities the objectives need."""

from __future__ import annotations

import math

import torch

LOG_2PI = math.log(2 * math.pi)


def normal_log_density(value, mean, log_var):
    """Elementwise log N(value; mean, exp(log_var))."""
    return -0.5 * (LOG_2PI + log_var + (value - mean).square() * torch.exp(-log_var))


class DiagonalGaussian:
    """q(z|x) = N(mean, diag(exp(log_var))), with batch shape (B, D)."""

    def __init__(self, mean: torch.Tensor, log_var: torch.Tensor):
        self.mean = mean
        self.log_var = log_var

    @property
    def std(self) -> torch.Tensor:
        return torch.exp(0.5 * self.log_var)

    def rsample(self, generator: torch.Generator | None = None, samples: int | None = None) -> torch.Tensor:
        """Reparameterised draws: (B, D), or (samples, B, D) when `samples` is given."""
        shape = self.mean.shape if samples is None else (samples, *self.mean.shape)
        noise = torch.randn(shape, generator=generator, device=self.mean.device, dtype=self.mean.dtype)
        return self.mean + self.std * noise

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log q(z|x) summed over latent dimensions: (..., B, D) -> (..., B)."""
        return normal_log_density(z, self.mean, self.log_var).sum(-1)

    def kl_standard_normal(self) -> torch.Tensor:
        """KL(q || N(0, I)) per dimension in closed form: (B, D)."""
        return 0.5 * (self.mean.square() + torch.exp(self.log_var) - 1.0 - self.log_var)
