"""The hierarchical VAE with two stochastic layers (Burda et al. 2015's MNIST model: x -> 200-200
-> z1 (100) -> 100-100 -> z2 (50)): inference q(z1|x) q(z2|z1), generation p(z2) p(z1|z2) p(x|z1),
every conditional a diagonal Gaussian but p(x|z1), which is the likelihood's."""

from __future__ import annotations

import math

import torch
from torch.func import functional_call

from vae_core.choices import check_choice, lookup
from vae_core.config import ModelConfig
from vae_core.errors import VaeStudioError
from vae_core.models.base import LatentModel, free_bits_kl
from vae_core.models.distributions import DiagonalGaussian
from vae_core.models.dreg import ESTIMATORS, DregSamples, dreg_loss
from vae_core.models.likelihoods import LIKELIHOODS
from vae_core.models.networks import ACTIVATIONS, build_networks, mlp
from vae_core.models.priors import PRIORS


def _gaussian(features: torch.Tensor) -> DiagonalGaussian:
    mean, log_var = features.chunk(2, dim=-1)
    return DiagonalGaussian(mean, log_var)


class HierarchicalVAE(LatentModel):
    """-ELBO = E_q[-log p(x|z1)] + β E_q[log q(z1|x) q(z2|z1) - log p(z1|z2) p(z2)]; with K > 1
    importance samples, the IWAE bound over the pair (z1, z2).

    `latent_dim` is z2's size: z2 is what the map shows, what `encode`, `decode`, `embed` and the
    prior speak of, and what `kl_per_dim` splits. `hidden` are the layers between x and z1 (any
    architecture), `upper_hidden` the dense layers between z1 and z2.
    """

    samples_posterior = True
    latent_layers = 2

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        if config.iw_samples < 1:
            raise VaeStudioError(f"importance samples must be at least 1, got {config.iw_samples}")
        check_choice("gradient estimator", config.gradient_estimator, ESTIMATORS)
        if config.free_bits > 0 and (config.iw_samples > 1 or config.gradient_estimator == "dreg"):
            raise VaeStudioError(
                "free bits apply to the ELBO: drop them, or train with --iw-samples 1"
            )
        if config.lower_latent_dim < 1 or any(size < 1 for size in config.upper_hidden):
            raise VaeStudioError(
                f"the hierarchical VAE needs a lower latent layer of 1 or more and positive hidden sizes,"
                f" got {config.lower_latent_dim} and {list(config.upper_hidden)}"
            )
        activation = lookup(ACTIVATIONS, "activation", config.activation)
        lower, upper = config.lower_latent_dim, config.latent_dim
        self.latent_dim = upper
        self.encoder, self.decoder = build_networks(
            config.arch, config.input_shape, config.hidden, lower, 2 * lower, 0, activation
        )
        self.upper_encoder = mlp([lower, *config.upper_hidden, 2 * upper], activation)  # q(z2|z1)
        self.upper_decoder = mlp(
            [upper, *reversed(config.upper_hidden), 2 * lower], activation
        )  # p(z1|z2)
        self.likelihood = lookup(LIKELIHOODS, "likelihood", config.likelihood)(config.input_shape)
        self.prior = lookup(PRIORS, "prior", config.prior).from_config(config, self.encode)

    def prior_module(self):
        return self.prior

    def observe(self, x, generator=None):
        return self.likelihood.observe(x, generator)

    # The four conditionals: each maps a batch (..., B, features) to a diagonal Gaussian.
    def lower_posterior(self, x) -> DiagonalGaussian:
        """q(z1|x)."""
        return _gaussian(self.encoder(x))

    def upper_posterior(self, z1) -> DiagonalGaussian:
        """q(z2|z1)."""
        return _gaussian(self.upper_encoder(z1))

    def lower_prior(self, z2) -> DiagonalGaussian:
        """p(z1|z2)."""
        return _gaussian(self.upper_decoder(z2))

    def encode(self, x, y=None) -> DiagonalGaussian:
        """q(z2|z1) at z1's posterior mean: q(z2|x) itself, a continuous mixture over z1, has no
        closed form, and this is the Gaussian the map draws as the posterior."""
        return self.upper_posterior(self.lower_posterior(x).mean)

    def decode(self, z, y=None):
        """The likelihood's parameters for codes z2 (..., D), through the mean of p(z1|z2)."""
        return self.decoder(self.lower_prior(z).mean)

    def decode_mean(self, z, y=None):
        return self.likelihood.mean(self.decode(z, y)).clamp(0, 1)

    def embed(self, x, y=None):
        return self.encode(x, y).mean

    def _draw(self, x, samples: int | None, generator):
        """Ancestral draws z1 ~ q(z1|x), z2 ~ q(z2|z1): (B, D) each, or (samples, B, D)."""
        lower_posterior = self.lower_posterior(x)
        z1 = lower_posterior.rsample(generator, samples)
        upper_posterior = self.upper_posterior(z1)
        z2 = upper_posterior.rsample(generator)
        return lower_posterior, z1, upper_posterior, z2

    def _layer_terms(
        self, x, samples: int | None, generator, weights: bool = False
    ) -> dict[str, torch.Tensor]:
        """For draws of the posterior, (B,) each or (samples, B): `log_likelihood` log p(x|z1),
        `kl_z1` log q(z1|x) - log p(z1|z2), `kl_z2` the upper layer's KL given z1 and `kl_per_dim`
        its split (..., D); with `weights`, also `log_ratio_z2` log p(z2) - log q(z2|z1)."""
        lower_posterior, z1, upper_posterior, z2 = self._draw(x, samples, generator)
        # KL(q(z2|z1) || p(z2)) given z1: in closed form for the standard normal prior, which
        # keeps the estimate unbiased with less variance than log q(z2|z1) - log p(z2).
        upper_kl, upper_kl_per_dim = self.prior.kl(upper_posterior, z2)
        terms = {
            "log_likelihood": self.likelihood.log_prob(x, self.decoder(z1)),
            "kl_z1": lower_posterior.log_prob(z1) - self.lower_prior(z2).log_prob(z1),
            "kl_z2": upper_kl,
            "kl_per_dim": upper_kl_per_dim,
        }
        if weights:
            terms["log_ratio_z2"] = self.prior.log_prob(z2) - upper_posterior.log_prob(z2)
        return terms

    def elbo_terms(self, x, y=None, generator=None):
        terms = self._layer_terms(x, None, generator)
        return {
            "recon": -terms["log_likelihood"],
            "kl": terms["kl_z1"] + terms["kl_z2"],
            "kl_per_dim": terms["kl_per_dim"],
            "kl_z1": terms["kl_z1"],
            "kl_z2": terms["kl_z2"],
        }

    def loss(self, x, y=None, beta=1.0, generator=None):
        if self.config.iw_samples > 1 or self.config.gradient_estimator == "dreg":
            return self._iwae_loss(x, beta, generator)
        terms = self.elbo_terms(x, y, generator)
        recon, kl = terms["recon"].mean(), terms["kl"].mean()
        free_bits = self.config.free_bits
        kept_kl = free_bits_kl(terms["kl_z2"].mean(), terms["kl_per_dim"], free_bits) + (
            terms["kl_z1"].mean().clamp(min=free_bits * self.config.lower_latent_dim)
        )
        return {
            "loss": recon + beta * kept_kl,
            "recon": recon,
            "kl": kl,
            "kl_per_dim": terms["kl_per_dim"].mean(0),
            "kl_z1": terms["kl_z1"].mean().detach(),
            "kl_z2": terms["kl_z2"].mean().detach(),
        }

    def _log_weights(self, x, samples: int, generator, beta: float = 1.0):
        """log p(x|z1) + β (log p(z1|z2) p(z2) - log q(z1|x) q(z2|z1)) for `samples` draws:
        (samples, B), and the layers' terms of the draws."""
        terms = self._layer_terms(x, samples, generator, weights=True)
        log_weights = terms["log_likelihood"] - beta * (terms["kl_z1"] - terms["log_ratio_z2"])
        return log_weights, terms

    def _dreg_loss(self, x, samples: int, generator, beta: float):
        """The loss with DReG's gradient (vae_core/models/dreg.py), from log weights with q's
        densities at the encoders' weights held fixed and the samples reweighted where the
        weights read them; and the layers' terms of the draws for the curves."""
        dreg = DregSamples()
        lower_posterior, z1, upper_posterior, z2 = self._draw(x, samples, generator)
        z1_seen, z2_seen = dreg.reweighted(z1), dreg.reweighted(z2)
        fixed_weights = {name: p.detach() for name, p in self.upper_encoder.named_parameters()}
        fixed_upper = _gaussian(functional_call(self.upper_encoder, fixed_weights, (z1_seen,)))
        fixed_lower = DiagonalGaussian(
            lower_posterior.mean.detach(), lower_posterior.log_var.detach()
        )
        log_prior = self.lower_prior(z2_seen).log_prob(z1_seen) + self.prior.log_prob(z2_seen)
        log_posterior = fixed_lower.log_prob(z1_seen) + fixed_upper.log_prob(z2_seen)
        log_likelihood = self.likelihood.log_prob(x, self.decoder(z1_seen))
        log_weights = log_likelihood + beta * (log_prior - log_posterior)
        with torch.no_grad():
            upper_kl, upper_kl_per_dim = self.prior.kl(upper_posterior, z2)
            lower_kl = fixed_lower.log_prob(z1) - self.lower_prior(z2).log_prob(z1)
        terms = {"kl_z1": lower_kl, "kl_z2": upper_kl, "kl_per_dim": upper_kl_per_dim}
        return dreg_loss(log_weights, dreg, beta), terms

    def _iwae_loss(self, x, beta, generator):
        samples = self.config.iw_samples
        if self.config.gradient_estimator == "dreg":
            loss, terms = self._dreg_loss(x, samples, generator, beta)
        else:
            log_weights, terms = self._log_weights(x, samples, generator, beta)
            loss = -(torch.logsumexp(log_weights, dim=0) - math.log(samples)).mean()
        with torch.no_grad():
            lower, upper = terms["kl_z1"][0].mean(), terms["kl_z2"][0].mean()
            kl = lower + upper
        # For the curves, the bound splits as if its KL part were the single-sample one.
        return {
            "loss": loss,
            "recon": loss - beta * kl,
            "kl": kl,
            "kl_per_dim": terms["kl_per_dim"][0].mean(0).detach(),
            "kl_z1": lower,
            "kl_z2": upper,
        }

    def log_importance_weights(self, x, y=None, samples=1, generator=None):
        return self._log_weights(x, samples, generator)[0]

    def sample(self, count, y=None, generator=None):
        device = next(self.parameters()).device
        z2 = self.prior.sample(count, generator=generator, device=device)
        z1 = self.lower_prior(z2).rsample(generator)
        return self.likelihood.mean(self.decoder(z1)).clamp(0, 1)

    def layer_codes(self, x, y=None) -> dict[str, torch.Tensor]:
        """Each stochastic layer's posterior mean along the mean path, (B, D) per layer: what active
        units are counted on (Burda et al.: a unit is active when its posterior mean varies with x)."""
        lower_mean = self.lower_posterior(x).mean
        return {"z1": lower_mean, "z2": self.upper_posterior(lower_mean).mean}
