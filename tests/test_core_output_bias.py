"""A Bernoulli decoder starts at the training data's mean image: its output bias is the logit of
each pixel's mean (clamped), computed here straight from the data set's pixels."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from vae_core.models import build_model
from vae_core.training.trainer import Trainer, complete_model_config

CLAMP = 1e-3


def _pixel_means(data) -> torch.Tensor:
    return data.train.images.double().mean(0).div(255).float()  # (C, H, W)


def _trainer(small_config, small_glyphs, **model_changes) -> Trainer:
    model = dataclasses.replace(small_config.model, **model_changes)
    return Trainer(dataclasses.replace(small_config, model=model), small_glyphs)


def test_the_mean_image_is_the_mean_of_the_pixels(small_glyphs):
    assert torch.allclose(
        small_glyphs.train.mean_image(chunk=7), _pixel_means(small_glyphs), atol=1e-7
    )


@pytest.mark.parametrize("family", ["vae", "vqvae", "hvae"])
def test_a_dense_bernoulli_decoder_starts_at_the_logit_of_each_pixels_mean(
    small_config, small_glyphs, family
):
    trainer = _trainer(small_config, small_glyphs, family=family, codebook_size=8, code_positions=2)
    decoder = trainer.model.decoder
    bias = (decoder.flat if family == "vqvae" else decoder).net[-1].bias.detach()
    means = _pixel_means(small_glyphs).flatten().clamp(CLAMP, 1 - CLAMP)
    assert torch.allclose(bias, torch.log(means / (1 - means)), atol=1e-4)
    assert bias.min().item() == pytest.approx(
        torch.logit(torch.tensor(CLAMP)).item(), abs=1e-4
    )  # glyph corners are blank


def test_a_conv_decoder_starts_at_the_logit_of_each_channels_mean(small_config, small_glyphs):
    bias = _trainer(small_config, small_glyphs, arch="conv").model.decoder.deconv[-1].bias.detach()
    mean = _pixel_means(small_glyphs).mean((1, 2))
    assert torch.allclose(torch.sigmoid(bias), mean, atol=1e-6)


def test_a_gaussian_decoder_keeps_its_own_initialisation(small_config, small_glyphs):
    trainer = _trainer(small_config, small_glyphs, likelihood="gaussian")
    torch.manual_seed(small_config.train.seed)
    fresh = build_model(complete_model_config(trainer.config, small_glyphs).model)
    assert torch.equal(trainer.model.decoder.net[-1].bias, fresh.decoder.net[-1].bias)


def test_the_initialisation_can_be_turned_off(small_config, small_glyphs):
    config = dataclasses.replace(
        small_config, train=dataclasses.replace(small_config.train, init_output_bias=False)
    )
    trainer = Trainer(config, small_glyphs)
    torch.manual_seed(small_config.train.seed)
    fresh = build_model(complete_model_config(config, small_glyphs).model)
    assert torch.equal(trainer.model.decoder.net[-1].bias, fresh.decoder.net[-1].bias)
