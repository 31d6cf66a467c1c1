"""File menu actions for the window: pick a path, then hand it to the controller that owns the
file (checkpoints, metrics CSV, plot PNGs); a checkpoint dropped on the window opens, a data set
(a folder, an .npz or .npy file) becomes the next run's data; a model folder (`export --format
folder`) opens like a checkpoint. The CSV and PNG exports are written on a worker."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np
from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtGui import QAction, QImage
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from app.controllers.checkpoints import CheckpointController
from app.controllers.follow import RunFolderFollower
from app.controllers.job_kinds import FILE_WRITE, Call
from app.controllers.model_jobs import Answer, ModelJobs
from app.controllers.run import RunController
from app.export_files import write_png
from app.state import AppState
from vae_core.export.model_folder import is_model_folder
from vae_core.run_record import write_metrics

CHECKPOINT_FILTER = "VAE Studio checkpoints (*.safetensors)"


class FileDialogs:
    """Asks for a file or a folder, starting in the folder the user last picked a file in."""

    def __init__(self, parent: QWidget, settings: QSettings):
        self.parent = parent
        self.settings = settings

    def _last_folder(self) -> str:
        return str(self.settings.value("files/lastDirectory", str(Path.home())))

    def ask_folder(self, title: str) -> str | None:
        return QFileDialog.getExistingDirectory(self.parent, title, self._last_folder()) or None

    def ask_file(
        self, save: bool, title: str, file_filter: str, default_name: str = ""
    ) -> tuple[str, str] | None:
        """The path the user picked and the filter it was picked under; its folder is offered next time."""
        ask = QFileDialog.getSaveFileName if save else QFileDialog.getOpenFileName
        start = str(Path(self._last_folder()) / default_name)
        path, chosen_filter = ask(self.parent, title, start, file_filter)
        if not path:
            return None
        self.settings.setValue("files/lastDirectory", str(Path(path).parent))
        return path, chosen_filter

    def ask_path(
        self, save: bool, title: str, file_filter: str, default_name: str = ""
    ) -> str | None:
        chosen = self.ask_file(save, title, file_filter, default_name)
        return None if chosen is None else chosen[0]


class WindowFiles(Protocol):
    """What of the window the file actions use: its dialogs' parent, its status line and the
    commands that take a path."""

    def statusBar(self): ...  # noqa: N802 (Qt's name)

    def open_checkpoint(self, path: str | Path) -> bool: ...

    def save_checkpoint_to(self, path: str | Path) -> bool: ...

    def resume_from(self, path: str | Path | None = None) -> bool: ...

    def refresh_views(self) -> None: ...

    def exportable_views(self) -> dict[str, QWidget]: ...

    def show_error(self, message: str) -> None: ...


def _metrics_written(path: Path, rows: np.ndarray) -> str:
    """On a worker: metrics.csv of `rows`, written whole; the line that says so."""
    write_metrics(path, rows)
    return f"Exported {len(rows):,} rows to {path}"


def _view_written(title: str, image: QImage, path: Path) -> str:
    """On a worker: a view's picture as a PNG; the line that says so."""
    write_png(image, path)
    return f"Exported {title.lower()} to {path}"


class FileActions(QObject):
    exported = Signal(str)  # the line for the status bar, once the file is complete

    def __init__(
        self,
        window: WindowFiles,
        jobs: ModelJobs,
        dialogs: FileDialogs,
        state: AppState,
        runs: RunController,
        checkpoints: CheckpointController,
        stop_following_action: QAction,
        open_data: Callable[[str], None],
        list_run_folder: Callable[[str], None],
    ):
        """`open_data`: a dropped data set becomes the next run's; `list_run_folder`: a followed
        folder joins the Runs list."""
        super().__init__(window)
        self.window = window
        self._writes = jobs.line(FILE_WRITE, self, self._written, self._write_failed)
        self.dialogs = dialogs
        self.state = state
        self.runs = runs
        self.checkpoints = checkpoints
        self.stop_following_action = stop_following_action
        self._open_data = open_data
        self.follower = follower = RunFolderFollower(state, checkpoints, window)
        follower.errorOccurred.connect(window.show_error)
        follower.rowsAdded.connect(self._followed_rows_added)
        follower.following.connect(self._say_following)
        follower.following.connect(list_run_folder)
        runs.runStarted.connect(self.stop_following)

    def follow(self, folder: str | Path) -> bool:
        """Show the run that another process writes into `folder`, as it goes."""
        if self.runs.status.training:
            self.window.show_error("a run is going: stop it before following another")
            return False
        following = self.follower.follow(folder)
        self.stop_following_action.setEnabled(following)
        return following

    def _say_following(self, folder: str) -> None:
        waiting = (
            ": its settings shown, its model on show from its first checkpoint (waiting for it)"
            if self.follower.waiting_for_checkpoint
            else ""
        )
        self.window.statusBar().showMessage(f"Following {folder}{waiting}", 10000)

    def stop_following(self) -> None:
        self.follower.stop()
        self.stop_following_action.setEnabled(False)

    def _followed_rows_added(self) -> None:
        self.window.refresh_views()
        table = self.state.run.history.table
        if len(table):
            step = int(table.rows[-1, 0])
            self.window.statusBar().showMessage(
                f"Following {self.follower.folder}: step {step:,}", 5000
            )

    def ask_follow(self) -> None:
        if folder := self.dialogs.ask_folder("Follow run folder"):
            self.follow(folder)

    def export_metrics(self, path: str | Path) -> bool:
        """Write the run's record (a row every `log_every` steps, as the command line logs
        them) as metrics.csv on a worker; `exported` says when it is done."""
        table = self.state.run.history.record
        if not len(table):
            self.window.show_error("there are no metrics to export yet: train a model first")
            return False
        self._writes.ask(Call(_metrics_written, (Path(path), table.rows.copy())))
        return True

    def export_plot(self, title: str, path: str | Path) -> bool:
        """Save one view (a title of File > Export Plot PNG) as a PNG of what is on screen: the
        picture taken here, encoded and written on a worker."""
        image = self.window.exportable_views()[title].grab().toImage()
        self._writes.ask(Call(_view_written, (title, image, Path(path))))
        return True

    def _written(self, answer: Answer) -> None:
        self.window.statusBar().showMessage(answer.value, 10000)
        self.exported.emit(answer.value)

    def _write_failed(self, error: Exception) -> None:
        self.window.show_error(str(error))

    def open(self, path: str | Path) -> bool:
        """Open a checkpoint (a file, a run or a model folder); a folder followed is let go."""
        self.stop_following()
        return self.window.open_checkpoint(path)

    def ask_open(self) -> None:
        if path := self.dialogs.ask_path(False, "Open checkpoint", CHECKPOINT_FILTER):
            self.open(path)

    def ask_save(self) -> None:
        if path := self.dialogs.ask_path(
            True, "Save checkpoint", CHECKPOINT_FILTER, "checkpoint.safetensors"
        ):
            self.window.save_checkpoint_to(path)

    def ask_resume(self) -> None:
        if self.checkpoints.opened_checkpoint is not None:
            self.window.resume_from()
        elif path := self.dialogs.ask_path(
            False, "Resume training from checkpoint", CHECKPOINT_FILTER
        ):
            self.window.resume_from(path)

    def ask_export_csv(self) -> None:
        if path := self.dialogs.ask_path(
            True, "Export metrics", "CSV files (*.csv)", "metrics.csv"
        ):
            self.export_metrics(path)

    def plots_menu(self, views: dict[str, QWidget]) -> QMenu:
        """File > Export Plot PNG: one entry per view."""
        menu = QMenu("Export &Plot PNG", self.window)
        for title in views:
            menu.addAction(f"{title}…").setData(title)
        menu.triggered.connect(self.ask_export_plot)
        return menu

    def ask_export_plot(self, action: QAction) -> None:
        title = action.data()
        default_name = title.lower().replace(" ", "_") + ".png"
        if path := self.dialogs.ask_path(
            True, f"Export {title.lower()}", "PNG images (*.png)", default_name
        ):
            self.export_plot(title, path)

    @staticmethod
    def _dropped_path(event) -> str | None:
        for url in event.mimeData().urls():
            if url.isLocalFile():
                return url.toLocalFile()
        return None

    def drag_enter(self, event) -> None:
        if self._dropped_path(event):
            event.acceptProposedAction()

    def drop(self, event) -> None:
        if path := self._dropped_path(event):
            event.acceptProposedAction()
            if path.endswith(".safetensors") or is_model_folder(Path(path)):
                self.open(path)
            else:
                self._open_data(path)
