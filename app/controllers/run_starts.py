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
from vae_core.training.budget import step_budget


def budget_spent(config: RunConfig, checkpoint: Checkpoint) -> str:
    """Why resuming `checkpoint` with `config` would train nothing ("" when it would train): it
    has reached the budget the settings give, and how to go further."""
    counters = checkpoint.counters
    if "step" not in counters or "order" not in counters:
        return ""  # a checkpoint without its counters starts counting afresh
    step, train = int(counters["step"]), config.train
    budget = step_budget(train, len(counters["order"]))
    if step < budget:
        return ""
    what = (
        f"its {train.max_steps:,} steps"
        if train.max_steps is not None
        else f"its {train.epochs} epochs ({budget:,} steps)"
    )
    return (
        f"nothing to resume: the checkpoint is at step {step:,}, the end of {what}; "
        "raise Epochs (or tick 'until I stop it') and Resume goes on from there"
    )


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
        self._resume_path: str | Path | None = None  # the file read for resuming last
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
            self._resume_path = path
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
            if not self._resume(checkpoint) and self._resume_path is not None:
                # Opened instead, so that raised Epochs and Resume go on from it.
                self.checkpoints.open(self._resume_path)

    def _resume(self, checkpoint: Checkpoint) -> bool:
        """Start training on from `checkpoint`; False (and one line) when there is nothing to train."""
        try:
            config = self.controls.config()
        except VaeStudioError as error:
            self.show_error(str(error))
            return False
        if spent := budget_spent(config, checkpoint):
            self.show_error(spent)
            return False
        self._start(config, checkpoint)
        return True

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
