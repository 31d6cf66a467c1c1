"""A class folder: a shared drive where each student's window writes its runs as
CLASS/<student>/<run>/ (config.json, then metrics.csv growing a few rows at a time, through
vae_core.run_record), and the teacher's window reads them all as they grow (no Qt, no lock: a
reader never makes a writer wait; every call here belongs on a worker).

The reader reads only what is new: the bytes metrics.csv gained since its last read (a
MetricsTail per run) and config.json again only when it changed. What it cannot read is a line
for the user, said once, and never stops it: a run with no metrics yet waits, a torn row is
skipped, an unreadable config leaves the run unlabelled until it is rewritten."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vae_core.config import RunConfig
from vae_core.errors import VaeStudioError
from vae_core.metrics_columns import METRICS_COLUMNS
from vae_core.metrics_reader import MetricsTail, NewRows
from vae_core.run_folder import CONFIG_NAME, METRICS_NAME
from vae_core.run_record import append_metrics, write_config, write_metrics

MAX_NAME_CHARACTERS = 64


def student_folder_name(student: str) -> str:
    """A student's name as a folder name safe on every shared drive ("Ana María" -> "Ana_María")."""
    name = re.sub(r"[^\w.-]", "_", student.strip())[:MAX_NAME_CHARACTERS].strip("._")
    if not name:
        raise VaeStudioError(
            f"{student!r} is no name for a student's folder: give letters or digits"
        )
    return name


def new_run_folder(class_folder: Path, student: str, run_name: str) -> Path:
    """Make CLASS/<student>/<run_name>/ (or <run_name>-2, -3... when taken), and say where."""
    parent = Path(class_folder) / student_folder_name(student)
    for number in range(1, 1000):
        folder = parent / (run_name if number == 1 else f"{run_name}-{number}")
        try:
            folder.mkdir(parents=True)
            return folder
        except FileExistsError:
            continue
        except OSError as error:
            raise VaeStudioError(f"cannot make {folder}: {error.strerror or error}") from None
    raise VaeStudioError(f"{parent}: a thousand runs named {run_name} already")


def start_class_run(
    class_folder: Path, student: str, run_name: str, config: RunConfig, rows: np.ndarray
) -> Path:
    """A student's run begins in the class folder: its config, and metrics.csv with the rows it
    has so far (a resumed run's history; none for a new run). Returns its folder."""
    folder = new_run_folder(class_folder, student, run_name)
    write_config(folder, config)
    write_metrics(folder / METRICS_NAME, rows)
    return folder


def append_class_rows(folder: Path, rows: np.ndarray) -> int:
    """The run's newest rows at the end of its metrics.csv; how many were written."""
    append_metrics(folder / METRICS_NAME, rows)
    return len(rows)


@dataclass(frozen=True)
class ClassRun:
    student: str  # the student's folder name
    name: str  # the run's folder name
    folder: Path


@dataclass(frozen=True)
class RunNews:
    """What one run gained since the last read: its config when first read (or rewritten), its
    new rows (`restarted`: its metrics.csv was replaced, and these rows are its whole history)."""

    run: ClassRun
    config: RunConfig | None
    rows: np.ndarray
    restarted: bool = False


@dataclass(frozen=True)
class ClassNews:
    runs: tuple[RunNews, ...]
    problems: tuple[str, ...]  # one line each, each said once
    students: int
    run_count: int


@dataclass
class _Followed:
    tail: MetricsTail
    config_stamp: tuple[int, int] | None = None  # config.json's (mtime in ns, size) when read


@dataclass
class ClassFolderReader:
    """Reads a class folder incrementally: each `read()` gives what is new since the last one.
    Not thread-safe: one read at a time (the controller has at most one in flight)."""

    folder: Path
    _runs: dict[Path, _Followed] = field(default_factory=dict)
    _said: set[str] = field(default_factory=set)

    def read(self) -> ClassNews:
        problems: list[str] = []
        news = []
        runs = self._scan(problems)
        for run in runs:
            followed = self._runs.get(run.folder)
            if followed is None:
                followed = self._runs[run.folder] = _Followed(
                    MetricsTail(run.folder / METRICS_NAME)
                )
            config = self._new_config(run, followed, problems)
            rows = self._new_rows(run, followed, problems)
            if config is not None or len(rows.rows) or rows.restarted:
                news.append(RunNews(run, config, rows.rows, rows.restarted))
        said = tuple(line for line in problems if line not in self._said)
        self._said.update(said)
        return ClassNews(tuple(news), said, len({run.student for run in runs}), len(runs))

    def _scan(self, problems: list[str]) -> list[ClassRun]:
        """Every CLASS/<student>/<run>/ folder, in name order (hidden names left out)."""
        runs = []
        try:
            students = _folders_in(self.folder)
        except OSError as error:
            raise VaeStudioError(
                f"cannot read the class folder {self.folder}: {error.strerror or error}"
            ) from None
        for student in students:
            try:
                runs.extend(ClassRun(student.name, run.name, run) for run in _folders_in(student))
            except OSError as error:
                problems.append(f"cannot read {student}: {error.strerror or error}")
        return runs

    def _new_config(
        self, run: ClassRun, followed: _Followed, problems: list[str]
    ) -> RunConfig | None:
        path = run.folder / CONFIG_NAME
        try:
            status = os.stat(path)
        except OSError:
            return None  # not written yet
        stamp = (status.st_mtime_ns, status.st_size)
        if stamp == followed.config_stamp:
            return None
        followed.config_stamp = stamp
        try:
            return RunConfig.from_file(path)
        except VaeStudioError as error:
            problems.append(f"{run.student}'s run {run.name}: {error}")
            return None

    def _new_rows(self, run: ClassRun, followed: _Followed, problems: list[str]) -> NewRows:
        try:
            rows = followed.tail.read()
        except (OSError, VaeStudioError) as error:
            problems.append(f"{run.student}'s run {run.name}: {_reason(error)}")
            return NewRows(np.empty((0, len(METRICS_COLUMNS))), False)
        if rows.skipped:
            problems.append(
                f"{run.folder / METRICS_NAME}: {rows.skipped} malformed "
                f"row{'s' if rows.skipped > 1 else ''} skipped; following goes on"
            )
        return rows


def _folders_in(folder: Path) -> Sequence[Path]:
    with os.scandir(folder) as entries:
        return sorted(
            Path(entry.path)
            for entry in entries
            if not entry.name.startswith(".") and entry.is_dir(follow_symlinks=False)
        )


def _reason(error: Exception) -> str:
    if isinstance(error, OSError):
        return f"cannot read it ({error.strerror or error})"
    return str(error)
