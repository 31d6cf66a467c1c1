"""File menu actions for the window: pick a path, then hand it to the controller that owns the
file (checkpoints, metrics CSV, plot PNGs); a checkpoint dropped on the window opens, a data set
(a folder, an .npz or .npy file) becomes the next run's data; a model folder (`export --format
folder`) opens like a checkpoint."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog

from app.controllers.follow import RunFolderFollower
from app.export import FigureExports
from vae_core.errors import VaeStudioError
from vae_core.export.model_folder import is_model_folder

CHECKPOINT_FILTER = "VAE Studio checkpoints (*.safetensors)"


class FileActions:
    def __init__(self, window):
        self.window = window
        key = QKeySequence.StandardKey
        action = window.run_actions.action
        self.open_action = action("openAction", "&Open Checkpoint…", self.ask_open, key.Open)
        self.save_action = action("saveAction", "&Save Checkpoint…", self.ask_save, key.Save)
        self.resume_action = action(
            "resumeAction",
            "&Resume Training",
            self.ask_resume,
            "Ctrl+R",
            "Continue training the opened checkpoint, or one you pick",
        )
        self.export_csv_action = action(
            "exportCsvAction", "Export &Metrics CSV…", self.ask_export_csv, "Ctrl+E"
        )
        self.follow_action = action(
            "followAction",
            "&Follow Run Folder…",
            self.ask_follow,
            None,
            "Watch a run that another process writes: its curves and newest checkpoint, read-only",
        )
        self.open_run_folder_action = action(
            "openRunFolderAction",
            "Open R&un Folder…",
            self.ask_open_run_folder,
            None,
            "List a run folder's curves and config in the Runs list, to compare runs",
        )
        self.stop_following_action = action(
            "stopFollowingAction", "Stop Following", self.stop_following
        )
        self.stop_following_action.setEnabled(False)
        self.follower = follower = RunFolderFollower(window.state, window.checkpoints, window)
        follower.errorOccurred.connect(window.show_error)
        follower.rowsAdded.connect(self._followed_rows_added)
        follower.following.connect(
            lambda folder: window.statusBar().showMessage(f"Following {folder}", 10000)
        )
        follower.following.connect(window.seed.runs.open_folder)
        window.runs.runStarted.connect(self.stop_following)
        self.figures = FigureExports(window)

    def follow(self, folder: str | Path) -> bool:
        """Show the run that another process writes into `folder`, as it goes."""
        if self.window.runs.status.training:
            self.window.show_error("a run is going: stop it before following another")
            return False
        following = self.follower.follow(folder)
        self.stop_following_action.setEnabled(following)
        return following

    def stop_following(self) -> None:
        self.follower.stop()
        self.stop_following_action.setEnabled(False)

    def _followed_rows_added(self) -> None:
        self.window.refresh_views()
        table = self.window.state.run.history.table
        if len(table):
            step = int(table.rows[-1, 0])
            self.window.statusBar().showMessage(
                f"Following {self.follower.folder}: step {step:,}", 5000
            )

    def ask_follow(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self.window,
            "Follow run folder",
            str(self.window.settings.value("files/lastDirectory", str(Path.home()))),
        )
        if folder:
            self.follow(folder)

    def ask_open_run_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self.window,
            "Open run folder",
            str(self.window.settings.value("files/lastDirectory", str(Path.home()))),
        )
        if folder:
            self.window.seed.runs.open_folder(folder)

    def export_metrics(self, path: str | Path) -> bool:
        table = self.window.state.run.history.table
        if not len(table):
            self.window.show_error("there are no metrics to export yet: train a model first")
            return False
        try:
            table.write_csv(path)
        except VaeStudioError as error:
            self.window.show_error(str(error))
            return False
        self.window.statusBar().showMessage(f"Exported {len(table):,} rows to {path}", 10000)
        return True

    def export_plot(self, title: str, path: str | Path) -> bool:
        """Save one view (a title of File > Export Plot PNG) as a PNG of what is on screen."""
        if not self.window.exportable_views()[title].grab().save(str(path), "PNG"):
            self.window.show_error(f"cannot write {path}")
            return False
        self.window.statusBar().showMessage(f"Exported {title.lower()} to {path}", 10000)
        return True

    def _ask_path(
        self, save: bool, title: str, file_filter: str, default_name: str = ""
    ) -> str | None:
        chosen = self.ask_file(save, title, file_filter, default_name)
        return None if chosen is None else chosen[0]

    def ask_file(
        self, save: bool, title: str, file_filter: str, default_name: str = ""
    ) -> tuple[str, str] | None:
        """The path the user picked and the filter it was picked under; its folder is offered next time."""
        settings = self.window.settings
        folder = str(settings.value("files/lastDirectory", str(Path.home())))
        ask = QFileDialog.getSaveFileName if save else QFileDialog.getOpenFileName
        path, chosen_filter = ask(self.window, title, str(Path(folder) / default_name), file_filter)
        if not path:
            return None
        settings.setValue("files/lastDirectory", str(Path(path).parent))
        return path, chosen_filter

    def ask_open(self) -> None:
        if path := self._ask_path(False, "Open checkpoint", CHECKPOINT_FILTER):
            self.stop_following()
            self.window.open_checkpoint(path)

    def ask_save(self) -> None:
        if path := self._ask_path(
            True, "Save checkpoint", CHECKPOINT_FILTER, "checkpoint.safetensors"
        ):
            self.window.save_checkpoint_to(path)

    def ask_resume(self) -> None:
        if self.window.checkpoints.opened_checkpoint is not None:
            self.window.resume_from()
        elif path := self._ask_path(False, "Resume training from checkpoint", CHECKPOINT_FILTER):
            self.window.resume_from(path)

    def ask_export_csv(self) -> None:
        if path := self._ask_path(True, "Export metrics", "CSV files (*.csv)", "metrics.csv"):
            self.export_metrics(path)

    def ask_export_plot(self, action: QAction) -> None:
        title = action.data()
        default_name = title.lower().replace(" ", "_") + ".png"
        if path := self._ask_path(
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
                self.window.open_checkpoint(path)
            else:
                self.window.data_sources.open_dropped(path)
