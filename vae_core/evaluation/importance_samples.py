"""K importance samples of one input's latent code from the prior or q(z|x), weighted by
p(x, z) / r(z): the effective sample size and log p(x) estimated from them."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from vae_core.errors import VaeStudioError
from vae_core.evaluation.single_input import log_mean_exp, single_input
from vae_core.evaluation.true_posterior import evaluating, joint_log_probs
from vae_core.models import LatentModel

PROPOSALS = ("prior", "posterior")


@dataclass(frozen=True)
class ImportanceSamples:
    """K draws z_k from a proposal r, weighted by w_k ∝ p(x, z_k) / r(z_k)."""

    proposal: str  # "prior" (r = p(z)) or "posterior" (r = q(z|x))
    codes: np.ndarray  # (K, D)
    weights: np.ndarray  # (K,) normalised: they sum to 1
    effective_sample_size: float  # 1 / Σ w_k²
    log_likelihood: float  # log (1/K) Σ p(x, z_k) / r(z_k)
    standard_error: float  # of log_likelihood, by the delta method
    mean_log_weight: float  # the ELBO when r = q(z|x)


def weigh(log_weights: torch.Tensor) -> tuple[torch.Tensor, float, float, float]:
    """Normalised weights (K,), the effective sample size 1/Σw², log (1/K) Σ exp(log w) and its
    standard error sqrt(K) · sd(w) (the delta method: sd(W)/(sqrt(K) mean(W)) with W = K w · mean)."""
    log_weights = log_weights.double()
    weights = torch.softmax(log_weights, 0)
    count = len(weights)
    spread = float(weights.std()) if count > 1 else 0.0
    return (
        weights,
        float(1.0 / weights.square().sum()),
        log_mean_exp(log_weights),
        math.sqrt(count) * spread,
    )


def importance_samples(
    model: LatentModel,
    x: torch.Tensor,
    y: int | None,
    count: int,
    proposal: str = "posterior",
    seed: int = 0,
) -> ImportanceSamples:
    """K draws from the prior p(z) or from q(z|x), weighted by p(x, z) / r(z)."""
    if proposal not in PROPOSALS:
        raise VaeStudioError(
            f"the proposal must be one of {', '.join(PROPOSALS)}, got '{proposal}'"
        )
    if count < 1:
        raise VaeStudioError(f"importance sampling needs at least one sample, got {count}")
    with evaluating(model):
        generator, observed, label = single_input(model, x, y, seed)
        if proposal == "prior":
            codes = model.prior.sample(count, generator=generator, device=observed.device)
            log_proposal = model.prior.log_prob(codes).double()
        else:
            posterior = model.encode(observed, label)
            codes = posterior.rsample(generator, count)[:, 0]  # (K, D)
            log_proposal = posterior.log_prob(codes[:, None, :])[:, 0].double()
        log_weights = joint_log_probs(model, observed, label, codes) - log_proposal
    weights, size, log_likelihood, error = weigh(log_weights)
    return ImportanceSamples(
        proposal=proposal,
        codes=codes.double().cpu().numpy(),
        weights=weights.cpu().numpy(),
        effective_sample_size=size,
        log_likelihood=log_likelihood,
        standard_error=error,
        mean_log_weight=float(log_weights.mean()),
    )
