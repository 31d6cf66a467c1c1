"""A student's window in a class folder: each run it trains is written, live, as
CLASS/<student>/<run>/ (vae_core.class_folder: config.json, then metrics.csv gaining the run's new
rows once a second), so the teacher's window can follow it. Every write happens on a worker, one
at a time; the class folder and the student's name are kept in the window's settings."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, QTimer, Signal

from app.controllers.run import RunController
from app.runs.run_folders import folder_name
from app.state import AppState, RunStatus
from app.workers import start_job
from vae_core.class_folder import append_class_rows, start_class_run, student_folder_name
from vae_core.errors import VaeStudioError, error_line

FLUSH_INTERVAL_MS = 1000
FOLDER_KEY, STUDENT_KEY = "class/folder", "class/student"


def _student_folder(class_folder: Path, student: str) -> Path:
    """On a worker: CLASS/<student>/, made if need be (a class folder not there is one line)."""
    if not class_folder.is_dir():
        raise VaeStudioError(f"{class_folder}: no such folder (is the shared drive there?)")
    folder = class_folder / student_folder_name(student)
    try:
        folder.mkdir(exist_ok=True)
    except OSError as error:
        raise VaeStudioError(f"cannot make {folder}: {error.strerror or error}") from None
    return folder


class ClassRunWriter(QObject):
    joined = Signal(str)  # CLASS/<student>/, where runs go now ("": in no class)
    runFolderMade = Signal(str)  # a run's folder in the class folder, at its start
    rowsWritten = Signal(int)  # rows appended to the run's metrics.csv
    errorOccurred = Signal(str)

    def __init__(
        self,
        state: AppState,
        runs: RunController,
        settings: QSettings,
        parent: QObject | None = None,
    ):
        super().__init__(parent)
        self.state = state
        self.settings = settings
        self.class_folder: Path | None = None
        self.student = ""
        self._folder: Path | None = None  # the live run's folder in the class folder
        self._written = 0  # rows of the run's history written so far (or on their way)
        self._writing = False
        self._flush_again = False
        self._run = 0  # bumped when a run begins or ends: a late answer about another is dropped
        self._timer = QTimer(self)
        self._timer.setInterval(FLUSH_INTERVAL_MS)
        self._timer.timeout.connect(self.flush)
        runs.runStarted.connect(self._run_started)
        runs.runEnded.connect(lambda _reason: self.flush())
        state.run.status_changed.connect(self._status_changed)
        folder, student = settings.value(FOLDER_KEY, ""), settings.value(STUDENT_KEY, "")
        if folder and student:
            self.join(Path(str(folder)), str(student))

    def last_choice(self) -> tuple[str, str]:
        """The class folder and name joined last (kept even when the folder was not there)."""
        return str(self.settings.value(FOLDER_KEY, "")), str(self.settings.value(STUDENT_KEY, ""))

    def join(self, class_folder: str | Path, student: str) -> None:
        """Write the next runs into `class_folder` as `student`'s (checked on a worker; kept in
        the settings once it works)."""
        try:
            student_folder_name(student)
        except VaeStudioError as error:
            self.errorOccurred.emit(str(error))
            return
        class_folder = Path(class_folder)
        start_job(
            _student_folder,
            class_folder,
            student,
            on_result=lambda folder: self._joined(class_folder, student, folder),
            on_error=lambda error: self.errorOccurred.emit(
                f"not joined to the class folder: {error_line(error)}"
            ),
            context=self,
        )

    def _joined(self, class_folder: Path, student: str, folder: Path) -> None:
        self.class_folder, self.student = class_folder, student
        self.settings.setValue(FOLDER_KEY, str(class_folder))
        self.settings.setValue(STUDENT_KEY, student)
        self.joined.emit(str(folder))

    def leave(self) -> None:
        """Write no more runs into the class folder (the live run's rows so far stay there)."""
        self.flush()
        self._end_run()
        self.class_folder, self.student = None, ""
        self.settings.remove(FOLDER_KEY)
        self.settings.remove(STUDENT_KEY)
        self.joined.emit("")

    def _run_started(self, _described: str) -> None:
        config = self.state.run.config
        if self.class_folder is None or config is None:
            return
        self._end_run()
        run = self._run
        rows = self.state.run.history.table.rows.copy()  # a resumed run's history, or none
        start_job(
            start_class_run,
            self.class_folder,
            self.student,
            folder_name(datetime.now(), config),
            config,
            rows,
            on_result=lambda folder: self._run_folder_made(run, folder, len(rows)),
            on_error=lambda error: self._failed(run, error),
            context=self,
        )

    def _run_folder_made(self, run: int, folder: Path, written: int) -> None:
        if run != self._run:
            return
        self._folder, self._written = folder, written
        self._timer.start()
        self.runFolderMade.emit(str(folder))

    def _status_changed(self, status: RunStatus) -> None:
        if status is RunStatus.IDLE:
            # Let go of (another model on show, the window closing): its last rows still go.
            self.flush()
            self._end_run()
        elif status is RunStatus.STARTING:
            # Another run begins: the history is no longer the last run's.
            self._end_run()

    def _end_run(self) -> None:
        self._run += 1
        self._timer.stop()
        self._folder = None
        self._writing = self._flush_again = False

    def flush(self) -> None:
        """Append the run's rows not written yet, on a worker (one write at a time)."""
        if self._folder is None:
            return
        if self._writing:
            self._flush_again = True  # the run's last rows, asked for while a write goes
            return
        table = self.state.run.history.table
        if len(table) <= self._written:
            return
        rows = table.rows[self._written :].copy()
        self._written = len(table)
        self._writing = True
        run = self._run
        start_job(
            append_class_rows,
            self._folder,
            rows,
            on_result=lambda count: self._rows_written(run, count),
            on_error=lambda error: self._failed(run, error),
            context=self,
        )

    def _rows_written(self, run: int, count: int) -> None:
        if run != self._run:
            return
        self._writing = False
        self.rowsWritten.emit(count)
        if self._flush_again:
            self._flush_again = False
            self.flush()

    def _failed(self, run: int, error: Exception) -> None:
        if run != self._run:
            return
        # A full or vanished shared drive: said once, and this run is written no further.
        self._end_run()
        self.errorOccurred.emit(f"the class folder: {error_line(error)}")
