"""What a run folder records, written by one owner for the command line and the window alike:
`config.json`, `metrics.csv` (its row format; written whole, or a row at a time while a run goes,
cut back to the checkpoint's history when a run resumes; or rows appended as a window's run in a
class folder goes) and a whole folder at a run's end.

The folder's file names are `vae_core.run_folder`'s; the metric columns are METRICS_COLUMNS."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from vae_core.checkpoint import save_checkpoint
from vae_core.config import RunConfig
from vae_core.errors import VaeStudioError
from vae_core.files import write_atomically, write_failure, write_text_atomically
from vae_core.metrics_columns import METRICS_COLUMNS
from vae_core.metrics_reader import MetricsTail
from vae_core.run_folder import CHECKPOINT_NAME, CONFIG_NAME, METRICS_NAME

_INTEGER_COLUMNS = frozenset({"step", "epoch"})
_STEP = METRICS_COLUMNS.index("step")


def metric_cells(row: Sequence[float]) -> list[str]:
    """One row of METRICS_COLUMNS values as metrics.csv writes it: a figure not measured at that
    row (NaN: no held-out evaluation) is an empty cell."""
    return [
        ""
        if math.isnan(value)
        else str(int(value))
        if column in _INTEGER_COLUMNS
        else f"{value:.8g}"
        for column, value in zip(METRICS_COLUMNS, map(float, row))
    ]


def _csv_bytes(rows: Iterable[Sequence]) -> bytes:
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    return text.getvalue().encode("utf-8")


def _table_bytes(rows: Iterable[Sequence[float]]) -> bytes:
    return _csv_bytes([METRICS_COLUMNS, *(metric_cells(row) for row in rows)])


def write_metrics(path: Path, rows: Iterable[Sequence[float]]) -> None:
    """metrics.csv with `rows`, replacing the file whole or not at all."""
    data = _table_bytes(rows)
    try:
        write_atomically(Path(path), lambda temporary: Path(temporary).write_bytes(data))
    except OSError as error:
        raise write_failure(Path(path), error) from None


def append_metrics(path: Path, rows: Iterable[Sequence[float]]) -> None:
    """More rows at the end of metrics.csv (written whole earlier, its header first), the file
    opened and closed around them: on a shared drive (NFS, SMB) a reader on another machine sees
    a writer's bytes once it closes the file."""
    data = _csv_bytes(metric_cells(row) for row in rows)
    try:
        with Path(path).open("ab") as handle:
            handle.write(data)
    except OSError as error:
        raise write_failure(Path(path), error) from None


def rows_up_to(rows: np.ndarray, step: int) -> np.ndarray:
    """The rows logged at or before `step`: what a checkpoint of that step knows of the run."""
    rows = np.asarray(rows, dtype=float).reshape(-1, len(METRICS_COLUMNS))
    return rows[rows[:, _STEP] <= step]


def read_metrics(path: Path) -> np.ndarray:
    """The file's complete rows in METRICS_COLUMNS order (none when the file is missing)."""
    try:
        return MetricsTail(path).read().rows
    except OSError as error:
        raise VaeStudioError(f"{path}: cannot read it ({error.strerror or error})") from None


def resumed_history(checkpoint, metrics_path: Path) -> list[tuple[float, ...]]:
    """The history a resumed run goes on from: the checkpoint's own (the rows up to its step; the
    curves travel with it, so the window shows them when it opens the run), or, from a checkpoint
    written before histories were kept, metrics.csv's rows up to that step."""
    step = int(checkpoint.counters["step"]) if "step" in checkpoint.counters else 0
    rows = checkpoint.history if checkpoint.history is not None else read_metrics(metrics_path)
    return [tuple(row) for row in rows_up_to(rows, step)]


class MetricsLog:
    """metrics.csv while a run writes it. It starts as `rows_so_far` (a resumed run's history, so
    that the rows a killed run logged after its last save are gone, not doubled), then gains a row
    at each `append`, written through at once: a reader sees every row so far, and a full disk is
    one line naming the file."""

    def __init__(self, path: Path, rows_so_far: Sequence[Sequence[float]] = ()):
        self.path = Path(path)
        if len(rows_so_far):
            write_metrics(self.path, rows_so_far)
            self._handle = self._open("ab")
        else:
            self._handle = self._open("wb")
            self._write(_csv_bytes([METRICS_COLUMNS]))

    def _open(self, mode: str):
        try:
            return self.path.open(mode, buffering=0)
        except OSError as error:
            raise write_failure(self.path, error) from None

    def _write(self, data: bytes) -> None:
        unwritten = memoryview(data)
        try:
            while unwritten:
                unwritten = unwritten[self._handle.write(unwritten) :]
        except OSError as error:
            raise write_failure(self.path, error) from None

    def append(self, row: Sequence[float]) -> None:
        self._write(_csv_bytes([metric_cells(row)]))

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> MetricsLog:
        return self

    def __exit__(self, *_) -> None:
        self.close()


def write_config(folder: Path, config: RunConfig) -> None:
    path = Path(folder) / CONFIG_NAME
    try:
        write_text_atomically(path, config.to_json() + "\n")
    except OSError as error:
        raise write_failure(path, error) from None


def write_run_folder(
    folder: Path, config: RunConfig, rows: np.ndarray, weights: Mapping[str, torch.Tensor] | None
) -> Path:
    """Write (or rewrite) a run's folder as a command-line run leaves it, each file whole or not
    at all: its metrics, its config and, with `weights`, a checkpoint carrying the history."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise write_failure(folder, error) from None
    write_metrics(folder / METRICS_NAME, rows)
    write_config(folder, config)
    if weights is not None:
        save_checkpoint(folder / CHECKPOINT_NAME, config, dict(weights), history=rows)
    return folder
