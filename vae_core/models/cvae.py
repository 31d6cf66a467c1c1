"""The conditional VAE: encoder and decoder both see the label, so the code is free to hold what
the label does not say (the style), and one code decodes to every class in that style."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vae_core.config import ModelConfig
from vae_core.errors import VaeStudioError
from vae_core.models.vae import GaussianVAE


class ConditionalVAE(GaussianVAE):
    """q(z|x, y) and p(x|z, y) with a prior p(z) that ignores y; the ELBO bounds log p(x|y)."""

    conditional = True

    def __init__(self, config: ModelConfig):
        if config.num_classes < 2:
            raise VaeStudioError(
                f"the conditional VAE needs labelled data with 2 or more classes, got {config.num_classes}"
            )
        super().__init__(config)

    def labels(self, y, count: int, device) -> torch.Tensor:
        """Labels as a tensor (count,): from one class number, or every class in turn when y is None."""
        if y is None:
            return torch.arange(count, device=device) % self.config.num_classes
        if isinstance(y, int):
            if not 0 <= y < self.config.num_classes:
                raise VaeStudioError(
                    f"class {y} does not exist: the model knows classes 0..{self.config.num_classes - 1}"
                )
            return torch.full((count,), y, dtype=torch.long, device=device)
        return y

    def _condition(self, y):
        if y is None:
            raise VaeStudioError("the conditional VAE needs a class label to encode or decode")
        return F.one_hot(y, self.config.num_classes).float()

    def sample(self, count, y=None, generator=None):
        """Images of the given class (an int or labels (count,)); every class in turn when y is None."""
        device = next(self.parameters()).device
        labels = self.labels(y, count, device)
        z = self.prior.sample(count, generator=generator, device=device)
        return self.decode_mean(z, labels)
