"""Following a class folder (the teacher's window): every student's run joins the Runs list, and
so the rate-distortion plane, Compare runs and the class's leaderboard, as its rows are written.
A worker reads what is new (vae_core.class_folder) once a second, one read at a time; the GUI
thread only adds the new rows, all runs' in one batch, so the views redraw once per read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from app.state.runs import RunEntry, RunsState
from app.workers import start_job
from vae_core.class_folder import ClassFolderReader, ClassNews, RunNews
from vae_core.errors import VaeStudioError

POLL_INTERVAL_MS = 1000


class ClassFolderFollower(QObject):
    following = Signal(str)  # the folder, once its first read is in
    polled = Signal(object)  # ClassNews, after the runs have it
    noticed = Signal(str)  # a line for the status bar: a run it cannot read (yet), said once
    errorOccurred = Signal(str)  # the class folder itself cannot be read (said once)

    def __init__(self, runs: RunsState, parent: QObject | None = None):
        super().__init__(parent)
        self.runs = runs
        self.folder: Path | None = None
        self._reader: ClassFolderReader | None = None
        self._entries: dict[Path, RunEntry] = {}  # by run folder
        self._reading = False
        self._announced = False
        self._last_error = ""
        self._generation = 0  # bumped by each follow and stop: a late answer is dropped
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_INTERVAL_MS)
        self._timer.timeout.connect(self.poll)

    @property
    def active(self) -> bool:
        return self.folder is not None

    def follow(self, folder: str | Path) -> None:
        """Follow `folder` (CLASS/<student>/<run>/ inside) until `stop`."""
        self.stop()
        self.folder = Path(folder)
        self._reader = ClassFolderReader(self.folder)
        self._entries = {}
        self._announced = False
        self._last_error = ""
        self._timer.start()
        self.poll()

    def stop(self) -> None:
        """Stop reading; the runs read so far stay listed."""
        self._generation += 1
        self._timer.stop()
        self.folder = None
        self._reader = None
        self._reading = False

    def poll(self) -> None:
        """Read what is new, on a worker (a read still going is not asked twice)."""
        if self._reading or self._reader is None:
            return
        self._reading = True
        generation = self._generation
        start_job(
            self._reader.read,
            on_result=lambda news: self._on_news(generation, news),
            on_error=lambda error: self._on_failed(generation, error),
            context=self,
        )

    def _on_news(self, generation: int, news: ClassNews) -> None:
        if generation != self._generation:
            return
        self._reading = False
        self._last_error = ""
        with self.runs.batch():
            for run_news in news.runs:
                self._show(run_news)
        for line in news.problems:
            self.noticed.emit(line)
        if not self._announced:
            self._announced = True
            self.following.emit(str(self.folder))
        self.polled.emit(news)

    def _show(self, news: RunNews) -> None:
        entry = self._entries.get(news.run.folder)
        if entry is None:
            self._entries[news.run.folder] = self.runs.add(
                news.run.name, news.config, news.rows, news.run.folder, student=news.run.student
            )
            return
        if entry not in self.runs.entries:
            return  # the teacher took it off the Runs list: it stays off while this folder is followed
        values: dict[str, object] = {}
        if news.config is not None:
            values["config"] = news.config
        if news.restarted:
            values["rows"] = news.rows
        elif len(news.rows):
            values["rows"] = np.concatenate([entry.rows, news.rows])
        self.runs.update(entry, **values)

    def _on_failed(self, generation: int, error: Exception) -> None:
        if generation != self._generation:
            return
        self._reading = False
        message = (
            str(error) if isinstance(error, VaeStudioError) else f"{type(error).__name__}: {error}"
        )
        if message != self._last_error:  # a drive gone for a while is said once; reads go on
            self._last_error = message
            self.errorOccurred.emit(message)
