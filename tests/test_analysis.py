"""Amortization and approximation gaps, and importance sampling with two proposals, checked on
the linear Gaussian model where the posterior and log p(x) are known exactly."""

from __future__ import annotations

import math

import pytest
import torch
from test_linear_gaussian import (
    _draw_data,
    _linear_model,
    _orthogonal_decoder,
    _set_encoder_to_true_posterior,
)

from vae_core.config import ModelConfig
from vae_core.errors import VaeStudioError
from vae_core.evaluation import analysis
from vae_core.evaluation.analysis import amortization_gap, importance_sampling_study
from vae_core.models import build_model


def _model_and_input(mean_shift=0.0):
    model = _linear_model()
    weight, bias = _orthogonal_decoder(model)
    precision = _set_encoder_to_true_posterior(model, weight, bias, mean_shift)
    return model, _draw_data(weight, bias, 1)[0], precision


def test_no_gaps_when_the_encoder_gives_the_true_posterior():
    model, x, _ = _model_and_input()
    report = amortization_gap(model, x, steps=60)
    assert report.exact_log_likelihood is not None
    assert report.amortized_elbo == pytest.approx(report.exact_log_likelihood, abs=1e-6)
    assert report.log_likelihood == pytest.approx(report.exact_log_likelihood, abs=0.01)
    assert abs(report.amortization_gap) < 0.05
    assert abs(report.approximation_gap) < 0.05
    assert len(report.elbo_trace) == 60


def test_optimising_a_shifted_posterior_recovers_its_kl():
    shift = 0.6
    model, x, precision = _model_and_input(mean_shift=shift)
    report = amortization_gap(model, x, steps=200)
    # KL(N(μ + δ, Σ) || N(μ, Σ)) = δ^T Σ^-1 δ / 2: what the encoder's mistake costs.
    delta = torch.full((2,), shift, dtype=torch.float64)
    kl = float(delta @ precision @ delta) / 2
    assert report.exact_log_likelihood - report.amortized_elbo == pytest.approx(kl, abs=0.1)
    assert report.amortization_gap == pytest.approx(kl, abs=0.1)
    # The true posterior is a diagonal Gaussian here, so optimising closes the gap.
    assert abs(report.approximation_gap) < 0.05


def test_importance_sampling_with_the_posterior_is_exact_and_with_the_prior_is_not():
    model, x, _ = _model_and_input()
    report = importance_sampling_study(model, x, sample_counts=(10, 1000), repeats=8)
    exact = report.exact_log_likelihood
    by_key = {(e.proposal, e.samples): e for e in report.estimates}
    for count in (10, 1000):
        posterior = by_key[("posterior", count)]
        assert posterior.log_likelihood == pytest.approx(exact, abs=1e-6)
        assert posterior.effective_sample_size == pytest.approx(count)
        assert posterior.spread < 1e-6
    few, many = by_key[("prior", 10)], by_key[("prior", 1000)]
    assert many.spread < few.spread
    assert many.effective_sample_size < 1000 / 2
    assert abs(many.log_likelihood - exact) < abs(few.log_likelihood - exact) + 0.05


def test_analysis_takes_one_image_of_a_gaussian_latent_model():
    model, x, _ = _model_and_input()
    with pytest.raises(VaeStudioError, match="one image"):
        amortization_gap(model, x[None])
    vq = build_model(ModelConfig(family="vqvae", hidden=(8,), input_shape=(1, 8, 8)))
    with pytest.raises(VaeStudioError, match="Gaussian posterior"):
        importance_sampling_study(vq, torch.rand(1, 8, 8))


def test_conditional_model_is_analysed_for_its_label():
    torch.manual_seed(0)
    model = build_model(
        ModelConfig(family="cvae", hidden=(16,), input_shape=(1, 8, 8), num_classes=3)
    )
    x = torch.rand(1, 8, 8)
    report = amortization_gap(model, x, y=2, steps=50, eval_samples=500, iw_samples=500)
    assert report.exact_log_likelihood is None
    assert report.optimized_elbo > report.amortized_elbo
    assert report.log_likelihood > report.optimized_elbo - 0.5
    assert math.isfinite(report.approximation_gap)


def test_the_study_draws_a_large_k_in_chunks_with_the_same_figures(monkeypatch):
    monkeypatch.setattr(analysis, "_STUDY_CHUNK", 7)
    log_weights = torch.randn(20, dtype=torch.float64) * 3
    counts = []

    def draw(count):
        start = sum(counts)
        counts.append(count)
        return log_weights[start : start + count]

    log_mean, effective_size = analysis._streamed_estimate(draw, 20)
    assert counts == [7, 7, 6]
    assert log_mean == pytest.approx(float(torch.logsumexp(log_weights, 0)) - math.log(20))
    weights = log_weights.exp()
    assert effective_size == pytest.approx(float(weights.sum() ** 2 / weights.square().sum()))


def test_a_study_of_more_samples_than_it_can_finish_is_refused_in_one_line():
    with pytest.raises(
        VaeStudioError, match=r"^1,000,000,000 importance samples: the study takes 1 to 1,000,000"
    ):
        analysis.check_sample_counts((10, 1_000_000_000))
