"""The statistics of the core checked against what is known exactly."""

import math

import pytest
import torch

from vae_core.config import ModelConfig, TrainConfig
from vae_core.evaluation.estimates import importance_sampled_log_likelihood
from vae_core.models import build_model
from vae_core.models.distributions import DiagonalGaussian
from vae_core.models.priors import StandardNormalPrior
from vae_core.training.schedules import BETA_SCHEDULES


def test_analytic_kl_matches_monte_carlo():
    generator = torch.Generator().manual_seed(1)
    mean = torch.tensor([[0.5, -1.0, 2.0], [0.0, 0.3, -0.7]])
    log_var = torch.tensor([[0.0, -1.0, 0.7], [-2.0, 0.4, 0.0]])
    posterior = DiagonalGaussian(mean, log_var)
    analytic = posterior.kl_standard_normal().sum(-1)
    samples = 400_000
    z = posterior.rsample(generator, samples)  # (S, B, D)
    log_ratio = posterior.log_prob(z) - StandardNormalPrior(3).log_prob(z)
    estimate = log_ratio.mean(0)
    standard_error = log_ratio.std(0) / math.sqrt(samples)
    assert torch.all((estimate - analytic).abs() < 4 * standard_error)
    # And the closed form itself, for one dimension: KL(N(m, s^2) || N(0, 1)).
    m, s2 = 0.5, 1.0
    assert analytic[0].item() == pytest.approx(
        0.5 * (m * m + s2 - 1 - math.log(s2))
        + 0.5 * (1 + math.exp(-1) - 1 + 1)
        + 0.5 * (4 + math.exp(0.7) - 1 - 0.7),
        rel=1e-6,
    )


def test_standard_prior_density_is_the_normal_density():
    z = torch.tensor([[0.0, 0.0], [1.0, -2.0]])
    expected = torch.tensor([-math.log(2 * math.pi), -math.log(2 * math.pi) - 2.5])
    assert torch.allclose(StandardNormalPrior(2).log_prob(z), expected)


@pytest.fixture(scope="module")
def random_model_and_data():
    torch.manual_seed(3)
    model = build_model(ModelConfig(input_shape=(1, 6, 6), hidden=(16,), latent_dim=2)).eval()
    x = (torch.rand(64, 1, 6, 6, generator=torch.Generator().manual_seed(4)) < 0.3).float()
    return model, x


def test_importance_sampled_likelihood_is_above_the_elbo_and_grows_with_k(random_model_and_data):
    model, x = random_model_and_data
    generator = torch.Generator().manual_seed(5)
    with torch.no_grad():
        terms = model.elbo_terms(x.expand(200, *x.shape).reshape(-1, 1, 6, 6), generator=generator)
        elbo = -(terms["recon"] + terms["kl"]).view(200, 64).mean(0).mean().item()
        estimates = {
            k: importance_sampled_log_likelihood(model, x, samples=k, generator=generator)
            .mean()
            .item()
            for k in (1, 10, 100, 1000)
        }
    # K = 1 is an unbiased estimate of the ELBO itself (up to Monte Carlo error).
    assert estimates[1] == pytest.approx(elbo, abs=0.5)
    assert estimates[10] > elbo
    assert estimates[10] < estimates[100] < estimates[1000]


def test_is_estimate_does_not_depend_on_how_samples_are_chunked(random_model_and_data, monkeypatch):
    model, x = random_model_and_data
    import vae_core.evaluation.estimates as evaluation

    generator = torch.Generator().manual_seed(6)
    whole = importance_sampled_log_likelihood(model, x, samples=50, generator=generator)
    monkeypatch.setattr(evaluation, "_IS_CHUNK_VALUES", 64 * 36 * 7)  # 7 samples per chunk
    generator = torch.Generator().manual_seed(6)
    chunked = importance_sampled_log_likelihood(model, x, samples=50, generator=generator)
    assert torch.allclose(whole, chunked, atol=1e-4)


def test_prefix_estimates_do_not_depend_on_how_samples_are_chunked(
    random_model_and_data, monkeypatch
):
    """Each estimate uses the first k of the same draws, whichever chunk the k-th falls in."""
    model, x = random_model_and_data
    import vae_core.evaluation.estimates as evaluation

    counts = (1, 2, 5, 10, 20, 50)
    whole = evaluation.importance_sampled_log_likelihoods(
        model, x, None, counts, torch.Generator().manual_seed(6)
    )
    log_weights = model.log_importance_weights(
        x, samples=50, generator=torch.Generator().manual_seed(6)
    ).double()
    by_hand = torch.stack([torch.logsumexp(log_weights[:k], 0) - math.log(k) for k in counts])
    monkeypatch.setattr(evaluation, "_IS_CHUNK_VALUES", 64 * 36 * 7)  # 7 samples per chunk
    chunked = evaluation.importance_sampled_log_likelihoods(
        model, x, None, counts, torch.Generator().manual_seed(6)
    )
    assert torch.allclose(whole, by_hand, atol=1e-5) and torch.allclose(whole, chunked, atol=1e-4)


def test_an_evaluation_stops_when_asked(random_model_and_data):
    from vae_core.data import ImageDataset
    from vae_core.evaluation.estimates import EvaluationStopped, evaluate_model

    model, x = random_model_and_data
    data = ImageDataset(
        "random", (x * 255).to(torch.uint8), torch.zeros(len(x), dtype=torch.long), ("all",)
    )
    asked = []
    with pytest.raises(EvaluationStopped):
        evaluate_model(
            model,
            data,
            iw_samples=50,
            batch_size=len(x),
            should_stop=lambda: asked.append(1) or len(asked) == 2,
        )
    assert (
        len(asked) == 2
    )  # before the batch, then before its first chunk of samples: stopped there


def test_beta_schedules():
    config = TrainConfig(beta_warmup_steps=100, beta_cycle_steps=100)
    assert BETA_SCHEDULES["constant"](2.0, 37, config) == 2.0
    assert BETA_SCHEDULES["linear"](2.0, 0, config) == 0.0
    assert BETA_SCHEDULES["linear"](2.0, 50, config) == 1.0
    assert BETA_SCHEDULES["linear"](2.0, 500, config) == 2.0
    assert BETA_SCHEDULES["cyclical"](2.0, 25, config) == 1.0
    assert BETA_SCHEDULES["cyclical"](2.0, 75, config) == 2.0
    assert BETA_SCHEDULES["cyclical"](2.0, 100, config) == 0.0


def test_bernoulli_reconstruction_term_is_the_binary_cross_entropy():
    model = build_model(ModelConfig(input_shape=(1, 2, 2), hidden=(4,), latent_dim=1))
    logits = torch.tensor([[[[0.0, 2.0], [-1.0, 3.0]]]])
    x = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]])
    p = torch.sigmoid(logits)
    expected = (x * p.log() + (1 - x) * (1 - p).log()).sum()
    assert model.likelihood.log_prob(x, logits).item() == pytest.approx(expected.item(), rel=1e-6)


def test_bernoulli_log_likelihood_holds_at_extreme_logits_and_for_every_sample():
    """x·l − softplus(l) against the cross-entropy itself: intensities and binary pixels, logits
    far in both tails, and a leading axis of samples broadcast against one image."""
    model = build_model(ModelConfig(input_shape=(1, 2, 2), hidden=(4,), latent_dim=1))
    logits = torch.tensor([[[[-60.0, 60.0], [-25.0, 0.5]]], [[[30.0, -30.0], [2.0, -7.0]]]])
    x = torch.tensor([[[[0.0, 1.0], [0.3, 1.0]]]])
    expected = -torch.nn.functional.binary_cross_entropy_with_logits(
        logits, x.expand_as(logits), reduction="none"
    ).sum((-3, -2, -1))
    assert torch.allclose(model.likelihood.log_prob(x, logits[:, None]).squeeze(1), expected)
