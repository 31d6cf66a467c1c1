"""One binarisation for every command: an example's binary image depends on the seed and its
index alone, so evaluate (any batch) and analyze (one index) score the same image."""

from __future__ import annotations

import torch

from vae_core.evaluation.estimates import evaluate_model
from vae_core.evaluation.observation import observed_examples
from vae_core.evaluation.single_input import single_input
from vae_core.models import build_model
from vae_core.training.trainer import complete_model_config


def _model(small_config, small_glyphs):
    torch.manual_seed(0)
    return build_model(complete_model_config(small_config, small_glyphs).model).eval()


def test_an_examples_binary_image_is_the_same_in_any_batch(small_config, small_glyphs):
    model = _model(small_config, small_glyphs)
    images, _ = small_glyphs.test.batch(torch.arange(40))
    together = observed_examples(model, images, torch.arange(40))
    alone = torch.cat(
        [observed_examples(model, images[i : i + 1], torch.tensor([i])) for i in range(40)]
    )
    assert torch.equal(together, alone)
    assert set(together.unique().tolist()) == {0.0, 1.0}
    assert not torch.equal(together, observed_examples(model, images, torch.arange(40), seed=1))


def test_evaluate_scores_the_images_analyze_scores(small_config, small_glyphs):
    """The KL to the standard normal is a function of the observed image alone (no sample): the
    evaluation's mean KL over batches of 7 is the mean over the images analyze sees, one by one."""
    model = _model(small_config, small_glyphs)
    results = evaluate_model(model, small_glyphs.test, limit=20, batch_size=7)
    images, _ = small_glyphs.test.batch(torch.arange(20))
    kls = []
    for index in range(20):
        image = observed_examples(model, images[index : index + 1], torch.tensor([index]))
        # analyze observes its input again: a binary image stays itself.
        _, analysed, _ = single_input(model, image[0], None, seed=123)
        assert torch.equal(analysed, image)
        with torch.no_grad():
            kls.append(model.encode(analysed).kl_standard_normal().sum())
    assert abs(results["kl"] - float(torch.stack(kls).mean())) < 1e-5
