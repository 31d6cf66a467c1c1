"""The conditional VAE: labels steer the decoder; the code holds the style."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from vae_core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from vae_core.errors import VaeStudioError
from vae_core.evaluation.estimates import evaluate_model
from vae_core.models import build_model
from vae_core.training.trainer import Trainer


@pytest.fixture(scope="module")
def trained_cvae(small_glyphs):
    config = RunConfig(
        data=DataConfig(dataset="glyphs", size=600),
        model=ModelConfig(family="cvae", hidden=(128,), latent_dim=2),
        train=TrainConfig(
            batch_size=50, max_steps=600, log_every=100, seed=0, device="cpu", heldout_every=0
        ),
    )
    trainer = Trainer(config, small_glyphs)
    for _ in trainer.run():
        pass
    return trainer.model.eval()


def _class_means(data):
    images, labels = data.batch(torch.arange(len(data)))
    return torch.stack([images[labels == c].mean(0) for c in range(data.num_classes)])


def test_decoding_one_code_follows_the_label(trained_cvae, small_glyphs):
    means = _class_means(small_glyphs.train).flatten(1)
    labels = torch.arange(10)
    with torch.no_grad():
        decoded = trained_cvae.decode_mean(torch.zeros(10, 2), labels).flatten(1)
    nearest = torch.cdist(decoded, means).argmin(1)
    # The same code, ten labels: each image looks most like its own class.
    assert (nearest == labels).sum() >= 9


def test_sampling_a_chosen_class(trained_cvae, small_glyphs):
    means = _class_means(small_glyphs.train).flatten(1)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        sevens = trained_cvae.sample(20, y=7, generator=generator)
        every_class = trained_cvae.sample(10, generator=generator)
    assert sevens.shape == (20, 1, 28, 28)
    assert (torch.cdist(sevens.flatten(1), means).argmin(1) == 7).float().mean() >= 0.8
    assert (torch.cdist(every_class.flatten(1), means).argmin(1) == torch.arange(10)).sum() >= 8
    with pytest.raises(VaeStudioError, match="class 12 does not exist"):
        trained_cvae.sample(2, y=12)


def test_evaluate_reports_the_elbo_per_class(trained_cvae, small_glyphs):
    results = evaluate_model(trained_cvae, small_glyphs.test)
    per_class = results["elbo_per_class"]
    assert set(per_class) == set(small_glyphs.test.class_names)
    counts = torch.bincount(small_glyphs.test.labels, minlength=10)
    weighted = sum(
        per_class[name] * int(counts[i]) for i, name in enumerate(small_glyphs.test.class_names)
    )
    assert weighted / len(small_glyphs.test) == pytest.approx(results["elbo"], rel=1e-5)


def test_the_conditional_model_needs_labels():
    config = ModelConfig(family="cvae", hidden=(8,), input_shape=(1, 8, 8), num_classes=3)
    model = build_model(config)
    with pytest.raises(VaeStudioError, match="needs a class label"):
        model.decode_mean(torch.zeros(1, 2))
    with pytest.raises(VaeStudioError, match="2 or more classes"):
        build_model(dataclasses.replace(config, num_classes=1))


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_label_reaches_both_networks(arch):
    torch.manual_seed(0)
    model = build_model(
        ModelConfig(family="cvae", arch=arch, hidden=(8,), input_shape=(1, 8, 8), num_classes=3)
    )
    x = torch.rand(2, 1, 8, 8)
    z = torch.randn(2, 2)
    zeros, ones = torch.zeros(2, dtype=torch.long), torch.ones(2, dtype=torch.long)
    with torch.no_grad():
        assert not torch.allclose(model.encode(x, zeros).mean, model.encode(x, ones).mean)
        assert not torch.allclose(model.decode(z, zeros), model.decode(z, ones))
