"""The map's test examples encoded off the GUI thread, with a copy of the weights of their own.

Each pass is tagged with the generation of the weights it used; until it ends, the codes of the
last pass stay on the map, so the scatter never disappears while a run trains.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch
from PySide6.QtCore import QObject, QTimer

from app.explorer.model_access import ENCODE_CHUNK, ExplorerModel
from app.pacing import DutyCycle
from app.state import EncodedExamples, ModelOnShow, ShownModel
from app.workers import start_job, use_torch_threads
from vae_core.data import ImageDataset
from vae_core.models import LatentModel, build_model

# The examples are re-encoded at most this often while training streams weights, each pass on
# one torch thread and taking at most this share of the time (a costly model is encoded less
# often): the cores are training's.
ENCODE_INTERVAL_S = 2.0
ENCODE_SHARE = 0.05


@dataclass(frozen=True)
class EncodingPass:
    codes: np.ndarray  # (N, latent_dim)
    kl_per_dim: np.ndarray | None  # (D,)
    generation: int
    encoder: LatentModel  # the job's copy of the model, handed back for the next pass
    seconds: float


def encode_examples(
    model: ModelOnShow,
    encoder: LatentModel | None,
    weights: Mapping[str, torch.Tensor],
    examples: ImageDataset,
    generation: int,
) -> EncodingPass:
    use_torch_threads(1)
    started = time.perf_counter()
    if encoder is None:
        encoder = build_model(model.config.model)
    encoder.load_state_dict(weights)
    access = ExplorerModel(encoder)
    codes = np.concatenate(
        [
            access.embed_dataset(examples, start, min(start + ENCODE_CHUNK, len(examples)))
            for start in range(0, len(examples), ENCODE_CHUNK)
        ]
    )
    kl_per_dim = access.kl_per_dim(examples)
    return EncodingPass(codes, kl_per_dim, generation, encoder, time.perf_counter() - started)


class EncodingController(QObject):
    """Keeps `ExplorerState.encoded` up to date with the weights on show, one pass at a time."""

    def __init__(
        self,
        shown: ShownModel,
        on_error: Callable[[str], None],
        waits_for_drag: Callable[[QTimer], bool],
        parent: QObject | None = None,
    ):
        super().__init__(parent)
        self.shown = shown
        self._on_error_message = on_error
        # A pass shares the cores with the GUI thread: none starts while the cursor is dragged.
        self._waits_for_drag = waits_for_drag
        self._pace = DutyCycle(ENCODE_INTERVAL_S, ENCODE_SHARE)
        self._encoder: LatentModel | None = None
        self._encoding_for: ModelOnShow | None = None  # the model of the pass under way
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._start_pass)
        shown.model_changed.connect(self._model_changed)
        shown.weights_changed.connect(self.request)

    def _model_changed(self) -> None:
        self._encoder = None
        self._pace.due_now()
        self.request()

    def request(self, *_) -> None:
        """Encode the examples with the newest weights, as soon as the pace allows."""
        if (
            self.shown.model is None
            or self.shown.explorer.examples is None
            or self._encoding_for is not None
        ):
            return
        if not self._timer.isActive():
            self._timer.start(int(self._pace.wait_s(time.perf_counter()) * 1000))

    def _start_pass(self) -> None:
        model, weights = self.shown.model, self.shown.weights
        examples = self.shown.explorer.examples
        if model is None or weights is None or examples is None or self._encoding_for is not None:
            return
        if self._waits_for_drag(self._timer):
            return
        self._pace.started(time.perf_counter())
        self._encoding_for = model
        start_job(
            encode_examples,
            model,
            self._encoder,
            weights,
            examples,
            self.shown.generation,
            on_result=self._pass_done,
            on_error=self._pass_failed,
        )

    def _pass_done(self, done: EncodingPass) -> None:
        model, self._encoding_for = self._encoding_for, None
        if model is not self.shown.model:
            self.request()  # another model came on show meanwhile: its own pass
            return
        self._encoder = done.encoder
        self._pace.spent(done.seconds)
        self.shown.explorer.encoded = EncodedExamples(done.codes, done.generation, done.kl_per_dim)
        if done.generation != self.shown.generation:
            self.request()

    def _pass_failed(self, error: Exception) -> None:
        model, self._encoding_for = self._encoding_for, None
        if model is self.shown.model:
            self._on_error_message(f"the test examples could not be encoded: {error}")

    def stop(self) -> None:
        self._timer.stop()
