"""The true posterior on a grid, log p(x) by quadrature, importance samples and the ELBO identity,
checked against the linear Gaussian model's closed forms and against importance sampling."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from test_linear_gaussian import (
    _draw_data,
    _linear_model,
    _orthogonal_decoder,
    _set_encoder_to_true_posterior,
)

from vae_core.cli import main
from vae_core.config import ModelConfig
from vae_core.errors import VaeStudioError
from vae_core.evaluation.elbo_identity import elbo_identity
from vae_core.evaluation.importance_samples import importance_samples, weigh
from vae_core.evaluation.true_posterior import (
    log_likelihood_quadrature,
    posterior_grid,
    posterior_heat_map,
    quadrature_applies,
)
from vae_core.models import build_model


def _exact(model, x) -> float:
    with torch.no_grad():
        return float(model.exact_log_likelihood(x[None])[0])


def _small_mlp(latent_dim=2, seed=4):
    """A nonlinear decoder on 6x6 Gaussian images: no closed form for log p(x)."""
    config = ModelConfig(
        input_shape=(1, 6, 6), hidden=(16,), latent_dim=latent_dim, likelihood="gaussian"
    )
    torch.manual_seed(seed)
    model = build_model(config).double()
    with torch.no_grad():
        model.likelihood.log_var.fill_(math.log(0.3))
    return model, torch.rand(
        1, 6, 6, generator=torch.Generator().manual_seed(seed), dtype=torch.float64
    )


@pytest.mark.parametrize("shift", [0.0, 0.8])
def test_quadrature_gives_the_linear_gaussian_models_exact_log_likelihood(shift):
    model = _linear_model()
    weight, bias = _orthogonal_decoder(model)
    _set_encoder_to_true_posterior(
        model, weight, bias, mean_shift=shift
    )  # a good encoder, then a poor one
    for x in _draw_data(weight, bias, 3):
        # Well within the 0.05 nats asked for: the midpoint rule is all but exact on a smooth density.
        assert log_likelihood_quadrature(model, x) == pytest.approx(_exact(model, x), abs=1e-5)


def test_quadrature_under_a_mixture_prior_is_exact_too():
    model = _linear_model(prior="mog", components=3)
    weight, bias = _orthogonal_decoder(model)
    with torch.no_grad():
        model.prior.means.copy_(
            torch.tensor([[-2.0, 0.0], [2.0, 1.0], [0.0, -2.5]], dtype=torch.float64)
        )
    for x in _draw_data(weight, bias, 3, seed=7):
        assert log_likelihood_quadrature(model, x) == pytest.approx(_exact(model, x), abs=1e-5)


def test_quadrature_agrees_with_importance_sampling_at_large_k_on_a_nonlinear_model():
    model, x = _small_mlp()
    quadrature = log_likelihood_quadrature(model, x)
    samples = importance_samples(model, x, None, 200_000, "posterior", seed=1)
    assert samples.standard_error < 0.02
    assert samples.log_likelihood == pytest.approx(
        quadrature, abs=max(0.05, 4 * samples.standard_error)
    )


def test_importance_weights_sum_to_one_and_their_ess_is_between_one_and_k():
    model, x = _small_mlp()
    for proposal in ("prior", "posterior"):
        samples = importance_samples(model, x, None, 500, proposal)
        assert samples.codes.shape == (500, 2) and samples.weights.shape == (500,)
        assert samples.weights.sum() == pytest.approx(1.0, abs=1e-12)
        assert (samples.weights >= 0).all()
        assert 1.0 <= samples.effective_sample_size <= 500
        assert samples.effective_sample_size == pytest.approx(1 / np.square(samples.weights).sum())


def test_equal_weights_have_an_effective_sample_size_of_k():
    weights, size, log_mean, error = weigh(torch.full((250,), -3.5))
    assert torch.allclose(weights, torch.full((250,), 1 / 250, dtype=torch.float64))
    assert size == pytest.approx(250.0)
    assert log_mean == pytest.approx(-3.5)
    assert error == pytest.approx(0.0, abs=1e-12)


def test_one_dominant_weight_has_an_effective_sample_size_of_one():
    _, size, log_mean, _ = weigh(torch.tensor([0.0, -200.0, -300.0, -250.0]))
    assert size == pytest.approx(1.0)
    assert log_mean == pytest.approx(-math.log(4))


def test_the_identity_holds_on_the_grid_and_the_grid_is_normalised():
    model, x = _small_mlp()
    grid = posterior_grid(model, x, None, ((-4.0, 4.0), (-4.0, 4.0)), resolution=40)
    assert grid.log_joint.shape == grid.posterior.shape == grid.q.shape == (40, 40)
    assert grid.elbo + grid.kl == pytest.approx(grid.log_normaliser, abs=1e-9)
    assert grid.kl >= 0
    assert grid.posterior.sum() * grid.cell_area == pytest.approx(1.0)
    assert grid.q.sum() * grid.cell_area == pytest.approx(1.0)
    assert not grid.is_slice


def test_the_identity_of_the_linear_gaussian_model_matches_its_closed_forms():
    model = _linear_model()
    weight, bias = _orthogonal_decoder(model)
    precision = _set_encoder_to_true_posterior(model, weight, bias, mean_shift=0.5)
    x = _draw_data(weight, bias, 1)[0]
    identity = elbo_identity(model, x)
    assert identity.method == "quadrature"
    assert identity.elbo + identity.kl == pytest.approx(identity.log_likelihood, abs=1e-9)
    assert identity.log_likelihood == pytest.approx(_exact(model, x), abs=1e-4)
    # q is the posterior shifted by δ: KL(q || p(z|x)) = δᵀ Σ⁻¹ δ / 2.
    delta = torch.full((2,), 0.5, dtype=torch.float64)
    assert identity.kl == pytest.approx(float(delta @ precision @ delta) / 2, abs=1e-3)


def test_above_two_dimensions_the_identity_is_estimated_by_importance_sampling():
    model, x = _small_mlp(latent_dim=3)
    identity = elbo_identity(model, x)
    assert identity.method == "importance sampling" and identity.samples == 5000
    assert identity.kl == pytest.approx(identity.log_likelihood - identity.elbo)
    assert identity.kl >= 0  # Jensen, for the same draws
    assert 0 < identity.standard_error < 0.5


def test_a_plane_of_a_higher_dimensional_space_is_a_slice_through_its_origin():
    model, x = _small_mlp(latent_dim=3)
    origin, basis = np.array([0.0, 0.0, 0.7]), np.eye(2, 3)
    grid = posterior_grid(model, x, None, ((-4.0, 4.0), (-4.0, 4.0)), 30, origin, basis)
    assert grid.is_slice
    assert grid.elbo + grid.kl == pytest.approx(grid.log_normaliser, abs=1e-9)
    codes = torch.tensor([[grid.xs[3], grid.ys[5], 0.7]], dtype=torch.float64)
    with torch.no_grad():
        expected = float(model.joint_log_prob(x[None], codes[:, None, :])[0, 0])
    assert grid.log_joint[5, 3] == pytest.approx(expected)


def test_the_heat_map_zooms_onto_the_posteriors_mass_within_the_visible_box():
    model = _linear_model()
    weight, bias = _orthogonal_decoder(model)
    _set_encoder_to_true_posterior(model, weight, bias)
    x = _draw_data(weight, bias, 1)[0]
    visible = ((-6.0, 6.0), (-6.0, 6.0))
    grid = posterior_heat_map(model, x, None, visible, resolution=32)
    (left, right), (bottom, top) = grid.box
    assert -6 <= left < right <= 6 and -6 <= bottom < top <= 6
    assert (
        right - left < 12 and top - bottom < 12
    )  # smaller than the visible box: a narrow posterior
    assert grid.log_normaliser == pytest.approx(_exact(model, x), abs=1e-3)


@pytest.mark.parametrize("shift, widening", [(3.0, 0.0), (0.0, 4.0)])
def test_the_identity_holds_q_far_from_or_far_wider_than_the_posterior(shift, widening):
    model = _linear_model()
    weight, bias = _orthogonal_decoder(model)
    _set_encoder_to_true_posterior(model, weight, bias, mean_shift=shift)
    with torch.no_grad():
        (layer,) = model.encoder.net
        layer.bias[2:] += 2 * widening  # log σ² + 2·4: a q fifty times wider
    x = _draw_data(weight, bias, 1)[0]
    identity = elbo_identity(model, x)
    assert identity.log_likelihood == pytest.approx(_exact(model, x), abs=1e-3)
    assert identity.elbo + identity.kl == pytest.approx(identity.log_likelihood, abs=1e-9)
    with torch.no_grad():
        elbo = model.log_importance_weights(
            x[None], samples=20_000, generator=torch.Generator().manual_seed(0)
        ).mean()
    assert identity.elbo == pytest.approx(float(elbo), rel=0.01)


def test_quadrature_applies_to_two_dimensional_gaussian_latents_only():
    assert quadrature_applies(_small_mlp()[0])
    assert not quadrature_applies(_small_mlp(latent_dim=3)[0])
    vq = build_model(ModelConfig(family="vqvae", input_shape=(1, 8, 8), hidden=(16,), latent_dim=2))
    assert not quadrature_applies(vq)
    with pytest.raises(VaeStudioError, match="2-D latent space"):
        log_likelihood_quadrature(
            _small_mlp(latent_dim=3)[0], torch.rand(1, 6, 6, dtype=torch.float64)
        )


def test_analyze_prints_the_quadrature_log_likelihood(tmp_path, capsys):
    run = tmp_path / "run"
    config = tmp_path / "small.toml"
    config.write_text('[data]\ndataset = "glyphs"\nsize = 300\n', encoding="utf-8")
    assert (
        main(
            [
                "train",
                "--out",
                str(run),
                "--config",
                str(config),
                "--arch",
                "linear",
                "--likelihood",
                "gaussian",
                "--latent-dim",
                "2",
                "--max-steps",
                "20",
                "--batch-size",
                "50",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["analyze", str(run), "--steps", "5", "--k", "10", "--device", "cpu"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["log_likelihood_quadrature"] == pytest.approx(
        figures["exact_log_likelihood"], abs=0.05
    )


def test_a_model_whose_log_joint_is_not_finite_is_said_in_one_line():
    model, x = _small_mlp()
    with torch.no_grad():
        model.likelihood.log_var.fill_(float("nan"))
    with pytest.raises(VaeStudioError, match="not finite"):
        log_likelihood_quadrature(model, x)
