"""Model families by name, and building a model from its config."""

from __future__ import annotations

from vae_core.choices import lookup
from vae_core.config import ModelConfig
from vae_core.errors import VaeStudioError
from vae_core.models.base import Capabilities, LatentModel
from vae_core.models.cvae import ConditionalVAE
from vae_core.models.vae import GaussianVAE
from vae_core.models.vqvae import VQVAE

MODEL_FAMILIES: dict[str, type[LatentModel]] = {
    "vae": GaussianVAE,
    "cvae": ConditionalVAE,
    "vqvae": VQVAE,
}


def build_model(config: ModelConfig) -> LatentModel:
    family = lookup(MODEL_FAMILIES, "model family", config.family)
    if not config.input_shape:
        raise VaeStudioError("the model config has no input shape: build it from a data set")
    return family(config)


__all__ = ["Capabilities", "LatentModel", "MODEL_FAMILIES", "build_model"]
