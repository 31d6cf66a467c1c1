"""Evaluation at large K: the standard errors against a case known in closed form, memory bounded
by chunks whatever K is, the same binarised images whatever K is, and the command line's report."""

from __future__ import annotations

import json
import math

import pytest
import torch

from vae_core.cli import main
from vae_core.config import ModelConfig
from vae_core.data import ImageDataset
from vae_core.evaluation import estimates
from vae_core.evaluation.estimates import evaluate_model
from vae_core.models import build_model

PIXELS = 12


def _exact_posterior_model():
    """Probabilistic PCA whose encoder is the true posterior: every importance weight p(x, z) / q(z|x)
    is p(x) itself, so every IS estimate (and the ELBO) of an example is its exact log p(x)."""
    torch.manual_seed(3)
    model = build_model(
        ModelConfig(arch="linear", likelihood="gaussian", latent_dim=2, input_shape=(PIXELS, 1, 1))
    )
    generator = torch.Generator().manual_seed(1)
    basis, _ = torch.linalg.qr(torch.randn(PIXELS, 2, generator=generator, dtype=torch.float64))
    weight = basis * torch.tensor([2.0, 0.7], dtype=torch.float64)
    bias = 0.5 * torch.randn(PIXELS, generator=generator, dtype=torch.float64)
    noise_var = 0.25
    covariance = torch.linalg.inv(torch.eye(2, dtype=torch.float64) + weight.T @ weight / noise_var)
    gain = covariance @ weight.T / noise_var
    with torch.no_grad():
        (decoder,), (encoder,) = model.decoder.net, model.encoder.net
        decoder.weight.copy_(weight)
        decoder.bias.copy_(bias)
        model.likelihood.log_var.fill_(math.log(noise_var))
        encoder.weight.zero_()
        encoder.weight[:2] = gain
        encoder.bias[:2] = -gain @ bias
        encoder.bias[2:] = torch.log(torch.diagonal(covariance))
    z = torch.randn(300, 2, generator=generator, dtype=torch.float64)
    x = (
        z @ weight.T
        + bias
        + math.sqrt(noise_var) * torch.randn(300, PIXELS, generator=generator, dtype=torch.float64)
    )
    data = ImageDataset(
        "pca", x.float().view(300, PIXELS, 1, 1), torch.zeros(300, dtype=torch.long), ("all",)
    )
    return model, data


def test_the_standard_errors_are_those_of_the_exact_log_likelihoods():
    model, data = _exact_posterior_model()
    results = evaluate_model(model, data, iw_samples=20, batch_size=128)
    with torch.no_grad():
        exact = model.exact_log_likelihood(data.images).double()
    expected_se = float(exact.std() / math.sqrt(len(exact)))  # s / √n of the exact values
    assert results["log_likelihood_is"] == pytest.approx(float(exact.mean()), abs=1e-4)
    assert results["log_likelihood_is_se"] == pytest.approx(expected_se, rel=1e-4)
    # The ELBO's split (one-sample reconstruction, closed-form KL) is not constant in z: its
    # examples carry Monte Carlo noise besides their spread, and so a larger standard error.
    assert results["elbo_se"] > expected_se


def test_memory_stays_bounded_and_progress_comes_in_slices_at_k_5000(small_glyphs, monkeypatch):
    torch.manual_seed(0)
    model = build_model(
        ModelConfig(hidden=(16,), latent_dim=2, input_shape=(1, 28, 28), num_classes=10)
    )
    drawn = []
    original = model.log_importance_weights

    def recording(x, y=None, samples=1, generator=None):
        drawn.append((len(x), samples))
        return original(x, y, samples, generator)

    monkeypatch.setattr(model, "log_importance_weights", recording)
    done = []
    results = evaluate_model(
        model, small_glyphs.test, iw_samples=5000, limit=60, progress=lambda *d: done.append(d)
    )
    assert max(rows * samples * 784 for rows, samples in drawn) <= estimates._IS_CHUNK_VALUES
    assert (
        sum(samples for rows, samples in drawn if rows == drawn[0][0]) >= 5000
    )  # every example gets all K
    assert sum(rows * samples for rows, samples in drawn) == 60 * 5000
    assert done[-1] == (60, 60) and len(done) == 3  # 26 examples of 5,000 samples a slice
    assert results["log_likelihood_is"] > results["elbo"] and results["log_likelihood_is_se"] > 0


def test_the_images_and_the_elbo_are_the_same_whatever_k(small_glyphs):
    torch.manual_seed(0)
    model = build_model(
        ModelConfig(hidden=(16,), latent_dim=2, input_shape=(1, 28, 28), num_classes=10)
    )
    few, many = (evaluate_model(model, small_glyphs.test, iw_samples=k, limit=50) for k in (2, 300))
    assert few["elbo"] == many["elbo"] and few["elbo_se"] == many["elbo_se"]


def test_the_command_line_reports_time_threads_and_standard_error(tmp_path, capsys):
    run = tmp_path / "run"
    assert (
        main(["train", "--out", str(run), "--max-steps", "3", "--hidden", "16", "--device", "cpu"])
        == 0
    )
    capsys.readouterr()
    assert (
        main(["evaluate", str(run), "--iw-samples", "10", "--limit", "30", "--device", "cpu"]) == 0
    )
    captured = capsys.readouterr()
    results = json.loads(captured.out)
    assert results["seconds"] > 0 and results["threads"] == torch.get_num_threads()
    assert results["log_likelihood_is_se"] > 0 and results["elbo_se"] > 0
    assert captured.err.startswith("evaluated 30 test examples with K = 10 in ")
