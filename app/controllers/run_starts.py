"""Starting runs from the settings shown: Train, Resume (a checkpoint read on a worker, or the one
opened), and the chosen data loaded ahead of Train so that Train finds it ready."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QWidget

from app.controllers.checkpoints import CheckpointController
from app.controllers.run import RunController
from app.controls import ControlPanel
from app.messages import Messages
from app.settings import store_config
from app.state import RunStatus
from app.workers import start_job
from vae_core.checkpoint import Checkpoint
from vae_core.config import RunConfig
from vae_core.data.downloads import DownloadCancelled
from vae_core.errors import VaeStudioError


class RunStarts(QObject):
    dataLoaded = Signal(
        str, str
    )  # a chosen data set loaded ahead of Train: its name, "" or why not

    def __init__(
        self,
        controls: ControlPanel,
        runs: RunController,
        checkpoints: CheckpointController,
        settings: QSettings,
        messages: Messages,
        say: Callable[[str, int], None],
        show_error: Callable[[str], None],
        window: QWidget,
    ):
        """`say(line, ms)`: a line in the status bar for `ms` (0: until the next)."""
        super().__init__(window)
        self.controls = controls
        self.runs = runs
        self.checkpoints = checkpoints
        self.settings = settings
        self.messages = messages
        self.say = say
        self.show_error = show_error
        self.window = window
        checkpoints.resumeReady.connect(self._resume_read)
        controls.dataChanged.connect(self.preload_data)

    def train(self) -> None:
        """Train a new model with the settings shown."""
        try:
            config = self.controls.config()
        except VaeStudioError as error:
            self.show_error(str(error))
            return
        self._start(config, None)

    def resume_from(self, path: str | Path | None = None) -> bool:
        """Continue training a checkpoint: the file at `path` (read on a worker), else the one opened."""
        if self.runs.status.training:
            self.show_error("a run is going: stop it before resuming another")
            return False
        if path is not None:
            self.checkpoints.read_for_resume(path)
        elif self.checkpoints.opened_checkpoint is not None:
            # The controls show the opened checkpoint's settings, and any change made since.
            self._resume(self.checkpoints.opened_checkpoint)
        else:
            self.show_error("open a checkpoint first, or pick one to resume")
            return False
        return True

    def show_checkpoint_settings(self, checkpoint: Checkpoint) -> None:
        self.controls.apply_config(checkpoint.config)
        if "beta_base" in checkpoint.counters:
            self.controls.set_beta(float(checkpoint.counters["beta_base"]))

    def _resume_read(self, checkpoint: Checkpoint) -> None:
        if not self.runs.status.training:
            self.show_checkpoint_settings(checkpoint)
            self._resume(checkpoint)

    def _resume(self, checkpoint: Checkpoint) -> None:
        try:
            config = self.controls.config()
        except VaeStudioError as error:
            self.show_error(str(error))
            return
        self._start(config, checkpoint)

    def _start(self, config: RunConfig, checkpoint: Checkpoint | None) -> None:
        store_config(self.settings, config)
        try:
            self.runs.start(config, checkpoint)
        except VaeStudioError as error:
            self.show_error(str(error))
            return
        self.say(
            "Resuming the checkpoint…" if checkpoint else "Loading data and building the model…", 0
        )

    def preload_data(self) -> None:
        """Start loading the chosen data set now, so that Train finds it ready."""
        if not self.window.isVisible():
            return  # closed already, or never shown: Train loads what it needs
        config = self.controls.data_config()
        start_job(
            self.runs.data.get,
            config,
            on_result=lambda _split: self.dataLoaded.emit(config.dataset, ""),
            on_error=lambda error: self._preload_failed(config.dataset, error),
            on_finished=self.messages.hide_download_progress,
            context=self,
        )

    def _preload_failed(self, dataset: str, error: Exception) -> None:
        message = (
            str(error) if isinstance(error, VaeStudioError) else f"{type(error).__name__}: {error}"
        )
        if isinstance(error, DownloadCancelled):
            self.say(message, 10000)
        elif self.runs.status is not RunStatus.STARTING:  # a run waiting for this data says it
            self.show_error(f"the data did not load: {message}")
        self.dataLoaded.emit(dataset, message)
