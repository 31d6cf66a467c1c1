"""Model families by name, and building a model from its config."""

from __future__ import annotations

from vae_core.config import ModelConfig
from vae_core.errors import VaeStudioError
from vae_core.models.base import LatentModel
from vae_core.models.vae import GaussianVAE

MODEL_FAMILIES: dict[str, type[LatentModel]] = {
    "vae": GaussianVAE,
}


def build_model(config: ModelConfig) -> LatentModel:
    if config.family not in MODEL_FAMILIES:
        raise VaeStudioError(f"unknown model family '{config.family}' (choose from {', '.join(MODEL_FAMILIES)})")
    if not config.input_shape:
        raise VaeStudioError("the model config has no input shape: build it from a data set")
    return MODEL_FAMILIES[config.family](config)


__all__ = ["LatentModel", "MODEL_FAMILIES", "build_model"]
