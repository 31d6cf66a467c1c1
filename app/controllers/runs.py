"""Fills the Runs list: each run trained in the window (its rows followed while a runs view is
open, its folder written when it ends), each run folder opened, and the folders listed at the
last session's end. Every file is read and written on a worker; the list of folders and their
ticks is kept in the window's settings."""

from __future__ import annotations

import itertools
import json
import os
from datetime import datetime
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QSettings, QStandardPaths, QTimer, Signal

from app.controllers.run import RunController
from app.runs.run_folders import (
    RestoredFolders,
    RunFolder,
    folder_name,
    read_run_folder,
    restore_folders,
    write_window_run,
)
from app.state import AppState, RunStatus
from app.state.runs import RunEntry, RunsState
from app.workers import start_job
from vae_core.errors import error_line

RUNS_DIR_VARIABLE = "VAE_STUDIO_RUNS_DIR"
_FOLDERS_KEY = "runs/folders"
# The live run's rows are copied into the list at most this often, and only while a view shows them.
FOLLOW_INTERVAL_MS = 200


def runs_directory() -> Path:
    """Where the window writes its runs' folders: $VAE_STUDIO_RUNS_DIR, else the app's data folder."""
    override = os.environ.get(RUNS_DIR_VARIABLE)
    if override:
        return Path(override)
    location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(location) / "runs"


class RunsController(QObject):
    folderOpened = Signal(str)  # a folder's run is listed (or its row refreshed)
    folderWritten = Signal(str)  # a session run's folder was written
    restored = Signal(int)  # the last session's folders are listed again: how many
    errorOccurred = Signal(str)

    def __init__(
        self,
        app_state: AppState,
        runs: RunController,
        settings: QSettings,
        parent: QObject | None = None,
    ):
        super().__init__(parent)
        self.app_state = app_state
        self.runs = runs
        self.settings = settings
        self.state = RunsState()
        self._number = 0  # session runs started, for their names
        self._live: RunEntry | None = None  # the run the window trains (or last trained)
        self._folders: dict[int, Path] = {}  # where each session run is written, named at its start
        self._watchers: set[str] = set()  # views that show the list or its curves now
        self._follow_timer = QTimer(self)
        self._follow_timer.setInterval(FOLLOW_INTERVAL_MS)
        self._follow_timer.timeout.connect(self._copy_live_rows)
        runs.runStarted.connect(self._run_started)
        runs.runEnded.connect(self._run_ended)
        app_state.run.status_changed.connect(self._status_changed)
        for signal in (
            self.state.added,
            self.state.removed,
            self.state.checked,
            self.state.changed,
        ):
            signal.connect(self._store_folders)
        self._restoring = True
        self._stored = ""
        start_job(
            restore_folders,
            self._stored_folders(),
            on_result=self._restored,
            on_error=lambda error: self._restore_failed(error_line(error)),
            context=self,
        )

    def others_compared(self) -> tuple[tuple[str, str, np.ndarray], ...]:
        """The ticked runs besides the one the window trains (or trained last), which views of
        the current run draw already."""
        return self.state.compared_runs(besides=self._live)

    # Session runs.
    def _run_started(self, _described: str) -> None:
        config = self.app_state.run.config
        self._number += 1
        name = f"run {self._number} · {config.model.family} {config.data.dataset}"
        self._live = self.state.add(name, config, self.app_state.run.history.table.rows.copy())
        # Named here, not on the worker, so that each write of a run continued after Stop goes to
        # the same folder; a second run started within the same second gets a number.
        base = runs_directory() / folder_name(datetime.now(), config)
        taken = set(self._folders.values())
        candidates = itertools.chain(
            [base], (base.with_name(f"{base.name}-{n}") for n in itertools.count(2))
        )
        self._folders[self._live.id] = next(folder for folder in candidates if folder not in taken)
        self._follow_if_watched()

    def _status_changed(self, status: RunStatus) -> None:
        if status in (RunStatus.STARTING, RunStatus.IDLE):
            # Another run begins, or another model is on show: the run's history is no longer its.
            self._live = None
        self._follow_if_watched()

    def _run_ended(self, _reason: str) -> None:
        entry = self._live
        if entry is None or entry not in self.state.entries:
            return
        self._copy_live_rows(entry)
        shown = self.app_state.shown
        weights = shown.weights if shown.model is not None and shown.model.source == "run" else None
        start_job(
            write_window_run,
            self._folders[entry.id],
            entry.config,
            entry.rows,
            weights,
            shown.model.test_data if weights is not None else None,
            on_result=lambda folder: self._folder_written(entry, folder),
            on_error=lambda error: self.errorOccurred.emit(
                f"the run's folder: {error_line(error)}"
            ),
            context=self,
        )

    def _folder_written(self, entry: RunEntry, folder: Path) -> None:
        if entry in self.state.entries:
            self.state.update(entry, folder=folder)
            self.folderWritten.emit(str(folder))

    def _copy_live_rows(self, entry: RunEntry | None = None) -> None:
        entry = entry or self._live
        table = self.app_state.run.history.table
        if entry is not None and entry in self.state.entries and len(table) != len(entry.rows):
            self.state.update(entry, rows=table.rows.copy())

    def watch(self, view: str, watching: bool) -> None:
        """A view that shows the runs opens (or closes): the live run's rows follow while one does."""
        if watching:
            self._watchers.add(view)
            if self.app_state.run.status.training:
                self._copy_live_rows()
        else:
            self._watchers.discard(view)
        self._follow_if_watched()

    def _follow_if_watched(self) -> None:
        follow = (
            bool(self._watchers) and self._live is not None and self.app_state.run.status.training
        )
        if follow and not self._follow_timer.isActive():
            self._follow_timer.start()
        elif not follow:
            self._follow_timer.stop()

    # Folders.
    def open_folder(self, folder: str | Path) -> None:
        """List the run in `folder` (read on a worker); a bad folder is one line, and no row."""
        start_job(
            read_run_folder,
            Path(folder),
            on_result=self._folder_read,
            on_error=lambda error: self.errorOccurred.emit(error_line(error)),
            context=self,
        )

    def _folder_read(self, run: RunFolder) -> None:
        entry = self.state.with_folder(run.folder)
        if entry is None:
            self.state.add(run.folder.name, run.config, run.rows, run.folder)
        else:
            self.state.update(entry, config=run.config, rows=run.rows)
        self.folderOpened.emit(str(run.folder))

    def remove(self, entry: RunEntry) -> None:
        """Take a run off the list (its folder stays on disk)."""
        if entry is self._live:
            self._live = None
            self._follow_if_watched()
        self.state.remove(entry)

    # Between sessions.
    def _stored_folders(self) -> list[tuple[str, bool]]:
        try:
            stored = json.loads(str(self.settings.value(_FOLDERS_KEY, "[]")))
            return [(str(item["folder"]), bool(item["checked"])) for item in stored]
        except (ValueError, TypeError, KeyError):
            return []

    def _store_folders(self, _entry=None) -> None:
        if self._restoring:
            return  # the folders not yet read back are not to be forgotten
        listed = json.dumps(
            [
                {"folder": str(e.folder), "checked": e.checked}
                for e in self.state.entries
                if e.folder and not e.student  # a class's runs are the class folder's to list
            ]
        )
        if listed != self._stored:  # a live run's new rows change nothing here
            self._stored = listed
            self.settings.setValue(_FOLDERS_KEY, listed)

    def _restored(self, restored: RestoredFolders) -> None:
        self._restoring = False
        for run, checked in restored.folders:
            if self.state.with_folder(run.folder) is None:
                self.state.add(run.folder.name, run.config, run.rows, run.folder, checked)
        self._store_folders()
        if restored.dropped:
            self.errorOccurred.emit(restored.dropped)
        self.restored.emit(len(restored.folders))

    def _restore_failed(self, message: str) -> None:
        self._restoring = False
        self.errorOccurred.emit(f"the Runs list was not restored: {message}")
