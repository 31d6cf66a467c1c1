"""Model families by name, and building a model from its config."""

from __future__ import annotations

from vae_core.choices import lookup
from vae_core.config import ModelConfig
from vae_core.errors import VaeStudioError
from vae_core.models.base import Capabilities, LatentModel
from vae_core.models.cvae import ConditionalVAE
from vae_core.models.hvae import HierarchicalVAE
from vae_core.models.vae import GaussianVAE
from vae_core.models.vqvae import VQVAE

MODEL_FAMILIES: dict[str, type[LatentModel]] = {
    "vae": GaussianVAE,
    "cvae": ConditionalVAE,
    "vqvae": VQVAE,
    "hvae": HierarchicalVAE,
}


def build_model(config: ModelConfig) -> LatentModel:
    """The model a config describes, with fresh weights; NotEnoughMemory, naming the choice to
    blame, when its weights would not fit in the machine's free memory."""
    family = lookup(MODEL_FAMILIES, "model family", config.family)
    if not config.input_shape:
        raise VaeStudioError("the model config has no input shape: build it from a data set")
    # Imported here: the estimate knows the families' parts, which import this package.
    from vae_core.memory import check_model_fits

    check_model_fits(config)
    return family(config)


__all__ = ["Capabilities", "LatentModel", "MODEL_FAMILIES", "build_model"]
