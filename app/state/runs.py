"""The runs a user compares, in one Qt-free model: every run trained in this window and every run
folder opened, each with its config, its metric rows, its folder, a tick and a colour of its own
(psygnal signals; no widget, no thread, no file here).

A comparison's legend labels each run by its student and by what differs between the ticked
runs' configs ("ana · β 4, prior vamp"; vae_core.run_labels), not by the runs' names: that
difference is what the curves show.
"""

from __future__ import annotations

import colorsys
import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from psygnal import Signal

from vae_core.config import RunConfig
from vae_core.metrics_columns import METRICS_COLUMNS
from vae_core.run_labels import LabelledRun, labels_and_differences

# Okabe-Ito (colour-blind safe), then greys: a run keeps its colour while it is listed.
PALETTE = (
    "#e69f00",
    "#56b4e9",
    "#009e73",
    "#f0e442",
    "#0072b2",
    "#d55e00",
    "#cc79a7",
    "#999999",
    "#ffffff",
)
_NO_ROWS = np.empty((0, len(METRICS_COLUMNS)))
_STEP, _LOSS = METRICS_COLUMNS.index("step"), METRICS_COLUMNS.index("loss")
# Labels kept for this many sets of runs at once (the list's runs and the ticked ones, say).
_LABELS_KEPT = 4


def colour_at(index: int) -> str:
    """The palette's colours, then hues a golden angle apart (a class has more runs than it)."""
    if index < len(PALETTE):
        return PALETTE[index]
    red, green, blue = colorsys.hsv_to_rgb((index * 0.381966) % 1.0, 0.55, 0.95)
    return f"#{round(red * 255):02x}{round(green * 255):02x}{round(blue * 255):02x}"


@dataclass(eq=False)
class RunEntry:
    """One run in the list. `rows` are METRICS_COLUMNS values; `folder` is where it lives on disk
    (None: a session run not written yet); `student` whose run it is, in a class folder ("": one's
    own)."""

    id: int
    name: str
    config: RunConfig | None
    colour: str
    rows: np.ndarray = field(default_factory=lambda: _NO_ROWS)
    folder: Path | None = None
    checked: bool = True
    student: str = ""

    @property
    def steps(self) -> int:
        return int(self.rows[-1, _STEP]) if len(self.rows) else 0

    @property
    def final_loss(self) -> float | None:
        return float(self.rows[-1, _LOSS]) if len(self.rows) else None


class RunsState:
    """The runs listed, in the order they came. `compared` carries the ticked runs as
    (label, colour, rows) whenever one of them, or the ticks, change: once per `batch()` of
    changes (a class folder's poll changes many runs at once)."""

    added = Signal(object)  # RunEntry
    changed = Signal(object)  # RunEntry: its rows, name, config or folder
    removed = Signal(object)  # RunEntry
    checked = Signal(object)  # RunEntry, ticked or not
    compared = Signal(object)  # tuple of (label, colour, rows), one per ticked run
    batch_ended = Signal()  # the changes of a `batch()` are all made

    def __init__(self) -> None:
        self.entries: list[RunEntry] = []
        self._next_id = 0
        self._labels: dict[tuple, tuple] = {}  # the last labels, by runs, names and configs
        self._batching = 0
        self._compared_due = False

    def add(
        self,
        name: str,
        config: RunConfig | None,
        rows: np.ndarray | None = None,
        folder: Path | None = None,
        checked: bool = True,
        student: str = "",
    ) -> RunEntry:
        used = {entry.colour for entry in self.entries}
        colour = next(c for c in map(colour_at, itertools.count()) if c not in used)
        entry = RunEntry(
            self._next_id,
            name,
            config,
            colour,
            _NO_ROWS if rows is None else rows,
            folder,
            checked,
            student,
        )
        self._next_id += 1
        self.entries.append(entry)
        self.added.emit(entry)
        if checked:
            self._announce_compared()
        return entry

    def entry(self, entry_id: int) -> RunEntry | None:
        return next((entry for entry in self.entries if entry.id == entry_id), None)

    def with_folder(self, folder: Path) -> RunEntry | None:
        return next((entry for entry in self.entries if entry.folder == folder), None)

    def update(self, entry: RunEntry, **values) -> None:
        """Change some of `entry`'s fields (rows, name, config, folder) and announce it once."""
        for name, value in values.items():
            setattr(entry, name, value)
        self.changed.emit(entry)
        if entry.checked and {"rows", "name", "config"} & values.keys():
            self._announce_compared()

    def set_checked(self, entry: RunEntry, checked: bool) -> None:
        if entry.checked != checked:
            entry.checked = checked
            self.checked.emit(entry)
            self._announce_compared()

    def remove(self, entry: RunEntry) -> None:
        self.entries.remove(entry)
        self.removed.emit(entry)
        if entry.checked:
            self._announce_compared()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Changes made inside announce `compared` once, at the end."""
        self._batching += 1
        try:
            yield
        finally:
            self._batching -= 1
            if not self._batching:
                if self._compared_due:
                    self._compared_due = False
                    self.compared.emit(self.compared_runs())
                self.batch_ended.emit()

    @property
    def in_batch(self) -> bool:
        """Whether changes are being made in a batch (what depends on all runs can wait)."""
        return self._batching > 0

    def ticked(self) -> list[RunEntry]:
        return [entry for entry in self.entries if entry.checked]

    def legends(self, entries: Sequence[RunEntry]) -> list[str]:
        """The label of each of `entries` shown together (vae_core.run_labels): "ana · β 4,
        latent 8", else the run's name."""
        return self._labelled(entries)[1]

    def differences(self, entries: Sequence[RunEntry]) -> list[str]:
        """What sets each of `entries` apart from the others ("β 4, latent 8"; no student)."""
        return self._labelled(entries)[2]

    def _labelled(self, entries: Sequence[RunEntry]) -> tuple[tuple, list[str], list[str]]:
        """Labels and differences kept until the runs, their names or their configs change, so
        new rows cost nothing here. The configs are kept with them: no new config can take a
        kept one's id."""
        key = tuple((entry.id, entry.name, id(entry.config)) for entry in entries)
        if key not in self._labels:
            if len(self._labels) >= _LABELS_KEPT:
                self._labels.pop(next(iter(self._labels)))
            self._labels[key] = (
                tuple(entry.config for entry in entries),
                *labels_and_differences(
                    [LabelledRun(e.name, e.config, e.student) for e in entries]
                ),
            )
        return self._labels[key]

    def compared_runs(
        self, besides: RunEntry | None = None
    ) -> tuple[tuple[str, str, np.ndarray], ...]:
        """The ticked runs as (label, colour, rows), leaving out `besides`."""
        ticked = self.ticked()
        return tuple(
            (text, entry.colour, entry.rows)
            for text, entry in zip(self.legends(ticked), ticked)
            if entry is not besides
        )

    def _announce_compared(self) -> None:
        if self._batching:
            self._compared_due = True
        else:
            self.compared.emit(self.compared_runs())
