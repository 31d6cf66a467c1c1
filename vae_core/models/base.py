"""The one interface every model family implements."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from vae_core.config import ModelConfig
from vae_core.errors import VaeStudioError


@dataclass(frozen=True)
class Capabilities:
    """What a family can do, so that callers ask instead of probing the model's attributes."""

    conditional: bool  # encoder and decoder take the class label
    samples_posterior: bool  # q(z|x) is a distribution (a posterior ellipse, importance sampling)
    has_codebook: bool  # vector-quantised: a codebook, and `positions` code vectors per image
    positions: int  # code vectors per image (1 for the Gaussian families)
    has_prior_density: bool  # log p(z) over codes exists (contours on the map)
    learned_prior: bool  # that density moves with the weights (a mixture, a VampPrior)
    has_exact_likelihood: bool  # log p(x) in closed form (linear decoder, Gaussian likelihood)
    # Stochastic layers: 2 for the hierarchical VAE, whose codes are the top layer's.
    latent_layers: int = 1


class LatentModel(nn.Module):
    """A generative model with an encoder; the trainer, evaluation and the window use only this.

    `encode(x, y)` gives the posterior (or the pre-quantisation code), `decode(z, y)` the
    likelihood's parameters, `loss(x, y, beta)` a dict of named terms (the scalar `loss` to
    minimise, `recon` and `kl` in nats per example, `kl_per_dim` of shape (D,)), and
    `sample(n, y)` images in [0, 1].
    """

    # Whether encoder and decoder take the class label y (which must then be given).
    conditional = False
    # Whether q(z|x) is a distribution to draw from, so that importance sampling applies.
    samples_posterior = False

    def __init__(self, config: ModelConfig):
        super().__init__()
        if config.latent_dim < 1:
            raise VaeStudioError(f"latent dimension must be at least 1, got {config.latent_dim}")
        self.config = config

    @property
    def capabilities(self) -> Capabilities:
        prior = self.prior_module()
        return Capabilities(
            conditional=self.conditional,
            samples_posterior=self.samples_posterior,
            has_codebook=self.has_codebook,
            positions=self.positions,
            has_prior_density=prior is not None,
            learned_prior=prior is not None and any(True for _ in prior.parameters()),
            has_exact_likelihood=self.has_exact_likelihood,
            latent_layers=self.latent_layers,
        )

    # Overridden by the families that have them.
    has_codebook = False
    positions = 1
    has_exact_likelihood = False
    latent_layers = 1

    def prior_module(self) -> nn.Module | None:
        """The prior over codes with a density (`log_prob`), when the family has one."""
        return None

    def initialise_output_bias(self, mean_image: torch.Tensor) -> None:
        """Start the decoder's output at the training data's mean image (C, H, W), where the
        likelihood says how (Bernoulli: its logit); every family has a `likelihood` and a
        `decoder` whose last layer makes the image."""
        if self.likelihood.output_for_mean is not None:
            self.decoder.set_output_bias(mean_image, self.likelihood.output_for_mean)

    def observe(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The observation the likelihood models, from intensities in [0, 1] (identity by default)."""
        return x

    def encode(self, x, y=None):
        raise NotImplementedError

    def decode(self, z, y=None):
        raise NotImplementedError

    def decode_mean(self, z, y=None) -> torch.Tensor:
        """Images in [0, 1] decoded from codes (..., D)."""
        raise NotImplementedError

    def embed(self, x, y=None) -> torch.Tensor:
        """A point per example for maps and metrics: (B, D)."""
        raise NotImplementedError

    def elbo_terms(self, x, y=None, generator=None) -> dict[str, torch.Tensor]:
        """The negative ELBO per example, split: `recon` (B,), `kl` (B,), `kl_per_dim` (B, D)."""
        raise NotImplementedError

    def loss(self, x, y=None, beta: float = 1.0, generator=None) -> dict[str, torch.Tensor]:
        """The training objective's scalar `loss`, and batch means of `recon`, `kl`, `kl_per_dim`."""
        raise NotImplementedError

    def sample(self, count: int, y=None, generator=None) -> torch.Tensor:
        raise NotImplementedError

    def log_importance_weights(self, x, y=None, samples: int = 1, generator=None) -> torch.Tensor:
        """log p(x, z_k) - log q(z_k|x) for z_k ~ q(z|x): (samples, B). Needed for IS estimates."""
        raise NotImplementedError

    def layer_codes(self, x, y=None) -> dict[str, torch.Tensor]:
        """Each stochastic layer's posterior mean (B, D) by layer name, where a family has several
        layers: evaluation counts active units in each."""
        return {}

    def evaluation_sums(self, x, y=None) -> dict[str, torch.Tensor]:
        """Totals over a batch of observed x of the figures only this family has; evaluation adds
        them up over a data set and hands them to `evaluation_figures`."""
        return {}

    def evaluation_figures(self, sums: dict[str, torch.Tensor], count: int) -> dict:
        """The family's own figures for `evaluate`, from the data set's totals over `count` examples."""
        return {}


def free_bits_kl(kl: torch.Tensor, kl_per_dim: torch.Tensor, free_bits: float) -> torch.Tensor:
    """The KL a loss counts with `free_bits` nats per dimension free (Kingma et al. 2016): the sum
    of each dimension's batch-mean KL (B, D), each at least `free_bits`; `kl`, the batch mean,
    where there are none."""
    if free_bits <= 0:
        return kl
    return kl_per_dim.mean(0).clamp(min=free_bits).sum()
