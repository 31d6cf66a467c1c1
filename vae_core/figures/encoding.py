"""The map's examples encoded: posterior means, and the mean KL per latent dimension."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vae_core.data import ImageDataset
from vae_core.model_access import ENCODE_CHUNK, ExplorerModel
from vae_core.models import LatentModel


@dataclass(frozen=True)
class EncodedCodes:
    codes: np.ndarray  # (N, latent_dim)
    kl_per_dim: np.ndarray | None  # (D,)


def encode_examples(model: LatentModel, examples: ImageDataset) -> EncodedCodes:
    access = ExplorerModel(model)
    codes = np.concatenate(
        [
            access.embed_dataset(examples, start, min(start + ENCODE_CHUNK, len(examples)))
            for start in range(0, len(examples), ENCODE_CHUNK)
        ]
    )
    return EncodedCodes(codes, access.kl_per_dim(examples))
