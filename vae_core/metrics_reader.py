"""Reading a run folder's metrics.csv while another process appends to it (no Qt, no lock taken:
the writer never waits for a reader)."""

from __future__ import annotations

import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vae_core.errors import VaeStudioError
from vae_core.metrics_columns import METRICS_COLUMNS

# What one read takes at most: the rows of a long run come over several reads.
MAX_READ_BYTES = 64 << 20


@dataclass(frozen=True)
class NewRows:
    rows: np.ndarray  # (n, len(METRICS_COLUMNS)); NaN where the file has no value
    restarted: bool  # the file was replaced (a new run): these rows start its history afresh
    skipped: int = 0  # complete lines that were no row (torn by a writer, or malformed)


class MetricsTail:
    """Each `read()` gives the rows completed since the last one. A row still being written (no
    newline yet) waits for the next read; a file that shrank was replaced, and is read afresh."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._offset = 0
        self._columns: list[int | None] | None = None  # file column -> METRICS_COLUMNS index

    def read(self) -> NewRows:
        restarted = False
        try:
            # A FIFO would block the reader until a writer came: only a regular file is opened.
            if not stat.S_ISREG(os.stat(self.path).st_mode):
                raise VaeStudioError(f"{self.path}: not a regular file (a FIFO, socket or device)")
            with self.path.open("rb") as handle:
                size = handle.seek(0, 2)
                if size < self._offset:
                    self._offset, self._columns, restarted = 0, None, True
                handle.seek(self._offset)
                # A bounded chunk: a huge (or sparse) file is read over several calls.
                chunk = handle.read(min(size - self._offset, MAX_READ_BYTES))
        except FileNotFoundError:
            return NewRows(np.empty((0, len(METRICS_COLUMNS))), False)
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self._offset += len(complete)
        rows, skipped = [], 0
        for line in complete.decode("utf-8", "replace").splitlines():
            if self._columns is None:
                self._read_header(line)
            elif (row := self._parse(line)) is not None:
                rows.append(row)
            else:
                skipped += 1
        rows = np.array(rows, dtype=float).reshape(-1, len(METRICS_COLUMNS))
        return NewRows(rows, restarted, skipped)

    def _read_header(self, line: str) -> None:
        self._columns = [
            METRICS_COLUMNS.index(cell) if cell in METRICS_COLUMNS else None
            for cell in line.strip().split(",")
        ]

    def _parse(self, line: str) -> list[float] | None:
        cells = line.strip().split(",")
        if len(cells) != len(self._columns):
            return None  # a row cut short, or two run together: skipped, not guessed at
        row = [math.nan] * len(METRICS_COLUMNS)
        for column, cell in zip(self._columns, cells):
            if column is not None:
                try:
                    value = float(cell) if cell else math.nan
                except ValueError:
                    return None  # a line another writer tore: skipped, not guessed at
                # Infinite is no figure a run logs: read as not measured, as the curves show it.
                row[column] = value if math.isfinite(value) else math.nan
        return row
