"""The reparameterization and score-function estimators of the ELBO's gradient with respect to
q(z|x)'s mean and log-variance, checked on the linear Gaussian model where that gradient is
closed form:

    ELBO = E_q[log N(x; Wz + b, ψI)] + E_q[log N(z; 0, I)] + H(q)
         = const - |x - Wμ - b|² / 2ψ - Σ_d σ²_d G_dd / 2 - Σ_d (μ²_d + σ²_d) / 2 + Σ_d s_d / 2,

with G = WᵀW / ψ and s = log σ², so ∂/∂μ = Wᵀ(x - Wμ - b) / ψ - μ and ∂/∂s = ½ - σ² (1 + G_dd) / 2.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from test_linear_gaussian import (
    NOISE_VAR,
    _draw_data,
    _linear_model,
    _orthogonal_decoder,
    _set_encoder_to_true_posterior,
)

from vae_core.cli import main
from vae_core.config import ModelConfig
from vae_core.errors import VaeStudioError
from vae_core.evaluation.gradient_estimators import (
    gradient_variance,
    gradient_variance_study,
)
from vae_core.models import build_model

SAMPLE_COUNTS = (1, 10, 100, 1000)


def _model_off_the_posterior():
    """The linear model with an encoder whose mean and log-variance are both off the true
    posterior's, so that neither half of the gradient is zero."""
    model = _linear_model()
    weight, bias = _orthogonal_decoder(model)
    _set_encoder_to_true_posterior(model, weight, bias, mean_shift=0.6)
    with torch.no_grad():
        model.encoder.net[0].bias[2:] += torch.tensor([0.8, -0.5], dtype=torch.float64)
    return model, weight, bias


def _closed_form_gradient(model, weight, bias, x):
    """(B, 2D): ∂ELBO/∂μ, then ∂ELBO/∂log σ², per input."""
    posterior = model.encode(x)
    mean, variance = posterior.mean.detach(), posterior.log_var.detach().exp()
    residual = x.flatten(1) - mean @ weight.T - bias
    gram_diagonal = (weight.square().sum(0) / NOISE_VAR)[None, :]
    return torch.cat(
        [residual @ weight / NOISE_VAR - mean, 0.5 - variance * (1 + gram_diagonal) / 2], -1
    )


def _assert_within(estimate, error, truth, standard_errors=4.0):
    np.testing.assert_array_less(
        np.abs(np.asarray(estimate) - np.asarray(truth)), standard_errors * np.asarray(error) + 1e-9
    )


@pytest.fixture(scope="module")
def linear_study():
    model, weight, bias = _model_off_the_posterior()
    x = _draw_data(weight, bias, 1)
    report = gradient_variance_study(model, x[0], sample_counts=SAMPLE_COUNTS, repeats=20, seed=0)
    return report, _closed_form_gradient(model, weight, bias, x)[0].numpy()


def test_both_estimators_agree_with_the_closed_form_and_with_each_other(linear_study):
    report, truth = linear_study
    reparameterized, score = report.reparameterization, report.score_function
    assert np.all(np.abs(truth) > 0.1)  # a gradient worth estimating in every component
    _assert_within(reparameterized.mean, reparameterized.mean_error, truth)
    _assert_within(score.mean, score.mean_error, truth)
    _assert_within(
        reparameterized.mean, np.hypot(reparameterized.mean_error, score.mean_error), score.mean
    )


def test_the_reparameterized_variance_is_the_smaller_at_every_k(linear_study):
    report, _ = linear_study
    assert report.sample_counts == SAMPLE_COUNTS
    for reparameterized, score in zip(
        report.reparameterization.variance, report.score_function.variance
    ):
        assert 0 < reparameterized < score
    assert min(report.variance_ratio) > 10
    assert report.reparameterization.signal_to_noise[0] > report.score_function.signal_to_noise[0]


def test_every_variance_has_an_error_bar_below_it(linear_study):
    report, _ = linear_study
    for figures in (report.reparameterization, report.score_function):
        assert all(
            0 < error < variance
            for error, variance in zip(figures.variance_error, figures.variance)
        )


def test_the_reparameterized_variance_is_the_closed_form_at_every_k(linear_study):
    """Here ∇_z log p(x, z) = g_μ - H σ ε with H = 1 + diag G (G is diagonal) and g_μ the μ-part of
    the gradient, so one draw's μ-part is g_μ - H σ ε and its log σ²-part g_μ σ ε / 2 - H σ² ε² / 2
    (+ ½): a trace of Σ_d H²σ² + g_μ²σ²/4 + H²σ⁴/2, divided by K for K draws."""
    report, truth = linear_study
    model, weight, _ = _model_off_the_posterior()
    variance = (
        model.encoder.net[0].bias[2:].detach().exp()
    )  # the encoder's log σ² for any x: W_enc acts on the mean only
    scale = 1 + weight.square().sum(0) / NOISE_VAR
    slope = torch.as_tensor(truth[:2])
    one_draw = float(
        (
            scale.square() * variance
            + slope.square() * variance / 4
            + scale.square() * variance.square() / 2
        ).sum()
    )
    figures = report.reparameterization
    for count, measured, error in zip(
        figures.sample_counts, figures.variance, figures.variance_error
    ):
        assert abs(measured - one_draw / count) < 4 * error


def test_a_batch_gives_the_mean_over_its_inputs():
    model, weight, bias = _model_off_the_posterior()
    x = _draw_data(weight, bias, 4, seed=5)
    report = gradient_variance_study(model, x, sample_counts=(1, 10), repeats=500, seed=2)
    assert report.inputs == 4
    truth = _closed_form_gradient(model, weight, bias, x).mean(0).numpy()
    _assert_within(report.reparameterization.mean, report.reparameterization.mean_error, truth)
    _assert_within(report.score_function.mean, report.score_function.mean_error, truth)


def test_the_study_is_seeded():
    model, weight, bias = _model_off_the_posterior()
    x = _draw_data(weight, bias, 1)[0]
    first, second = (
        gradient_variance(model, x, sample_counts=(1, 10), repeats=5, seed=7) for _ in range(2)
    )
    assert first == second
    assert set(first) == {"reparameterization", "score_function"} and set(
        first["score_function"]
    ) == {1, 10}


def test_a_conditional_model_is_studied_for_its_label():
    config = ModelConfig(
        family="cvae", input_shape=(1, 4, 4), hidden=(8,), latent_dim=2, num_classes=3
    )
    model = build_model(config)
    report = gradient_variance_study(
        model, torch.rand(1, 4, 4), y=2, sample_counts=(1, 10), repeats=4
    )
    assert all(math.isfinite(value) for value in report.score_function.variance)


@pytest.mark.parametrize("family", ["vqvae", "hvae"])
def test_families_without_one_gaussian_layer_are_refused_in_one_line(family):
    model = build_model(
        ModelConfig(family=family, input_shape=(1, 4, 4), hidden=(8,), latent_dim=2)
    )
    with pytest.raises(VaeStudioError, match="one Gaussian latent layer"):
        gradient_variance_study(model, torch.rand(1, 4, 4), sample_counts=(1,), repeats=2)


def test_analyze_reports_the_gradient_variance_at_each_k(tmp_path, capsys):
    images, run_dir = tmp_path / "images.npy", tmp_path / "run"
    np.save(images, np.random.default_rng(0).integers(0, 256, (60, 8, 8), dtype=np.uint8))
    training = [
        "--dataset",
        f"npy:{images}",
        "--max-steps",
        "2",
        "--batch-size",
        "10",
        "--hidden",
        "16",
        "--device",
        "cpu",
    ]
    assert main(["train", "--out", str(run_dir), *training]) == 0
    capsys.readouterr()
    assert main(["analyze", str(run_dir), "--steps", "1", "--k", "1", "10", "--device", "cpu"]) == 0
    printed = json.loads(capsys.readouterr().out)
    figures, errors = printed["gradient_variance"], printed["gradient_variance_se"]
    assert set(figures) == set(errors) == {"reparameterization", "score_function"}
    for name, variances in figures.items():
        assert list(variances) == list(errors[name]) == ["1", "10", "100", "1000"]
        assert all(0 < errors[name][k] < value for k, value in variances.items())
