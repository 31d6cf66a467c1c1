"""Priors of the Gaussian VAE: standard normal, mixture of Gaussians, VampPrior."""

from __future__ import annotations

import math

import pytest
import torch

from vae_core.cli import main
from vae_core.config import ModelConfig
from vae_core.errors import VaeStudioError
from vae_core.models import build_model
from vae_core.models.distributions import DiagonalGaussian
from vae_core.models.priors import PRIORS, MixtureOfGaussiansPrior, StandardNormalPrior

SHAPE = (1, 8, 8)


def _mixture(latent_dim, components, seed=0):
    torch.manual_seed(seed)
    prior = MixtureOfGaussiansPrior(latent_dim, components)
    with torch.no_grad():
        prior.log_vars.copy_(0.4 * torch.randn(components, latent_dim))
        prior.logits.copy_(torch.randn(components))
    return prior


def test_mixture_of_one_standard_component_is_the_standard_normal():
    mixture = MixtureOfGaussiansPrior(3, 1)
    with torch.no_grad():
        mixture.means.zero_()
        mixture.log_vars.zero_()
    standard = StandardNormalPrior(3)
    z = 2 * torch.randn(50, 3)
    assert torch.allclose(mixture.log_prob(z), standard.log_prob(z), atol=1e-5)
    points = torch.randn(10, 2)
    assert torch.allclose(
        mixture.plane_log_prob(points, (0, 2)), standard.plane_log_prob(points, (0, 2)), atol=1e-5
    )
    # Its Monte Carlo KL estimate is unbiased for the standard prior's closed form.
    posterior = DiagonalGaussian(
        torch.tensor([[0.5, -1.0, 0.2]]), torch.tensor([[-1.0, 0.3, -0.2]])
    )
    z = posterior.rsample(torch.Generator().manual_seed(0), 200_000)[:, 0]  # (S, D)
    posterior_many = DiagonalGaussian(posterior.mean.expand_as(z), posterior.log_var.expand_as(z))
    estimate, per_dim = mixture.kl(posterior_many, z)
    exact, exact_per_dim = standard.kl(posterior, None)
    assert abs(estimate.mean() - exact[0]) < 0.02
    assert torch.allclose(per_dim.mean(0), exact_per_dim[0], atol=0.02)


def test_mixture_density_integrates_to_one_on_a_grid():
    prior = _mixture(2, 4)
    axis = torch.linspace(-9, 9, 601)
    grid = torch.stack(torch.meshgrid(axis, axis, indexing="ij"), dim=-1)
    with torch.no_grad():
        total = prior.log_prob(grid).exp().sum() * (axis[1] - axis[0]) ** 2
    assert abs(float(total) - 1.0) < 1e-3


def test_plane_density_is_the_marginal_of_the_full_density():
    prior = _mixture(3, 3)
    points = torch.tensor([[0.3, -0.5], [1.0, 1.2], [-2.0, 0.1]])
    axis = torch.linspace(-10, 10, 4001)
    # z = (p0, z1, p1): integrate the full density over dimension 1 numerically.
    full = torch.stack(
        [
            points[:, None, 0].expand(3, len(axis)),
            axis.expand(3, -1),
            points[:, None, 1].expand(3, len(axis)),
        ],
        -1,
    )
    with torch.no_grad():
        marginal = (prior.log_prob(full).exp().sum(-1) * (axis[1] - axis[0])).log()
        plane = prior.plane_log_prob(points, (0, 2))
    assert torch.allclose(plane, marginal, atol=1e-4)


def test_mixture_kl_estimate_matches_quadrature_in_one_dimension():
    prior = _mixture(1, 3, seed=4)
    posterior = DiagonalGaussian(torch.tensor([[0.7]]), torch.tensor([[-0.8]]))
    axis = torch.linspace(-12, 12, 20001)[:, None]
    with torch.no_grad():
        log_q = posterior.log_prob(axis)
        exact = float((log_q.exp() * (log_q - prior.log_prob(axis))).sum() * (axis[1] - axis[0]))
        z = posterior.rsample(torch.Generator().manual_seed(1), 100_000)[:, 0]
        posterior_many = DiagonalGaussian(
            posterior.mean.expand_as(z), posterior.log_var.expand_as(z)
        )
        estimate, per_dim = prior.kl(posterior_many, z)
    assert abs(float(estimate.mean()) - exact) < 0.01
    assert torch.allclose(per_dim[:, 0], estimate)  # one dimension holds all of it


def test_mixture_samples_have_the_mixture_moments():
    prior = _mixture(2, 3, seed=2)
    with torch.no_grad():
        samples = prior.sample(200_000, generator=torch.Generator().manual_seed(0))
        means, log_vars, log_weights = prior.mixture()
        weights = log_weights.exp()[:, None]
        mean = (weights * means).sum(0)
        variance = (weights * (log_vars.exp() + means.square())).sum(0) - mean.square()
    assert torch.allclose(samples.mean(0), mean, atol=0.02)
    assert torch.allclose(samples.var(0), variance, atol=0.03)


def _vamp_model(components=5):
    torch.manual_seed(0)
    return build_model(
        ModelConfig(
            prior="vamp", prior_components=components, hidden=(16,), latent_dim=2, input_shape=SHAPE
        )
    )


def test_vamp_prior_is_the_average_posterior_of_its_pseudo_inputs():
    model = _vamp_model()
    z = torch.randn(6, 2)
    posterior = model.encode(model.prior.pseudo_inputs.clamp(0, 1))
    per_input = torch.stack(
        [DiagonalGaussian(posterior.mean[k], posterior.log_var[k]).log_prob(z) for k in range(5)]
    )
    expected = torch.logsumexp(per_input, 0) - math.log(5)
    assert torch.allclose(model.prior.log_prob(z), expected, atol=1e-5)


def test_vamp_prior_trains_its_pseudo_inputs_and_keeps_encoder_weights_unshared():
    model = _vamp_model()
    assert not any(name.startswith("prior.") and "encoder" in name for name in model.state_dict())
    x = torch.rand(4, *SHAPE).round()
    model.loss(x)["loss"].backward()
    assert model.prior.pseudo_inputs.grad.abs().sum() > 0
    assert model.encoder.net[0].weight.grad.abs().sum() > 0


def test_vamp_prior_needs_an_unconditional_encoder():
    with pytest.raises(VaeStudioError, match="VampPrior"):
        build_model(
            ModelConfig(family="cvae", prior="vamp", num_classes=3, hidden=(8,), input_shape=SHAPE)
        )


@pytest.mark.parametrize("name", sorted(PRIORS))
def test_every_prior_draws_on_a_plane_and_samples(name):
    torch.manual_seed(0)
    model = build_model(
        ModelConfig(prior=name, prior_components=3, hidden=(8,), latent_dim=4, input_shape=SHAPE)
    )
    axis = torch.linspace(-3, 3, 5)
    grid = torch.stack(torch.meshgrid(axis, axis, indexing="ij"), dim=-1)  # (5, 5, 2)
    with torch.no_grad():
        density = model.prior.plane_log_prob(grid, (1, 3))
        images = model.sample(7)
    assert density.shape == (5, 5) and torch.isfinite(density).all()
    assert images.shape == (7, *SHAPE) and 0 <= images.min() and images.max() <= 1
    with pytest.raises(VaeStudioError, match="two different latent dimensions"):
        model.prior.plane_log_prob(grid, (1, 1))


def test_unknown_prior_is_one_clear_error():
    with pytest.raises(
        VaeStudioError, match="unknown prior 'flat' \\(choose from normal, mog, vamp\\)"
    ):
        build_model(ModelConfig(prior="flat", input_shape=SHAPE))


def test_priors_are_chosen_from_the_command_line(tmp_path):
    config = tmp_path / "small.toml"
    config.write_text('[data]\ndataset = "glyphs"\nsize = 200\n', encoding="utf-8")
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--out",
                str(run),
                "--config",
                str(config),
                "--prior",
                "mog",
                "--prior-components",
                "4",
                "--hidden",
                "16",
                "--max-steps",
                "5",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    text = (run / "config.json").read_text()
    assert '"prior": "mog"' in text and '"prior_components": 4' in text
