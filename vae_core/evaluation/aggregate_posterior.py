"""The aggregate posterior q(z) = (1/N) Σ_n N(z; μ_n, diag σ_n²) of N encoded examples, and what
the prior p(z) makes of it: the Monte Carlo KL(q(z) || p(z)), and the prior's "holes", the
places where the prior sends generation but the encoder never puts a code.

Everything is torch on the CPU, no gradients; densities are nats. `prior_log_prob` is any
callable from codes (M, D) to log p(z) (M,), a model's `prior_module().log_prob` say.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from vae_core.errors import VaeStudioError
from vae_core.models.distributions import LOG_2PI

# Codes whose density is evaluated at once: a chunk holds (CHUNK, N) log densities.
CHUNK = 1024
# A prior sample is in a hole where q(z) / p(z) is below this (see `find_holes`).
HOLE_RATIO = 0.1

PriorLogProb = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class AggregatePosterior:
    """The equal-weight mixture of N diagonal Gaussian posteriors q(z|x_n)."""

    means: torch.Tensor  # (N, D)
    stds: torch.Tensor  # (N, D)

    def __post_init__(self):
        if self.means.ndim != 2 or self.means.shape != self.stds.shape or len(self.means) == 0:
            raise VaeStudioError(
                f"an aggregate posterior needs means and deviations of one shape (N, D), got"
                f" {tuple(self.means.shape)} and {tuple(self.stds.shape)}"
            )
        if not bool((self.stds > 0).all()):
            raise VaeStudioError(
                "an aggregate posterior needs Gaussian posteriors of positive spread"
            )

    @classmethod
    def of(cls, means, stds) -> AggregatePosterior:
        """From arrays or tensors (N, D), kept in float64."""
        return cls(
            torch.as_tensor(means, dtype=torch.float64), torch.as_tensor(stds, dtype=torch.float64)
        )

    @property
    def components(self) -> int:
        return len(self.means)

    @property
    def latent_dim(self) -> int:
        return self.means.shape[1]

    def log_density(self, codes, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """log q(z) at codes (M, D) -> (M,), by log-sum-exp over the components, CHUNK codes at a time.

        The squared distances are expanded into two matrix products,
        Σ_d (z_d - μ_nd)² / σ_nd² = z² · (1/σ_n²) - 2 z · (μ_n/σ_n²) + μ_n² · (1/σ_n²), so no (M, N, D)
        array is formed: `diagonal_mixture_log_density` forms one and takes four times as long here.
        float32 is enough for a picture and twice as fast.
        """
        codes = torch.as_tensor(codes, dtype=dtype)
        if codes.ndim != 2 or codes.shape[1] != self.latent_dim:
            raise VaeStudioError(
                f"codes of shape {tuple(codes.shape)} for a {self.latent_dim}-D aggregate posterior"
            )
        precision = self.stds.to(dtype).pow(-2)  # (N, D)
        scaled_means = self.means.to(dtype) * precision
        constant = -0.5 * (
            self.latent_dim * LOG_2PI
            + 2 * self.stds.to(dtype).log().sum(1)
            + (self.means.to(dtype) * scaled_means).sum(1)
        ) - math.log(self.components)  # (N,)
        out = torch.empty(len(codes), dtype=dtype)
        for start in range(0, len(codes), CHUNK):
            z = codes[start : start + CHUNK]
            log_terms = torch.addmm(constant, z.square(), precision.T, alpha=-0.5).addmm_(
                z, scaled_means.T
            )
            out[start : start + CHUNK] = torch.logsumexp(log_terms, dim=1)
        return out

    def sample(self, count: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draws (count, D): a component chosen uniformly, then its Gaussian."""
        chosen = torch.randint(self.components, (count,), generator=generator)
        noise = torch.randn(count, self.latent_dim, generator=generator, dtype=self.means.dtype)
        return self.means[chosen] + self.stds[chosen] * noise


@dataclass(frozen=True)
class KlEstimate:
    value: float  # nats
    standard_error: float
    samples: int


def kl_to_prior(
    aggregate: AggregatePosterior,
    prior_log_prob: PriorLogProb,
    samples: int = 2000,
    generator: torch.Generator | None = None,
) -> KlEstimate:
    """KL(q(z) || p(z)) = E_{z~q(z)}[log q(z) - log p(z)], estimated from `samples` draws of q(z),
    with the standard error of that mean.

    The density log q(z) in the estimate is the same N-component mixture the draws come from, so
    this is the KL of that finite mixture: an unbiased estimate for it, not for the aggregate
    posterior of the whole data distribution (which N examples only approximate).
    """
    if samples < 2:
        raise VaeStudioError(f"the KL estimate needs at least 2 samples, got {samples}")
    z = aggregate.sample(samples, generator)
    log_ratio = aggregate.log_density(z) - prior_log_prob(z).double()
    return KlEstimate(float(log_ratio.mean()), float(log_ratio.std() / math.sqrt(samples)), samples)


@dataclass(frozen=True)
class Holes:
    """Prior samples and where each lands: log q(z) - log p(z), and whether that is a hole."""

    samples: torch.Tensor  # (M, D)
    log_ratio: torch.Tensor  # (M,)
    ratio: float  # the threshold on q(z) / p(z)

    @property
    def in_hole(self) -> torch.Tensor:
        """(M,) bool."""
        return self.log_ratio < math.log(self.ratio)

    @property
    def count(self) -> int:
        return int(self.in_hole.sum())

    def deepest(self, count: int) -> torch.Tensor:
        """Indices of up to `count` samples in holes, the smallest q(z) / p(z) first."""
        holes = torch.nonzero(self.in_hole).flatten()
        return holes[torch.argsort(self.log_ratio[holes])][:count]

    def covered(self, count: int) -> torch.Tensor:
        """Indices of the first `count` samples not in holes."""
        return torch.nonzero(~self.in_hole).flatten()[:count]


def find_holes(
    aggregate: AggregatePosterior,
    prior_samples,
    prior_log_prob: PriorLogProb,
    ratio: float = HOLE_RATIO,
) -> Holes:
    """Which prior samples land in holes: where q(z) / p(z) < `ratio`.

    Why the ratio: E_{z~p}[q(z) / p(z)] = 1, and q(z) / p(z) says how often the data's codes come
    to z against how often generation samples it. Below 0.1 the prior asks the decoder about z
    ten times more often than training ever showed it a code there, so what it decodes there is
    untrained. An absolute level ("q(z) below that of most data points") would flag p's tails
    even when q = p; the ratio flags nothing then, which is the right answer.
    """
    if not 0 < ratio < 1:
        raise VaeStudioError(
            f"the hole threshold on q(z)/p(z) must be between 0 and 1, got {ratio}"
        )
    samples = torch.as_tensor(prior_samples, dtype=torch.float64)
    log_ratio = aggregate.log_density(samples) - prior_log_prob(samples).double()
    return Holes(samples, log_ratio, ratio)
