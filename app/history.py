"""What a run has reported, kept in plain numpy (no Qt): bounded series for the plots and the
complete metrics table for the CSV export."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vae_core.errors import VaeStudioError
from vae_core.metrics_columns import METRICS_COLUMNS
from vae_core.run_record import write_metrics
from vae_core.training.trainer import TrainingSnapshot, metrics_row


class BoundedSeries:
    """Points (x, one y per name) that never number more than `capacity`.

    When full, the older half is merged pairwise (x of the later point, mean of the values), so
    a run of hours keeps its whole shape, coarser the further back it goes, at constant cost.
    Each value is an interval mean, so the mean of two equal intervals is the mean over both.
    """

    def __init__(self, names: tuple[str, ...], capacity: int = 4000):
        if capacity < 4 or capacity % 4:
            raise VaeStudioError(
                f"series capacity must be a positive multiple of 4, got {capacity}"
            )
        self.names = names
        self.capacity = capacity
        self._x = np.empty(capacity)
        self._values = np.empty((len(names), capacity))
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def append(self, x: float, values: tuple[float, ...]) -> None:
        if self._count == self.capacity:
            self._merge_older_half()
        self._x[self._count] = x
        self._values[:, self._count] = values
        self._count += 1

    def _merge_older_half(self) -> None:
        half = self.capacity // 2
        quarter = half // 2
        self._x[:quarter] = self._x[1:half:2]
        self._values[:, :quarter] = 0.5 * (self._values[:, 0:half:2] + self._values[:, 1:half:2])
        self._x[quarter : quarter + half] = self._x[half:]
        self._values[:, quarter : quarter + half] = self._values[:, half:]
        self._count = quarter + half

    @property
    def x(self) -> np.ndarray:
        return self._x[: self._count]

    def y(self, name: str) -> np.ndarray:
        return self._values[self.names.index(name), : self._count]

    def clear(self) -> None:
        self._count = 0


class MetricsTable:
    """Every snapshot's figures, in the columns of the command line's metrics.csv.

    Rows live in one growing float array (72 bytes a row), so even a day of snapshots is small.
    """

    columns = METRICS_COLUMNS

    def __init__(self):
        self._rows = np.empty((256, len(self.columns)))
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def append(self, row: tuple[float, ...]) -> None:
        if self._count == len(self._rows):
            self._rows = np.concatenate([self._rows, np.empty_like(self._rows)])
        self._rows[self._count] = row
        self._count += 1

    @property
    def rows(self) -> np.ndarray:
        return self._rows[: self._count]

    def clear(self) -> None:
        self._count = 0

    def write_csv(self, path: str | Path) -> None:
        """The table as the command line's metrics.csv, written by the same writer."""
        write_metrics(Path(path), self.rows)


# The curves' terms, by their METRICS_COLUMNS names.
CURVE_TERMS = ("loss", "recon", "kl", "beta")
_CURVE_COLUMNS = [METRICS_COLUMNS.index(name) for name in CURVE_TERMS]
HELDOUT_TERM = "heldout_elbo"
_HELDOUT_COLUMN = METRICS_COLUMNS.index(HELDOUT_TERM)


class RunHistory:
    """A run's metrics as the window has them: `table`, every row it was given (a row per
    snapshot of a run it trains, at the window's pace, or a followed or opened run's rows); the
    bounded series its curves draw from them; and `record`, the run's own record, a row every
    `log_every` steps as the command line's metrics.csv has them (what the metrics export
    writes), which a run the window trains hands on with its snapshots."""

    def __init__(self, capacity: int = 4000):
        self.table = MetricsTable()
        self.record = MetricsTable()
        self.series = BoundedSeries(CURVE_TERMS, capacity)
        # Evaluated every so many steps only: a series of its own, so no merge mixes in gaps.
        self.heldout = BoundedSeries((HELDOUT_TERM,), capacity)
        self.total_steps = 0  # the run's planned budget, for the curves' step axis

    def __len__(self) -> int:
        return len(self.table)

    def append(self, snapshot: TrainingSnapshot) -> None:
        row = metrics_row(snapshot)
        self._add_drawn(row)
        self.add_records([row] if snapshot.records is None else snapshot.records)
        self.total_steps = snapshot.total_steps

    def add_row(self, row: tuple[float, ...]) -> None:
        """A row that is the record's as well (a followed or opened run's)."""
        self._add_drawn(row)
        self.record.append(row)

    def add_records(self, rows) -> None:
        """Rows of the run's record alone (a stopped run's last steps, which no snapshot drew)."""
        for row in rows:
            self.record.append(tuple(row))

    def _add_drawn(self, row: tuple[float, ...]) -> None:
        self.table.append(row)
        self.series.append(row[0], tuple(row[index] for index in _CURVE_COLUMNS))
        if np.isfinite(heldout := row[_HELDOUT_COLUMN]):
            self.heldout.append(row[0], (heldout,))

    def replace(self, rows: np.ndarray | None) -> None:
        """Start again from `rows` (METRICS_COLUMNS values), or empty."""
        for table in (self.table, self.record):
            table.clear()
        self.series.clear()
        self.heldout.clear()
        self.total_steps = 0
        for row in () if rows is None else rows:
            self.add_row(tuple(row))
