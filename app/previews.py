"""Reconstructions and prior samples of the run's model, as uint8 images, or as points for 2-D
point data (no Qt).

It draws with the explorer's CPU copy of the model on show (the decode service's), never the model
that training mutates. The examples and the sampling noise are fixed, so successive refreshes
show the same inputs and the same codes, and only the model's progress changes the pictures.
"""

from __future__ import annotations

import numpy as np
import torch

from vae_core.data import ImageDataset
from vae_core.latent import to_uint8_images
from vae_core.models import LatentModel

POINT_COUNT = 300


class PreviewModel:
    def __init__(
        self,
        model: LatentModel,
        examples: ImageDataset,
        count: int = 16,
        sample_count: int = 32,
        seed: int = 0,
    ):
        self.model = model.cpu().eval().requires_grad_(False)
        self.planar = examples.image_shape == (2, 1, 1)
        if self.planar:
            # Points are small: enough of them to show the shape of the data.
            count, sample_count = POINT_COUNT, POINT_COUNT
        self.images, self.labels = examples.batch(torch.arange(min(count, len(examples))))
        self.class_names = examples.class_names
        self.sample_count = sample_count
        self.seed = seed

    def _condition(self, labels: torch.Tensor) -> torch.Tensor | None:
        return labels if self.model.conditional else None

    def _reconstructions(self) -> torch.Tensor:
        condition = self._condition(self.labels)
        encoded = self.model.encode(self.images, condition)
        # A posterior is decoded at its mean; a deterministic code (VQ-VAE's) as it is.
        code = encoded.mean if self.model.capabilities.samples_posterior else encoded
        return self.model.decode_mean(code, condition)

    @torch.no_grad()
    def reconstruction_pairs(self) -> np.ndarray:
        """Each example beside its reconstruction, one pixel apart: uint8 (N, H, 2W+1[, C])."""
        inputs = to_uint8_images(self.images.numpy())
        outputs = to_uint8_images(self._reconstructions().numpy())
        separator = np.full((*inputs.shape[:2], 1, *inputs.shape[3:]), 128, np.uint8)
        return np.concatenate([inputs, separator, outputs], axis=2)

    @torch.no_grad()
    def samples(self) -> np.ndarray:
        """Images decoded from the same prior draws every time: uint8 (S, H, W[, C])."""
        generator = torch.Generator().manual_seed(self.seed)
        return to_uint8_images(self.model.sample(self.sample_count, generator=generator).numpy())

    @torch.no_grad()
    def reconstruction_points(self) -> tuple[np.ndarray, np.ndarray]:
        """2-D point data: the inputs (N, 2) and their reconstructions (N, 2)."""
        outputs = self._reconstructions()
        return self.images.reshape(len(self.images), -1).numpy(), outputs.reshape(
            len(outputs), -1
        ).numpy()

    @torch.no_grad()
    def sample_points(self) -> np.ndarray:
        """2-D point data: decoded prior draws (S, 2), the same draws every time."""
        generator = torch.Generator().manual_seed(self.seed)
        return (
            self.model.sample(self.sample_count, generator=generator)
            .reshape(self.sample_count, -1)
            .numpy()
        )
