"""The aggregate posterior's density, its KL to the prior and the prior's holes against closed
forms; the rate-distortion points of a run's metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vae_core.errors import VaeStudioError
from vae_core.evaluation.aggregate_posterior import (
    AggregatePosterior,
    find_holes,
    kl_to_prior,
)
from vae_core.evaluation.rate_distortion import rate_distortion_points
from vae_core.metrics_columns import METRICS_COLUMNS
from vae_core.models.distributions import diagonal_mixture_log_density
from vae_core.models.priors import StandardNormalPrior


def standard_normal(dim: int):
    return StandardNormalPrior(dim).log_prob


def test_log_density_is_the_mixture_density():
    generator = torch.Generator().manual_seed(0)
    means, log_vars = (
        torch.randn(50, 3, generator=generator, dtype=torch.float64),
        torch.randn(50, 3, generator=generator, dtype=torch.float64),
    )
    codes = 2 * torch.randn(3000, 3, generator=generator, dtype=torch.float64)
    aggregate = AggregatePosterior(means, torch.exp(0.5 * log_vars))
    expected = diagonal_mixture_log_density(
        codes, means, log_vars, torch.full((50,), -math.log(50), dtype=torch.float64)
    )
    assert torch.allclose(aggregate.log_density(codes), expected, atol=1e-9)
    assert torch.allclose(aggregate.log_density(codes, torch.float32).double(), expected, atol=1e-3)


def test_mixture_density_integrates_to_one_on_a_fine_grid():
    generator = torch.Generator().manual_seed(1)
    aggregate = AggregatePosterior.of(
        torch.randn(20, 2, generator=generator), 0.2 + torch.rand(20, 2, generator=generator)
    )
    axis = torch.linspace(-9, 9, 451, dtype=torch.float64)
    grid = torch.stack(torch.meshgrid(axis, axis, indexing="ij"), -1).reshape(-1, 2)
    area = float(axis[1] - axis[0]) ** 2
    assert aggregate.log_density(grid).exp().sum().item() * area == pytest.approx(1.0, abs=1e-4)


def test_kl_is_zero_when_every_posterior_is_the_prior():
    aggregate = AggregatePosterior.of(np.zeros((100, 4)), np.ones((100, 4)))
    estimate = kl_to_prior(aggregate, standard_normal(4), 1000, torch.Generator().manual_seed(0))
    assert abs(estimate.value) < 1e-9 and estimate.standard_error < 1e-9


def test_kl_of_one_component_matches_the_closed_form_within_its_standard_error():
    mean, std = np.array([[1.0, -0.5]]), np.array([[0.5, 1.5]])
    closed_form = 0.5 * float(np.sum(std**2 + mean**2 - 1 - np.log(std**2)))
    estimate = kl_to_prior(
        AggregatePosterior.of(mean, std),
        standard_normal(2),
        20000,
        torch.Generator().manual_seed(0),
    )
    assert estimate.standard_error < 0.02
    assert abs(estimate.value - closed_form) < 3 * estimate.standard_error


def test_holes_lie_where_no_component_reaches_and_nowhere_when_the_components_cover_the_prior():
    generator = torch.Generator().manual_seed(2)
    prior_samples = torch.randn(1000, 2, generator=generator, dtype=torch.float64)
    # Every code on the right: the prior's left half is one hole.
    right = AggregatePosterior.of(
        np.array([[2.0, 0.0]]) + 0.3 * np.random.default_rng(0).standard_normal((200, 2)),
        np.full((200, 2), 0.3),
    )
    holes = find_holes(right, prior_samples, standard_normal(2))
    left = prior_samples[:, 0] < 0
    assert bool(holes.in_hole[left].all())
    assert holes.count < len(prior_samples)
    assert bool((prior_samples[holes.deepest(5), 0] < 0).all())
    # Means spread over N(0, 0.8²) with spread 0.6: q(z) is the prior blurred a little.
    means = 0.8 * np.random.default_rng(1).standard_normal((2000, 2))
    covering = AggregatePosterior.of(means, np.full((2000, 2), 0.6))
    assert find_holes(covering, prior_samples, standard_normal(2)).count == 0


def test_a_deterministic_encoder_has_no_aggregate_density():
    with pytest.raises(VaeStudioError, match="positive spread"):
        AggregatePosterior.of(np.zeros((3, 2)), np.zeros((3, 2)))


def metrics_rows(betas, kls, recons) -> np.ndarray:
    rows = np.full((len(betas), len(METRICS_COLUMNS)), np.nan)
    column = METRICS_COLUMNS.index
    rows[:, column("step")] = 10 * np.arange(1, len(betas) + 1)
    rows[:, column("beta")], rows[:, column("kl")], rows[:, column("recon")] = betas, kls, recons
    return rows


def test_rate_distortion_points_average_the_last_quarter_of_each_beta_segment():
    # β = 1 for 8 rows, then β = 4 for 4: the first rows of each segment are transients.
    rows = metrics_rows(
        [1.0] * 8 + [4.0] * 4,
        [50, 40, 30, 20, 12, 11, 9, 7, 3, 2, 1.5, 0.5],
        [300, 200, 150, 120, 110, 100, 96, 94, 140, 150, 155, 157],
    )
    first, second = rate_distortion_points(rows)
    assert (first.beta, first.rate, first.distortion) == (1.0, 8.0, 95.0)
    assert (first.first_step, first.last_step, first.rows_averaged) == (10, 80, 2)
    assert (second.beta, second.rate, second.distortion) == (4.0, 0.5, 157.0)
    assert (second.first_step, second.last_step, second.rows_averaged) == (90, 120, 1)
    # β back to 1 later is a segment of its own.
    again = rate_distortion_points(np.concatenate([rows, metrics_rows([1.0], [6.0], [93.0])]))
    assert [point.beta for point in again] == [1.0, 4.0, 1.0]
    assert rate_distortion_points(rows[:0]) == []
