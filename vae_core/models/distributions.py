"""The diagonal Gaussian posterior and the densities the objectives need."""

from __future__ import annotations

import math

import torch

LOG_2PI = math.log(2 * math.pi)


def normal_log_density(value, mean, log_var):
    """Elementwise log N(value; mean, exp(log_var))."""
    return -0.5 * (LOG_2PI + log_var + (value - mean).square() * torch.exp(-log_var))


def diagonal_mixture_log_density(z, means, log_vars, log_weights):
    """log Σ_k w_k N(z; means_k, diag(exp(log_vars_k))): z (..., D), means and log_vars (K, D),
    log_weights (K,) normalised -> (...)."""
    per_component = normal_log_density(z.unsqueeze(-2), means, log_vars).sum(-1)  # (..., K)
    return torch.logsumexp(per_component + log_weights, dim=-1)


class DiagonalGaussian:
    """q(z|x) = N(mean, diag(exp(log_var))), with batch shape (B, D)."""

    def __init__(self, mean: torch.Tensor, log_var: torch.Tensor):
        self.mean = mean
        self.log_var = log_var

    @property
    def std(self) -> torch.Tensor:
        return torch.exp(0.5 * self.log_var)

    def rsample(
        self, generator: torch.Generator | None = None, samples: int | None = None
    ) -> torch.Tensor:
        """Reparameterised draws: (B, D), or (samples, B, D) when `samples` is given."""
        shape = self.mean.shape if samples is None else (samples, *self.mean.shape)
        noise = torch.randn(
            shape, generator=generator, device=self.mean.device, dtype=self.mean.dtype
        )
        return self.mean + self.std * noise

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log q(z|x) summed over latent dimensions: (..., B, D) -> (..., B)."""
        return normal_log_density(z, self.mean, self.log_var).sum(-1)

    def kl_standard_normal(self) -> torch.Tensor:
        """KL(q || N(0, I)) per dimension in closed form: (B, D)."""
        return 0.5 * (self.mean.square() + torch.exp(self.log_var) - 1.0 - self.log_var)


def linear_gaussian_log_marginal(
    x, offset, weight, noise_log_var, prior_means, prior_log_vars, prior_log_weights
):
    """log p(x) of x = W z + b + ε, ε ~ N(0, Ψ) diagonal, z ~ a mixture of diagonal Gaussians.

    Each component k makes x ~ N(W m_k + b, W S_k W^T + Ψ). With P pixels and D << P latent
    dimensions the P x P covariance is never formed: the Woodbury identity and the matrix
    determinant lemma reduce everything to D x D matrices M_k = S_k^-1 + W^T Ψ^-1 W.

    x and offset (B, P), weight (P, D), noise_log_var (P,), prior_means and prior_log_vars
    (K, D), prior_log_weights (K,) -> (B,), computed in float64.
    """
    x, offset, weight, noise_log_var, prior_means, prior_log_vars, prior_log_weights = (
        t.double()
        for t in (x, offset, weight, noise_log_var, prior_means, prior_log_vars, prior_log_weights)
    )
    pixels = weight.shape[0]
    noise_precision = torch.exp(-noise_log_var)  # (P,)
    residual = x - offset  # (B, P)
    scaled_weight = weight * noise_precision[:, None]  # Ψ^-1 W: (P, D)
    gram = weight.T @ scaled_weight  # W^T Ψ^-1 W: (D, D)
    projected = residual @ scaled_weight  # W^T Ψ^-1 r per example: (B, D)
    residual_norm = (residual.square() * noise_precision).sum(-1)  # r^T Ψ^-1 r: (B,)

    # Shifting the residual by the component's mean W m_k changes the terms linearly.
    gram_means = prior_means @ gram  # (K, D)
    shifted_norm = (
        residual_norm[None, :]
        - 2 * prior_means @ projected.T
        + (gram_means * prior_means).sum(-1)[:, None]
    )  # (K, B)
    shifted_projection = projected[None, :, :] - gram_means[:, None, :]  # (K, B, D)
    inner = torch.diag_embed(torch.exp(-prior_log_vars)) + gram  # M_k: (K, D, D)
    cholesky = torch.linalg.cholesky(inner)
    solved = torch.cholesky_solve(shifted_projection.transpose(1, 2), cholesky)  # (K, D, B)
    quadratic = shifted_norm - (shifted_projection.transpose(1, 2) * solved).sum(1)  # (K, B)
    log_det = (
        2 * torch.log(torch.diagonal(cholesky, dim1=-2, dim2=-1)).sum(-1)
        + prior_log_vars.sum(-1)
        + noise_log_var.sum()
    )  # (K,)
    component_log_density = -0.5 * (pixels * LOG_2PI + log_det[:, None] + quadratic)
    return torch.logsumexp(component_log_density + prior_log_weights[:, None], dim=0)
