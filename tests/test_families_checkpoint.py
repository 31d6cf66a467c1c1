"""Every family and prior survives a checkpoint round trip: same weights, same outputs."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from vae_core.checkpoint import load_model, save_trainer
from vae_core.config import ModelConfig
from vae_core.models import build_model
from vae_core.training.trainer import Trainer

FAMILIES = {
    "vae-normal": ModelConfig(),
    "vae-mog": ModelConfig(prior="mog", prior_components=3),
    "vae-vamp": ModelConfig(prior="vamp", prior_components=3),
    "vae-iwae": ModelConfig(iw_samples=3),
    "cvae": ModelConfig(family="cvae"),
    "linear-gaussian": ModelConfig(arch="linear", likelihood="gaussian"),
    "vqvae": ModelConfig(family="vqvae", codebook_size=8, code_positions=4),
    "vqvae-conv-ema": ModelConfig(
        family="vqvae", arch="conv", codebook_ema=True, code_prior="categorical", codebook_size=8
    ),
    "hvae": ModelConfig(family="hvae", lower_latent_dim=4, upper_hidden=(8,)),
    "hvae-iwae-mog": ModelConfig(
        family="hvae", iw_samples=3, prior="mog", prior_components=3, activation="tanh"
    ),
}


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_save_and_load_round_trip(name, small_config, small_glyphs, tmp_path):
    model_config = dataclasses.replace(FAMILIES[name], hidden=(32,), latent_dim=2)
    config = dataclasses.replace(
        small_config,
        model=model_config,
        train=dataclasses.replace(small_config.train, max_steps=4, log_every=2),
    )
    trainer = Trainer(config, small_glyphs)
    for _ in trainer.run():
        pass
    path = tmp_path / "checkpoint.safetensors"
    save_trainer(path, trainer)
    loaded, checkpoint = load_model(path)
    original = trainer.model.eval()
    assert checkpoint.config.model.family == model_config.family
    assert original.state_dict().keys() == loaded.state_dict().keys()
    for key, value in original.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key
    images, labels = small_glyphs.test.batch(torch.arange(5))
    with torch.no_grad():
        assert torch.equal(original.embed(images, labels), loaded.embed(images, labels))
        assert torch.equal(
            original.sample(4, generator=torch.Generator().manual_seed(1)),
            loaded.sample(4, generator=torch.Generator().manual_seed(1)),
        )


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            {"family": "vae"},
            {"samples_posterior": True, "has_prior_density": True, "learned_prior": False},
        ),
        (
            {"family": "vae", "prior": "vamp"},
            {"learned_prior": True, "has_exact_likelihood": False},
        ),
        (
            {"family": "vae", "arch": "linear", "likelihood": "gaussian"},
            {"has_exact_likelihood": True},
        ),
        ({"family": "cvae"}, {"conditional": True, "has_codebook": False, "positions": 1}),
        (
            {"family": "vqvae", "code_positions": 4},
            {
                "has_codebook": True,
                "positions": 4,
                "samples_posterior": False,
                "has_prior_density": False,
            },
        ),
        (
            {"family": "hvae"},
            {
                "samples_posterior": True,
                "has_prior_density": True,
                "latent_layers": 2,
                "has_codebook": False,
            },
        ),
        ({"family": "vae"}, {"latent_layers": 1}),
    ],
)
def test_each_family_declares_what_it_can_do(options, expected):
    model = build_model(
        ModelConfig(input_shape=(1, 28, 28), num_classes=10, hidden=(8,), latent_dim=2, **options)
    )
    capabilities = model.capabilities
    assert {name: getattr(capabilities, name) for name in expected} == expected
