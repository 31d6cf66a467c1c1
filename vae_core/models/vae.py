"""The Gaussian VAE: a diagonal Gaussian posterior, the reparameterisation trick, any prior."""

from __future__ import annotations

import math

import torch

from vae_core.choices import check_choice, lookup
from vae_core.config import ModelConfig
from vae_core.errors import VaeStudioError
from vae_core.models.base import LatentModel, free_bits_kl
from vae_core.models.distributions import DiagonalGaussian, linear_gaussian_log_marginal
from vae_core.models.dreg import ESTIMATORS, DregSamples, dreg_loss
from vae_core.models.likelihoods import LIKELIHOODS, GaussianLikelihood
from vae_core.models.networks import ACTIVATIONS, LinearDecoder, build_networks
from vae_core.models.priors import PRIORS


class GaussianVAE(LatentModel):
    """β-VAE objective: E_q[-log p(x|z)] + β KL(q(z|x) || p(z)); with K > 1 importance samples, the IWAE bound."""

    samples_posterior = True

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        if config.iw_samples < 1:
            raise VaeStudioError(f"importance samples must be at least 1, got {config.iw_samples}")
        check_choice("gradient estimator", config.gradient_estimator, ESTIMATORS)
        if config.free_bits > 0 and (config.iw_samples > 1 or config.gradient_estimator == "dreg"):
            raise VaeStudioError(
                "free bits apply to the ELBO: drop them, or train with --iw-samples 1"
            )
        self.latent_dim = config.latent_dim
        condition_dim = config.num_classes if self.conditional else 0
        self.encoder, self.decoder = build_networks(
            config.arch,
            config.input_shape,
            config.hidden,
            config.latent_dim,
            2 * config.latent_dim,
            condition_dim,
            lookup(ACTIVATIONS, "activation", config.activation),
        )
        self.likelihood = lookup(LIKELIHOODS, "likelihood", config.likelihood)(config.input_shape)
        prior_class = lookup(PRIORS, "prior", config.prior)
        self.prior = prior_class.from_config(config, None if self.conditional else self.encode)

    def prior_module(self):
        return self.prior

    def _condition(self, y):
        """The networks' extra input for labels y: none in this family."""
        return None

    def observe(self, x, generator=None):
        return self.likelihood.observe(x, generator)

    def encode(self, x, y=None) -> DiagonalGaussian:
        mean, log_var = self.encoder(x, self._condition(y)).chunk(2, dim=-1)
        return DiagonalGaussian(mean, log_var)

    def decode(self, z, y=None):
        condition = self._condition(y)
        if condition is not None and z.dim() > condition.dim():
            condition = condition.expand(*z.shape[:-1], condition.shape[-1])
        return self.decoder(z, condition)

    def decode_mean(self, z, y=None):
        return self.likelihood.mean(self.decode(z, y)).clamp(0, 1)

    def embed(self, x, y=None):
        return self.encode(x, y).mean

    def elbo_terms(self, x, y=None, generator=None):
        posterior = self.encode(x, y)
        z = posterior.rsample(generator)
        recon = -self.likelihood.log_prob(x, self.decode(z, y))
        kl, kl_per_dim = self.prior.kl(posterior, z)
        return {"recon": recon, "kl": kl, "kl_per_dim": kl_per_dim}

    def loss(self, x, y=None, beta=1.0, generator=None):
        if self.config.iw_samples > 1 or self.config.gradient_estimator == "dreg":
            return self._iwae_loss(x, y, beta, generator)
        terms = self.elbo_terms(x, y, generator)
        recon, kl = terms["recon"].mean(), terms["kl"].mean()
        return {
            "loss": recon + beta * free_bits_kl(kl, terms["kl_per_dim"], self.config.free_bits),
            "recon": recon,
            "kl": kl,
            "kl_per_dim": terms["kl_per_dim"].mean(0),
        }

    def joint_log_prob(self, x, z, y=None):
        """log p(x, z) = log p(x|z) + log p(z): z (..., B, D) -> (..., B)."""
        return self.likelihood.log_prob(x, self.decode(z, y)) + self.prior.log_prob(z)

    def _log_weights(self, x, y, posterior, z, beta=1.0):
        log_likelihood = self.likelihood.log_prob(x, self.decode(z, y))
        return log_likelihood + beta * (self.prior.log_prob(z) - posterior.log_prob(z))

    def _iwae_loss(self, x, y, beta, generator):
        posterior = self.encode(x, y)
        # β scales log p(z) - log q(z|x) inside every weight, so β = 1 is the IWAE bound itself.
        samples = self.config.iw_samples
        z = posterior.rsample(generator, samples)  # (K, B, D)
        if self.config.gradient_estimator == "dreg":
            dreg = DregSamples()
            seen = dreg.reweighted(z)
            fixed = DiagonalGaussian(posterior.mean.detach(), posterior.log_var.detach())
            log_weights = self._log_weights(x, y, fixed, seen, beta)
            loss = dreg_loss(log_weights, dreg, beta)
        else:
            log_weights = self._log_weights(x, y, posterior, z, beta)
            loss = -(torch.logsumexp(log_weights, dim=0) - math.log(samples)).mean()
        with torch.no_grad():
            kl, kl_per_dim = self.prior.kl(posterior, z[0])
        kl = kl.mean()
        # For the curves, the bound splits as if its KL part were the single-sample one.
        return {"loss": loss, "recon": loss - beta * kl, "kl": kl, "kl_per_dim": kl_per_dim.mean(0)}

    def sample(self, count, y=None, generator=None):
        device = next(self.parameters()).device
        z = self.prior.sample(count, generator=generator, device=device)
        return self.decode_mean(z, y)

    def log_importance_weights(self, x, y=None, samples=1, generator=None):
        posterior = self.encode(x, y)
        z = posterior.rsample(generator, samples)
        return self._log_weights(x, y, posterior, z)

    @property
    def has_exact_likelihood(self) -> bool:
        """A linear decoder with Gaussian noise under a Gaussian-mixture prior: log p(x) is closed form."""
        return isinstance(self.decoder, LinearDecoder) and isinstance(
            self.likelihood, GaussianLikelihood
        )

    def exact_log_likelihood(self, x, y=None) -> torch.Tensor:
        """log p(x) per example (B,), in float64, for the linear Gaussian model (factor analysis)."""
        if not self.has_exact_likelihood:
            raise VaeStudioError(
                "the exact log-likelihood needs a linear decoder and a Gaussian likelihood"
                " (--arch linear --likelihood gaussian)"
            )
        weight, offset = self.decoder.affine_map(self._condition(y))
        return linear_gaussian_log_marginal(
            x.flatten(1),
            offset,
            weight,
            self.likelihood.pixel_log_var().flatten(),
            *self.prior.mixture(),
        )

    def evaluation_sums(self, x, y=None):
        if not self.has_exact_likelihood:
            return {}
        return {"exact_log_likelihood": self.exact_log_likelihood(x, y).sum()}

    def evaluation_figures(self, sums, count):
        if "exact_log_likelihood" not in sums:
            return {}
        return {"exact_log_likelihood": float(sums["exact_log_likelihood"]) / count}
