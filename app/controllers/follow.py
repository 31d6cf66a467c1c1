"""Following a run folder that another process writes (a headless or cluster run): its curves
grow as metrics.csv does, and each new checkpoint's weights come on show. Until its first
checkpoint no model is on show (never the one shown before, passing as the followed run's) and the
settings show the run's own config.json. Read-only: nothing is locked or written, so the writer
never notices. Every read happens on a worker."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from app.controllers.checkpoints import CheckpointController
from app.state import AppState
from app.workers import start_job
from vae_core.checkpoint import Checkpoint, load_checkpoint
from vae_core.config import RunConfig
from vae_core.errors import VaeStudioError
from vae_core.metrics_columns import METRICS_COLUMNS
from vae_core.metrics_reader import MetricsTail, NewRows
from vae_core.run_folder import CHECKPOINT_NAME, CONFIG_NAME, METRICS_NAME

POLL_INTERVAL_MS = 1000
_NO_ROWS = np.empty((0, len(METRICS_COLUMNS)))


@dataclass(frozen=True)
class FolderNews:
    rows: NewRows
    checkpoint_stamp: (
        tuple[int, int] | None
    )  # (modification time in ns, size) of checkpoint.safetensors
    config: RunConfig | None = None  # config.json, where asked for and written already
    config_problem: str = ""  # why config.json did not read


def _read_config(path: Path) -> tuple[RunConfig | None, str]:
    if not path.is_file():
        return None, ""
    try:
        return RunConfig.from_file(path), ""
    except VaeStudioError as error:
        return None, str(error)


def poll_job(tail: MetricsTail, checkpoint_path: Path, config_path: Path | None) -> FolderNews:
    """The folder's news: new metric rows, the checkpoint's stamp and, with `config_path`, the
    run's config."""
    try:
        status = os.stat(checkpoint_path)
        stamp = (status.st_mtime_ns, status.st_size)
    except FileNotFoundError:
        stamp = None
    config, problem = _read_config(config_path) if config_path else (None, "")
    return FolderNews(tail.read(), stamp, config, problem)


class RunFolderFollower(QObject):
    following = Signal(str)  # the folder, once its first figures are read
    rowsAdded = Signal()
    configFound = Signal(object)  # the followed run's RunConfig, from its config.json
    errorOccurred = Signal(str)

    def __init__(
        self, state: AppState, checkpoints: CheckpointController, parent: QObject | None = None
    ):
        super().__init__(parent)
        self.state = state
        self.checkpoints = checkpoints
        self.folder: Path | None = None
        self._tail: MetricsTail | None = None
        self._rows = _NO_ROWS
        self._stamp: tuple[int, int] | None = None
        self._announced = False
        self._config_wanted = False  # config.json is read until found, or until a checkpoint is
        self._polling = False
        self._generation = (
            0  # bumped by each follow and stop: a late answer about another folder is dropped
        )
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_INTERVAL_MS)
        self._timer.timeout.connect(self._poll)
        checkpoints.opened.connect(self._checkpoint_opened)

    def follow(self, folder: str | Path) -> bool:
        folder = Path(folder)
        if not folder.is_dir():
            self.errorOccurred.emit(f"{folder} is not a folder")
            return False
        self.stop()
        self.folder = folder
        self._tail = MetricsTail(folder / METRICS_NAME)
        self._rows = _NO_ROWS
        self._stamp = None
        self._announced = False
        self._config_wanted = True
        # Nothing of the model shown before passes as the followed run's.
        self.checkpoints.show_nothing()
        self._timer.start()
        self._poll()
        return True

    def stop(self) -> None:
        self._generation += 1
        self._timer.stop()
        self.folder = None
        self._polling = False

    @property
    def active(self) -> bool:
        return self.folder is not None

    def _poll(self) -> None:
        if self._polling or self.folder is None:
            return  # the last read is still going: a slow disk is not asked twice
        self._polling = True
        generation = self._generation
        start_job(
            poll_job,
            self._tail,
            self.folder / CHECKPOINT_NAME,
            self.folder / CONFIG_NAME if self._config_wanted else None,
            on_result=lambda news: self._on_news(generation, news),
            on_error=lambda error: self._on_failed(generation, error),
        )

    def _on_news(self, generation: int, news: FolderNews) -> None:
        if generation != self._generation:
            return
        self._polling = False
        self._take_config(news)
        rows = news.rows.rows
        if news.rows.restarted or (len(rows) and not len(self._rows)):
            self._rows = rows
            self.state.run.show_history(rows)
        elif len(rows):
            self._rows = np.concatenate([self._rows, rows])
            self.state.run.add_rows(rows)
        if len(rows) or news.rows.restarted:
            self.rowsAdded.emit()
        if news.checkpoint_stamp is not None and news.checkpoint_stamp != self._stamp:
            self._stamp = news.checkpoint_stamp
            self._load_checkpoint()
        if not self._announced:
            self._announced = True
            self.following.emit(str(self.folder))

    def _take_config(self, news: FolderNews) -> None:
        if not self._config_wanted or not (news.config or news.config_problem):
            return
        self._config_wanted = False
        if news.config_problem:
            self.errorOccurred.emit(f"following {self.folder}: {news.config_problem}")
        elif self.state.shown.model is None:  # no checkpoint has come on show meanwhile
            self.configFound.emit(news.config)

    @property
    def waiting_for_checkpoint(self) -> bool:
        """Followed, with no checkpoint of the folder's on show yet."""
        shown = self.state.shown.model
        return self.active and (shown is None or shown.path != str(self.folder / CHECKPOINT_NAME))

    def _load_checkpoint(self) -> None:
        self._config_wanted = False  # the checkpoint carries the config
        path = self.folder / CHECKPOINT_NAME
        shown = self.state.shown.model
        if shown is None or shown.path != str(path):
            self.checkpoints.open(path)  # builds the model and loads its data, on a worker
            return
        generation = self._generation
        start_job(
            load_checkpoint,
            path,
            on_result=lambda checkpoint: self._new_weights(generation, checkpoint),
            on_error=lambda error: self._on_failed(generation, error),
        )

    def _checkpoint_opened(self, checkpoint: Checkpoint) -> None:
        shown = self.state.shown.model
        if self.folder is None or shown is None or shown.path != str(self.folder / CHECKPOINT_NAME):
            return
        # The checkpoint carries the curves up to its save; the file has them up to now.
        if len(self._rows):
            self.state.run.show_history(self._rows)

    def _new_weights(self, generation: int, checkpoint: Checkpoint) -> None:
        shown = self.state.shown.model
        if generation != self._generation or shown is None:
            return
        if checkpoint.config != shown.config:  # the folder holds another run now
            self.checkpoints.open(self.folder / CHECKPOINT_NAME)
            return
        step = int(checkpoint.counters["step"]) if "step" in checkpoint.counters else None
        self.state.shown.set_weights(checkpoint.model_state, step)

    def _on_failed(self, generation: int, error: Exception) -> None:
        if generation != self._generation:
            return
        self._polling = False
        # A checkpoint caught between two writes of a non-atomic copy, say: the next poll tries again.
        self._stamp = None
        message = (
            str(error) if isinstance(error, VaeStudioError) else f"{type(error).__name__}: {error}"
        )
        self.errorOccurred.emit(f"following {self.folder}: {message}")
