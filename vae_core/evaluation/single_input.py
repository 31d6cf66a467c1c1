"""One input made ready for the single-input analyses (the gaps, importance samples, the true
posterior, the ELBO identity): observed as a batch of one, and the figures they share."""

from __future__ import annotations

import math

import torch

from vae_core.errors import VaeStudioError
from vae_core.models import LatentModel


def single_input(model: LatentModel, x: torch.Tensor, y, seed: int):
    """The model's device, a generator, and x (C, H, W) as an observed batch of one with its label."""
    if x.dim() != 3:
        raise VaeStudioError(f"analysis takes one image (C, H, W), got shape {tuple(x.shape)}")
    if not model.samples_posterior:
        raise VaeStudioError(
            f"this analysis needs a model with a Gaussian posterior; '{model.config.family}' has none"
        )
    if model.capabilities.latent_layers != 1:
        raise VaeStudioError(
            f"this analysis optimises and samples one Gaussian latent layer; '{model.config.family}' has"
            f" {model.capabilities.latent_layers}"
        )
    device = next(model.parameters()).device
    generator = torch.Generator(device).manual_seed(seed)
    observed = model.observe(x[None].to(device), generator)
    label = None if y is None else torch.as_tensor([int(y)], device=device)
    return generator, observed, label


def exact_log_likelihood(model: LatentModel, observed, label) -> float | None:
    """log p(x) of an observed batch of one, where the model has it in closed form."""
    if model.capabilities.has_exact_likelihood:
        return float(model.exact_log_likelihood(observed, label)[0])
    return None


def log_mean_exp(log_weights: torch.Tensor) -> float:
    """log (1/K) Σ exp(log w): an importance-sampled log p(x) from K log-weights."""
    return float(torch.logsumexp(log_weights, 0) - math.log(len(log_weights)))
