"""The one worker-side copy of the model on show (Qt-free; any thread).

Every job computed from the model on show borrows it with `lease`: the copy holding the weights
of the generation the job was started with, built or loaded on first use. Jobs of one generation
share it (they only read it: eval mode, no gradients for its parameters); a job of a newer
generation loads the new weights into it when no job holds it, and builds a copy of its own when
one does (the older one goes with its last job), so that no job ever sees weights change under it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from vae_core.config import ModelConfig
from vae_core.models import LatentModel, build_model


@dataclass(frozen=True)
class WeightsSource:
    """What a job computes with: a model config and the weights of one generation."""

    config: ModelConfig
    weights: Mapping[str, torch.Tensor]
    generation: int

    @property
    def key(self) -> tuple[ModelConfig, int]:
        return self.config, self.generation


class WorkerModel:
    """The shared copy, and how many jobs hold it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._model: LatentModel | None = None
        self._key: tuple[ModelConfig, int] | None = None
        self._holders = 0
        self.builds = 0  # copies built so far (a test counts them)

    @contextmanager
    def lease(self, source: WeightsSource) -> Iterator[LatentModel]:
        model = self._acquire(source)
        try:
            yield model
        finally:
            self._release(model)

    def _acquire(self, source: WeightsSource) -> LatentModel:
        with self._lock:
            if self._key == source.key:
                self._holders += 1
                return self._model
            reusable = (
                self._model is not None
                and self._holders == 0
                and self._key is not None
                and self._key[0] == source.config
            )
            if reusable:
                model = self._model
            else:
                model = build_model(source.config).eval().requires_grad_(False)
                self.builds += 1
            with torch.no_grad():
                model.load_state_dict(source.weights)
            self._model, self._key, self._holders = model, source.key, 1
            return model

    def _release(self, model: LatentModel) -> None:
        with self._lock:
            if model is self._model:
                self._holders -= 1

    def forget(self) -> None:
        """Drop the copy (another model is on show); jobs holding it keep theirs."""
        with self._lock:
            self._model, self._key, self._holders = None, None, 0
