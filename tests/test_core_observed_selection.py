"""The selected input as the model observes it: a Bernoulli model's true posterior is of a binary
image, so q(z|x) drawn beside it must be of that binary image, not of the grey one."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from vae_core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from vae_core.data.dataset import DataSplit
from vae_core.evaluation.observation import observed_examples
from vae_core.evaluation.true_posterior import posterior_heat_map
from vae_core.figures.posterior import observed_selection
from vae_core.models import build_model

# The glyphs' intensities squeezed into [0.2, 0.8]: every pixel grey, as MNIST's antialiased
# strokes are at their edges, so each binarisation of an image differs from it a lot.
_LOW, _HIGH = 0.2, 0.8
EXAMPLES = 40


def _grey(data):
    images = data.images.float() * (_HIGH - _LOW) + 255 * _LOW
    return dataclasses.replace(data, images=images.round().to(torch.uint8))


@pytest.fixture(scope="module")
def grey_model(small_glyphs):
    """A 2-D Bernoulli VAE trained (on images binarised afresh each batch) on the grey glyphs."""
    from vae_core.training.trainer import Trainer

    data = DataSplit(_grey(small_glyphs.train), _grey(small_glyphs.test))
    config = RunConfig(
        data=DataConfig(dataset="glyphs", size=600),
        model=ModelConfig(hidden=(64,), latent_dim=2, likelihood="bernoulli"),
        train=TrainConfig(
            batch_size=50, max_steps=300, log_every=300, seed=0, device="cpu", heldout_every=0
        ),
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        trainer = Trainer(config, data)
        (snapshot,) = list(trainer.run(include_weights=True))
    finally:
        torch.set_num_threads(threads)
    model = build_model(trainer.config.model)
    model.load_state_dict(snapshot.model_state)
    return model.eval(), data.test


def _true_posterior_mode(model, image) -> np.ndarray:
    grid = posterior_heat_map(model, image, None, ((-5.0, 5.0), (-5.0, 5.0)), 40)
    row, column = np.unravel_index(np.argmax(grid.posterior), grid.posterior.shape)
    return np.array([grid.xs[column], grid.ys[row]])


def _sigmas(point: np.ndarray, posterior) -> float:
    """How far `point` lies from q's mean, in q's σ (Mahalanobis)."""
    mean, std = posterior.mean[0].double().numpy(), posterior.std[0].double().numpy()
    return float(np.linalg.norm((point - mean) / std))


def test_a_bernoulli_models_selected_input_is_binary_as_evaluate_draws_it(grey_model):
    model, test = grey_model
    selected = observed_selection(model, test, 7)
    grey = test.batch(torch.tensor([7]))[0][0]
    assert set(selected.image.unique().tolist()) <= {0.0, 1.0}
    assert ((grey > 0) & (grey < 1)).all()  # every pixel of the data was grey
    drawn = observed_examples(model, grey[None], torch.tensor([7]))[0]
    assert torch.equal(selected.image, drawn)
    # Observing it again (the figures do) keeps it: the heat map scores this very image.
    assert torch.equal(model.observe(selected.image[None])[0], selected.image)


def test_the_true_posterior_lies_near_q_of_the_image_scored_not_of_the_grey_one(grey_model):
    """Before, the map drew q(z|x) of the grey image beside the true posterior of a binary one."""
    model, test = grey_model
    scored, grey = [], []
    torch.set_num_threads(1)  # a 64-unit network: more threads only wait on each other
    with torch.no_grad():
        for index in range(EXAMPLES):
            selected = observed_selection(model, test, index)
            mode = _true_posterior_mode(model, selected.image)
            scored.append(_sigmas(mode, model.encode(selected.image[None])))
            grey.append(_sigmas(mode, model.encode(test.batch(torch.tensor([index]))[0])))
    assert np.median(scored) < 1.5  # within a few σ: q is a proposal worth its name
    assert np.mean(scored) < 0.85 * np.mean(grey)
