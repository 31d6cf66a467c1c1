"""VQ-VAE (van den Oord et al., 2017): a deterministic encoder to N vectors, each snapped to the
nearest of K codebook vectors; generation samples code indices from a prior fitted to the codes."""

from __future__ import annotations

import math

import torch

from vae_core.choices import lookup
from vae_core.config import ModelConfig
from vae_core.errors import VaeStudioError
from vae_core.models.base import LatentModel
from vae_core.models.code_priors import CODE_PRIORS
from vae_core.models.likelihoods import LIKELIHOODS
from vae_core.models.networks import ACTIVATIONS, build_code_networks
from vae_core.models.quantizer import VectorQuantizer, codebook_usage, perplexity

# Examples of each training batch the code prior learns from: it needs far fewer per step than
# the autoencoder, and an autoregressive prior on the whole batch would triple the step's cost.
CODE_PRIOR_BATCH = 32


class VQVAE(LatentModel):
    """Loss: -log p(x|e) + ||sg(z_e) - e||² + commitment ||z_e - sg(e)||² + the code prior's NLL.

    As in the paper, the posterior is one-hot and the prior uniform while training, so the KL
    term is the constant N log K: β has no effect. The code prior learns on the side (its NLL
    reaches no other weight) and is what `sample` draws from.
    """

    has_codebook = True

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        if config.commitment < 0:
            raise VaeStudioError(
                f"the commitment weight must not be negative, got {config.commitment}"
            )
        self.encoder, self.decoder = build_code_networks(
            config.arch,
            config.input_shape,
            config.hidden,
            config.latent_dim,
            config.code_positions,
            lookup(ACTIVATIONS, "activation", config.activation),
        )
        self.positions = self.encoder.positions
        self.likelihood = lookup(LIKELIHOODS, "likelihood", config.likelihood)(config.input_shape)
        self.quantizer = VectorQuantizer(
            config.codebook_size,
            config.latent_dim,
            config.ema_decay if config.codebook_ema else None,
            config.reset_dead_codes,
        )
        self.code_prior = lookup(CODE_PRIORS, "code prior", config.code_prior)(
            self.positions, config.codebook_size
        )
        # The KL of a one-hot posterior to the uniform prior over K codes, at every position.
        self.code_kl = self.positions * math.log(config.codebook_size)

    def observe(self, x, generator=None):
        return self.likelihood.observe(x, generator)

    def encode(self, x, y=None) -> torch.Tensor:
        """The pre-quantisation code z_e: (B, N, D)."""
        return self.encoder(x)

    def decode(self, z, y=None):
        """The likelihood's parameters from code vectors (..., N, D), taken as they are."""
        return self.decoder(z)

    def decode_mean(self, z, y=None):
        """Images from codes (..., N, D), each vector first snapped to its codebook vector."""
        return self.decode_indices(self.quantizer.nearest(z))

    def decode_indices(self, indices: torch.Tensor) -> torch.Tensor:
        """Images from code indices (B, N)."""
        return self.likelihood.mean(self.decoder(self.quantizer.lookup(indices))).clamp(0, 1)

    def code_indices(self, x) -> torch.Tensor:
        """The codes chosen for images x: (B, N)."""
        return self.quantizer.nearest(self.encode(x))

    def embed(self, x, y=None):
        """The mean of the N pre-quantisation vectors: one point of D numbers per image."""
        return self.encode(x).mean(1)

    def _kl_per_dim(self, device) -> torch.Tensor:
        # Spread evenly over the D numbers of a code vector: a uniform prior favours none of them.
        return torch.full(
            (self.config.latent_dim,), self.code_kl / self.config.latent_dim, device=device
        )

    def elbo_terms(self, x, y=None, generator=None):
        quantized = self.quantizer(self.encode(x))
        recon = -self.likelihood.log_prob(x, self.decoder(quantized.codes))
        kl_per_dim = self._kl_per_dim(x.device).expand(len(x), -1)
        return {"recon": recon, "kl": kl_per_dim.sum(-1), "kl_per_dim": kl_per_dim}

    def loss(self, x, y=None, beta=1.0, generator=None):
        encoded = self.encode(x)
        quantized = self.quantizer(encoded)
        recon = -self.likelihood.log_prob(x, self.decoder(quantized.codes)).mean()
        codebook_loss = quantized.codebook_loss.mean()
        commitment_loss = quantized.commitment_loss.mean()
        code_prior_nll = -self.code_prior.log_prob(quantized.indices[:CODE_PRIOR_BATCH]).mean()
        counts = self.quantizer.counts(quantized.indices)
        if self.training:
            self.quantizer.update(encoded, quantized.indices, generator)
        kl_per_dim = self._kl_per_dim(x.device)
        return {
            "loss": recon
            + codebook_loss
            + self.config.commitment * commitment_loss
            + code_prior_nll,
            "recon": recon,
            "kl": kl_per_dim.sum(),
            "kl_per_dim": kl_per_dim,
            "codebook_loss": codebook_loss.detach(),
            "commitment_loss": commitment_loss.detach(),
            "code_prior_nll": code_prior_nll.detach(),
            "perplexity": perplexity(counts),
            "codebook_usage": codebook_usage(counts),
        }

    def sample(self, count, y=None, generator=None):
        return self.decode_indices(self.code_prior.sample(count, generator=generator))

    def log_importance_weights(self, x, y=None, samples=1, generator=None):
        raise VaeStudioError(
            "VQ-VAE has a deterministic encoder, so importance sampling does not apply: evaluate it with --iw-samples 1"
        )

    def evaluation_sums(self, x, y=None):
        indices = self.code_indices(x)
        return {
            "code_counts": self.quantizer.counts(indices),
            "code_prior_nll": -self.code_prior.log_prob(indices).sum(),
        }

    def evaluation_figures(self, sums, count):
        counts = sums["code_counts"]
        return {
            "perplexity": float(perplexity(counts)),
            "codebook_usage": float(codebook_usage(counts)),
            "codebook_size": self.quantizer.codebook_size,
            # With the fitted code prior in place of the uniform one: -log p(x) <= recon + this.
            "code_prior_nll": float(sums["code_prior_nll"]) / count,
        }
