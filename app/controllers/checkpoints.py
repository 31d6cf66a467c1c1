"""Checkpoint files for the window: open, resume and save, every read and write on a worker.

Opening reads the file, builds the model, loads its weights and its data off the GUI thread, then
puts it on show in one step, with the curves its run had.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.controllers.run import RunController
from app.state import AppState, ModelOnShow
from app.workers import DataCache, start_job
from vae_core.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from vae_core.data import ImageDataset
from vae_core.errors import VaeStudioError, error_line
from vae_core.export.model_folder import open_model
from vae_core.models import LatentModel


@dataclass(frozen=True)
class OpenedCheckpoint:
    path: str
    checkpoint: Checkpoint
    viewer: LatentModel  # built on the worker; the GUI thread owns it from here
    test_data: ImageDataset | None
    data_error: str  # why the data did not load ("" when it did)


def open_job(path: str, data: DataCache) -> OpenedCheckpoint:
    # A checkpoint file, a run folder or an exported model folder (model.safetensors, config.json).
    model, checkpoint = open_model(path)
    model.requires_grad_(False)
    try:
        test_data, data_error = data.get(checkpoint.config.data).test, ""
    except VaeStudioError as error:
        test_data, data_error = None, str(error)
    if test_data is not None and tuple(test_data.image_shape) != tuple(
        checkpoint.config.model.input_shape
    ):
        shape = "x".join(map(str, test_data.image_shape))
        test_data, data_error = (
            None,
            f"its data set now holds {shape} examples, not what the model was trained on",
        )
    return OpenedCheckpoint(path, checkpoint, model, test_data, data_error)


def save_job(path: Path, checkpoint: Checkpoint) -> str:
    save_checkpoint(
        path,
        checkpoint.config,
        checkpoint.model_state,
        checkpoint.optimizer_state,
        checkpoint.counters,
        checkpoint.history,
    )
    return str(path)


class CheckpointController(QObject):
    opened = Signal(object)  # Checkpoint, once on show
    resumeReady = Signal(object)  # Checkpoint read for resuming
    checkpointSaved = Signal(str)
    errorOccurred = Signal(str)

    def __init__(self, state: AppState, runs: RunController, parent: QObject | None = None):
        super().__init__(parent)
        self.state = state
        self.runs = runs
        self.opened_checkpoint: Checkpoint | None = None
        self._request = 0  # the latest open or resume asked for: older answers are dropped
        runs.runStarted.connect(self._forget_opened)

    def _forget_opened(self) -> None:
        self.opened_checkpoint = None

    def _next_request(self) -> int:
        self._request += 1
        return self._request

    def open(self, path: str | Path) -> bool:
        """Show a checkpoint's model in every view, when it has loaded (training stays stopped)."""
        if self.runs.status.training:
            self.errorOccurred.emit("a run is going: stop it before opening a checkpoint")
            return False
        request = self._next_request()
        start_job(
            open_job,
            str(path),
            self.runs.data,
            on_result=lambda opened: self._on_opened(request, opened),
            on_error=lambda error: self._on_failed(request, error),
        )
        return True

    def show_nothing(self) -> None:
        """No model and no curves on show (a followed run before its first checkpoint): the last
        run is let go of, and an open still under way is no longer wanted."""
        self._next_request()
        self.runs.end()
        self.opened_checkpoint = None
        self.state.run.show_history(None)
        self.state.shown.show(None)

    def _on_opened(self, request: int, opened: OpenedCheckpoint) -> None:
        if request != self._request or self.runs.status.training:
            return
        checkpoint = opened.checkpoint
        self.runs.end()
        self.opened_checkpoint = checkpoint
        step = int(checkpoint.counters["step"]) if "step" in checkpoint.counters else 0
        model = ModelOnShow(
            checkpoint.config,
            opened.viewer.capabilities,
            "checkpoint",
            opened.test_data,
            opened.path,
            step,
            viewer=opened.viewer,
        )
        self.state.run.show_history(checkpoint.history)
        self.state.shown.show(model, checkpoint.model_state)
        self.opened.emit(checkpoint)
        if opened.data_error:
            self.errorOccurred.emit(
                f"the checkpoint opened, but its data did not load: {opened.data_error}"
            )

    def _on_failed(self, request: int, error: Exception) -> None:
        if request == self._request:
            self.errorOccurred.emit(error_line(error))

    def read_for_resume(self, path: str | Path) -> None:
        """Read a checkpoint to resume from; `resumeReady` carries it."""
        request = self._next_request()
        start_job(
            load_checkpoint,
            str(path),
            on_result=lambda checkpoint: self._on_read(request, checkpoint),
            on_error=lambda error: self._on_failed(request, error),
        )

    def _on_read(self, request: int, checkpoint: Checkpoint) -> None:
        if request == self._request:
            self.resumeReady.emit(checkpoint)

    def save(self, path: str | Path) -> bool:
        """Save the model on show: the run's (on its thread, with the optimizer), the last good
        weights of a failed run (its last snapshot's), or the opened checkpoint."""
        run, shown = self.state.run, self.state.shown
        if self.runs.holds_trainer:
            self.runs.save(path)
            return True
        history = run.history.table.rows.copy()
        if shown.model is not None and shown.model.source == "run" and shown.weights is not None:
            checkpoint = Checkpoint(run.config, dict(shown.weights), None, {}, history)
        elif self.opened_checkpoint is not None:
            opened = self.opened_checkpoint
            checkpoint = Checkpoint(
                opened.config, opened.model_state, opened.optimizer_state, opened.counters, history
            )
        else:
            self.errorOccurred.emit("there is no model to save yet: train one or open a checkpoint")
            return False
        start_job(
            save_job,
            Path(path),
            checkpoint,
            on_result=self.checkpointSaved.emit,
            on_error=lambda error: self.errorOccurred.emit(error_line(error)),
        )
        return True
