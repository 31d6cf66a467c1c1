"""The GUI thread's decodes for the model on show."""

from __future__ import annotations

import numpy as np

from vae_core.model_access import ExplorerModel


class DecodeService:
    """The GUI thread's decodes for the model on show: the explorer's own CPU copy of it, holding
    the weights the explorer applied last (`ExplorerState.decoded_generation`). Only the explorer
    controller sets `model`; pages decode through it."""

    def __init__(self, shown):
        self.shown = shown
        self.model: ExplorerModel | None = None

    def decode(self, codes: np.ndarray, label=None) -> np.ndarray:
        """uint8 images for codes (N, D), with the explorer's condition class unless `label` is given."""
        return self.model.decode(codes, self.shown.explorer.label if label is None else label)
