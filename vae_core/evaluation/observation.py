"""The observation of a test example, one way for every command: a Bernoulli model's binary image
is drawn from the evaluation seed and the example's index alone, so `evaluate` (whatever its
batch, shard or K) and `analyze --index i` score the same binary image."""

from __future__ import annotations

import torch

from vae_core.models import LatentModel
from vae_core.seeds import derived_seed


def observed_examples(
    model: LatentModel, images: torch.Tensor, indices: torch.Tensor, seed: int = 0
) -> torch.Tensor:
    """`images` (B, C, H, W) as the model observes them, each drawn from its own generator seeded
    by (seed, its index in the split); models that observe intensities as they are return them."""
    generator = torch.Generator(images.device)
    rows = []
    for image, index in zip(images, indices.tolist()):
        generator.manual_seed(derived_seed(seed, index))
        rows.append(model.observe(image[None], generator))
    return torch.cat(rows) if rows else images
