"""Metrics of codes: MIG against known factors, codebook perplexity and usage."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from vae_core.config import ModelConfig
from vae_core.data import ImageDataset
from vae_core.errors import VaeStudioError
from vae_core.evaluation.estimates import evaluate_model
from vae_core.evaluation.metrics import (
    codebook_usage,
    mutual_information_gap,
    mutual_information_matrix,
    perplexity,
)
from vae_core.models import build_model


def _factors(count=4000, seed=0):
    generator = np.random.default_rng(seed)
    # Three independent factors: 5 shapes, 8 scales, 10 positions (like a sprites set).
    return np.stack([generator.integers(0, n, count) for n in (5, 8, 10)], axis=1).astype(
        np.float32
    )


def test_mig_is_one_for_a_code_that_copies_the_factors():
    factors = _factors()
    noise = np.random.default_rng(1).normal(size=(len(factors), 2))
    codes = np.concatenate(
        [factors * 0.3 + 1.0, noise], axis=1
    )  # a copy, rescaled, plus unused dims
    assert mutual_information_gap(codes, factors) > 0.95


def test_mig_is_near_zero_for_noise():
    factors = _factors()
    codes = np.random.default_rng(2).normal(size=(len(factors), 5))
    assert mutual_information_gap(codes, factors) < 0.05


def test_mig_is_low_when_two_dimensions_share_a_factor():
    factors = _factors()
    # Both dimensions copy the first factor: no gap for it.
    codes = np.concatenate([factors[:, :1], factors[:, :1], factors[:, 1:]], axis=1)
    per_factor_gap_of_first = 0.0
    expected = (per_factor_gap_of_first + 1.0 + 1.0) / 3
    assert mutual_information_gap(codes, factors) == pytest.approx(expected, abs=0.02)


def test_mutual_information_of_a_copy_is_the_entropy():
    values = np.repeat(np.arange(4), 250)[:, None].astype(float)
    information = mutual_information_matrix(values, values)
    assert information[0, 0] == pytest.approx(math.log(4))


def test_mig_takes_tensors_and_rejects_mismatched_shapes():
    factors = _factors(300)
    codes = factors + np.random.default_rng(3).normal(size=factors.shape)
    assert mutual_information_gap(
        torch.tensor(codes), torch.tensor(factors)
    ) == mutual_information_gap(codes, factors)
    with pytest.raises(VaeStudioError, match="codes \\(N, D\\) and factors \\(N, F\\)"):
        mutual_information_gap(torch.zeros(10, 2), torch.zeros(9, 1))
    with pytest.raises(VaeStudioError, match="at least one factor that varies"):
        mutual_information_gap(torch.randn(10, 2), torch.zeros(10, 1))


def test_perplexity_and_usage_of_known_counts():
    assert float(perplexity(torch.full((16,), 5.0))) == pytest.approx(16)
    assert float(perplexity(torch.tensor([0.0, 7.0, 0.0]))) == pytest.approx(1)
    # Two codes used equally of eight: perplexity 2, usage a quarter.
    counts = torch.tensor([3.0, 0, 0, 3.0, 0, 0, 0, 0])
    assert float(perplexity(counts)) == pytest.approx(2)
    assert float(codebook_usage(counts)) == pytest.approx(0.25)


def test_evaluate_reports_mig_for_data_with_factors():
    generator = torch.Generator().manual_seed(0)
    factors = torch.randint(0, 4, (60, 2), generator=generator).float()
    data = ImageDataset(
        name="factored",
        images=torch.randint(0, 256, (60, 1, 8, 8), generator=generator, dtype=torch.uint8),
        labels=factors[:, 0].long(),
        class_names=("a", "b", "c", "d"),
        factors=factors,
        factor_names=("first", "second"),
    )
    model = build_model(
        ModelConfig(hidden=(8,), latent_dim=3, input_shape=(1, 8, 8), num_classes=4)
    )
    results = evaluate_model(model, data, limit=50)
    assert 0 <= results["mig"] <= 1
    assert "mig" not in evaluate_model(
        model, dataclasses.replace(data, factors=None, factor_names=())
    )
