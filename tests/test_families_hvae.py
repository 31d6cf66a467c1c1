"""The hierarchical VAE (two stochastic layers): its ELBO against an independent Monte Carlo
estimate of log p(x, z1, z2) - log q(z1, z2|x), the bounds' ordering, and what the window and
`evaluate` ask of it."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch.distributions import Bernoulli, Normal

from vae_core.config import ModelConfig
from vae_core.errors import VaeStudioError
from vae_core.evaluation.analysis import amortization_gap
from vae_core.evaluation.estimates import evaluate_model
from vae_core.models import build_model
from vae_core.training.trainer import Trainer


def _small_model(**changes) -> torch.nn.Module:
    torch.manual_seed(3)
    config = ModelConfig(
        family="hvae",
        input_shape=(1, 4, 4),
        hidden=(12,),
        lower_latent_dim=3,
        upper_hidden=(6,),
        latent_dim=2,
        activation="tanh",
        **changes,
    )
    return build_model(config).eval()


def _independent_log_weights(model, x: torch.Tensor) -> torch.Tensor:
    """log p(x|z1) p(z1|z2) p(z2) - log q(z1|x) q(z2|z1) for one ancestral draw per row of x,
    written with torch.distributions from the networks' raw outputs."""

    def normal(features):
        mean, log_var = features.chunk(2, dim=-1)
        return Normal(mean, torch.exp(0.5 * log_var))

    q1 = normal(model.encoder(x))
    z1 = q1.sample()
    q2 = normal(model.upper_encoder(z1))
    z2 = q2.sample()
    p1 = normal(model.upper_decoder(z2))
    log_p_x = Bernoulli(logits=model.decoder(z1)).log_prob(x).flatten(1).sum(1)
    log_joint = log_p_x + p1.log_prob(z1).sum(1) + Normal(0.0, 1.0).log_prob(z2).sum(1)
    return log_joint - q1.log_prob(z1).sum(1) - q2.log_prob(z2).sum(1)


@torch.no_grad()
def test_the_elbo_matches_a_monte_carlo_estimate_of_its_definition():
    model = _small_model()
    x = (torch.rand(1, 1, 4, 4, generator=torch.Generator().manual_seed(0)) < 0.5).float()
    draws = 40_000
    repeated = x.expand(draws, -1, -1, -1)
    torch.manual_seed(1)
    independent = _independent_log_weights(model, repeated)
    terms = model.elbo_terms(repeated, generator=torch.Generator().manual_seed(2))
    from_model = -(terms["recon"] + terms["kl"])
    # Two unbiased estimates of one number; the model's KL of z2 is closed form given z1, so its
    # spread is smaller, never larger.
    standard_error = math.sqrt(independent.var() / draws + from_model.var() / draws)
    assert abs(float(independent.mean() - from_model.mean())) < 4 * standard_error
    assert from_model.var() <= independent.var()
    assert torch.allclose(terms["kl"], terms["kl_z1"] + terms["kl_z2"])
    assert torch.allclose(
        terms["kl_per_dim"].sum(1), terms["kl_z2"], atol=1e-5
    )  # N(0, I): the KL splits exactly


@pytest.fixture(scope="module")
def trained_hvae(small_glyphs):
    from vae_core.config import DataConfig, RunConfig, TrainConfig

    config = RunConfig(
        data=DataConfig(dataset="glyphs", size=600),
        model=ModelConfig(
            family="hvae", hidden=(64,), lower_latent_dim=8, upper_hidden=(32,), latent_dim=2
        ),
        train=TrainConfig(batch_size=50, max_steps=200, log_every=100, seed=0, device="cpu"),
    )
    trainer = Trainer(config, small_glyphs)
    snapshots = list(trainer.run())
    assert snapshots[-1].loss < snapshots[0].loss
    assert {"kl_z1", "kl_z2"} <= set(snapshots[-1].extra_terms)
    return trainer.model.eval()


@torch.no_grad()
def test_the_iwae_bound_is_above_the_elbo_on_average(trained_hvae, small_glyphs):
    images, _ = small_glyphs.test.batch(torch.arange(100))
    x = trained_hvae.observe(images, torch.Generator().manual_seed(0))
    generator = torch.Generator().manual_seed(1)
    elbo = trained_hvae.log_importance_weights(x, samples=200, generator=generator).mean()
    log_weights = trained_hvae.log_importance_weights(x, samples=200, generator=generator).view(
        20, 10, -1
    )
    iwae = (
        torch.logsumexp(log_weights, dim=1) - math.log(10)
    ).mean()  # 20 independent K = 10 bounds
    assert iwae > elbo


@torch.no_grad()
def test_the_iwae_objective_is_the_negative_bound_of_its_own_draws(trained_hvae, small_glyphs):
    images, _ = small_glyphs.test.batch(torch.arange(20))
    model = build_model(dataclasses.replace(trained_hvae.config, iw_samples=5))
    model.load_state_dict(trained_hvae.state_dict())
    loss = model.loss(images, generator=torch.Generator().manual_seed(4))["loss"]
    log_weights = model.log_importance_weights(
        images, samples=5, generator=torch.Generator().manual_seed(4)
    )
    assert loss == pytest.approx(
        float(-(torch.logsumexp(log_weights, 0) - math.log(5)).mean()), rel=1e-6
    )


def test_evaluate_gives_is_above_the_elbo_and_active_units_per_layer(trained_hvae, small_glyphs):
    results = evaluate_model(trained_hvae, small_glyphs.test, iw_samples=100)
    assert results["log_likelihood_is"] > results["elbo"]
    by_samples = results["log_likelihood_is_by_samples"]
    assert by_samples[100] > by_samples[1]
    layers = results["active_units_per_layer"]
    assert set(layers) == {"z1", "z2"} and 0 <= layers["z1"] <= 8 and 0 <= layers["z2"] <= 2
    assert layers["z2"] == results["active_units"]  # the map's codes are the top layer's


@torch.no_grad()
def test_codes_are_the_top_layers_for_the_map_and_samples(trained_hvae):
    assert (
        trained_hvae.capabilities.latent_layers == 2 and trained_hvae.capabilities.has_prior_density
    )
    images = trained_hvae.decode_mean(torch.zeros(3, 2))
    assert images.shape == (3, 1, 28, 28) and 0 <= images.min() and images.max() <= 1
    samples = trained_hvae.sample(4, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (4, 1, 28, 28)
    posterior = trained_hvae.encode(samples)
    assert posterior.mean.shape == posterior.std.shape == (4, 2)


def test_the_gap_analysis_refuses_two_layers_in_one_line(trained_hvae, small_glyphs):
    image, _ = small_glyphs.test.batch(torch.arange(1))
    with pytest.raises(VaeStudioError, match="one Gaussian latent layer; 'hvae' has 2"):
        amortization_gap(trained_hvae, image[0])


@pytest.mark.parametrize(
    "changes", [{"prior": "mog", "prior_components": 3}, {"iw_samples": 3}, {"arch": "conv"}]
)
def test_priors_objectives_and_architectures_combine(small_config, small_glyphs, changes):
    model = dataclasses.replace(
        small_config.model, family="hvae", lower_latent_dim=4, upper_hidden=(8,), **changes
    )
    trainer = Trainer(dataclasses.replace(small_config, model=model), small_glyphs)
    snapshots = list(trainer.run())
    assert all(math.isfinite(s.loss) for s in snapshots)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"lower_latent_dim": 0}, "lower latent layer"),
        ({"upper_hidden": (0,)}, "positive hidden sizes"),
        ({"activation": "sigmoid"}, "unknown activation 'sigmoid'"),
    ],
)
def test_bad_sizes_are_refused_in_one_line(changes, message):
    with pytest.raises(VaeStudioError, match=message):
        build_model(ModelConfig(family="hvae", input_shape=(1, 4, 4), **changes))


def test_the_command_line_trains_evaluates_and_refuses_the_gap_analysis(tmp_path, capsys):
    import json

    from vae_core.cli import main

    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--out",
                str(run),
                "--model",
                "hvae",
                "--max-steps",
                "6",
                "--batch-size",
                "50",
                "--hidden",
                "32",
                "--lower-latent-dim",
                "6",
                "--upper-hidden",
                "8,8",
                "--latent-dim",
                "2",
                "--activation",
                "tanh",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert (
        main(["evaluate", str(run), "--iw-samples", "5", "--limit", "40", "--device", "cpu"]) == 0
    )
    figures = json.loads(capsys.readouterr().out)
    assert (
        set(figures["active_units_per_layer"]) == {"z1", "z2"}
        and figures["log_likelihood_is"] > figures["elbo"]
    )
    assert main(["analyze", str(run), "--device", "cpu"]) == 1
    assert capsys.readouterr().err.strip() == (
        "vae-studio: error: this analysis optimises and samples one Gaussian latent layer; 'hvae' has 2"
    )
