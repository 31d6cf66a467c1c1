"""A VampPrior on the hierarchical VAE's top layer: p(z2) = (1/K) Σ_k q(z2|u_k), the top layer's
posterior of K learned pseudo-inputs, checked against the networks by hand and by Monte Carlo."""

from __future__ import annotations

import math

import torch

from vae_core.config import ModelConfig
from vae_core.models import build_model

SHAPE = (6, 1, 1)


def _model():
    config = ModelConfig(
        family="hvae",
        prior="vamp",
        prior_components=4,
        likelihood="gaussian",
        hidden=(8,),
        lower_latent_dim=3,
        upper_hidden=(8,),
        latent_dim=2,
        input_shape=SHAPE,
    )
    torch.manual_seed(2)
    model = build_model(config).double()
    with torch.no_grad():  # pseudo-inputs apart, so the components are
        model.prior.pseudo_inputs.uniform_(0, 1)
    return model


def _by_hand(model, z):
    """log (1/K) Σ_k N(z; μ_k, σ_k²) with (μ_k, log σ_k²) = q(z2|z1 = E q(z1|u_k)), from the
    networks' layers."""
    with torch.no_grad():
        pseudo = model.prior.pseudo_inputs.clamp(0, 1).flatten(1)
        lower_mean = model.encoder.net(pseudo)[:, :3]
        mean, log_var = model.upper_encoder(lower_mean).chunk(2, dim=-1)
        components = torch.distributions.Independent(
            torch.distributions.Normal(mean, (0.5 * log_var).exp()), 1
        )
        return torch.logsumexp(components.log_prob(z[:, None]), dim=1) - math.log(4)


def test_the_top_layers_prior_is_the_average_posterior_of_the_pseudo_inputs():
    model = _model()
    z = torch.randn(50, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with torch.no_grad():
        assert torch.allclose(model.prior.log_prob(z), _by_hand(model, z), atol=1e-10)


def test_the_top_layers_prior_is_a_density_its_samples_follow():
    """Monte Carlo: ∫ p(z2) dz2 = E_g[p/g] = 1 under a broad Gaussian g, and the mean of the
    prior's own samples is E_g[z p/g], within a few standard errors of 200,000 draws."""
    model = _model()
    generator = torch.Generator().manual_seed(1)
    scale = 3.0
    z = scale * torch.randn(200_000, 2, generator=generator, dtype=torch.float64)
    log_proposal = (
        -0.5 * (z / scale).square() - math.log(scale) - 0.5 * math.log(2 * math.pi)
    ).sum(1)
    with torch.no_grad():
        ratios = (model.prior.log_prob(z) - log_proposal).exp()
        samples = model.prior.sample(200_000, generator=generator)
    total_error = ratios.std() / math.sqrt(len(z))
    assert abs(ratios.mean() - 1) < 4 * total_error and total_error < 0.01
    weighted_mean = (z * ratios[:, None]).mean(0)
    mean_error = (z * ratios[:, None]).std(0) / math.sqrt(len(z))
    sample_error = samples.std(0) / math.sqrt(len(samples))
    assert (weighted_mean - samples.mean(0)).abs().lt(4 * (mean_error + sample_error)).all()
