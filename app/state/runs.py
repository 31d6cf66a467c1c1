"""The runs a user compares, in one Qt-free model: every run trained in this window and every run
folder opened, each with its config, its metric rows, its folder, a tick and a colour of its own
(psygnal signals; no widget, no thread, no file here).

The legend of a comparison names what differs between the ticked runs' configs ("β 4 · prior
vamp"), not the runs' names: that difference is what the curves show.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from psygnal import Signal

from vae_core.config import RunConfig
from vae_core.metrics_columns import METRICS_COLUMNS

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
# Not what sets runs apart: filled in from the data by a run (they follow data.dataset), where
# the data comes from, and how often a run reports (the window paces its own).
NOT_COMPARED = frozenset(
    {"model.input_shape", "model.num_classes", "data.mirrors", "train.log_every"}
)
# Keys shown in a legend by a symbol or a shorter word; others by their last part.
SHORT_NAMES = {
    "train.beta": "β",
    "model.family": "",
    "data.dataset": "",
    "model.latent_dim": "latent",
    "model.hidden": "hidden",
    "train.lr": "lr",
    "train.beta_schedule": "β schedule",
}
_NO_ROWS = np.empty((0, len(METRICS_COLUMNS)))
_STEP, _LOSS = METRICS_COLUMNS.index("step"), METRICS_COLUMNS.index("loss")


def flat_config(config: RunConfig) -> dict[str, object]:
    """The config as dotted keys ("model.family") and plain values, in the dataclasses' order."""
    flat = {}
    for section, values in config.to_dict().items():
        for key, value in values.items():
            flat[f"{section}.{key}"] = tuple(value) if isinstance(value, list) else value
    return flat


def config_differences(configs: Sequence[RunConfig]) -> list[str]:
    """The dotted keys whose values are not the same in all of `configs` (a key set in some and
    not others differs), in the configs' own order."""
    flats = [flat_config(config) for config in configs]
    keys = list(dict.fromkeys(key for flat in flats for key in flat))
    return [
        key
        for key in keys
        if key not in NOT_COMPARED and len({repr(flat.get(key)) for flat in flats}) > 1
    ]


def format_value(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return "-".join(format_value(item) for item in value)
    return str(value)


def describe_setting(key: str, value: object) -> str:
    """One key's value in a legend: "β 4", "prior vamp", "hidden 64-32", "mnist"."""
    name = SHORT_NAMES.get(key, key.rsplit(".", 1)[-1].replace("_", " "))
    return f"{name} {format_value(value)}".strip()


def legend_texts(configs: Sequence[RunConfig | None]) -> list[str]:
    """Each config's values of the keys that differ among them, joined by " · " ("" where there
    is no config, or nothing differs)."""
    known = [config for config in configs if config is not None]
    keys = config_differences(known)
    texts = []
    for config in configs:
        flat = {} if config is None else flat_config(config)
        texts.append(
            " · ".join(describe_setting(key, flat.get(key)) for key in keys)
            if config is not None
            else ""
        )
    return texts


def settings_apart_from(config: RunConfig, reference: RunConfig) -> list[str]:
    """`key = value` lines for what `config` sets otherwise than `reference` (a tooltip's summary)."""
    flat = flat_config(config)
    return [
        f"{key} = {format_value(flat.get(key))}" for key in config_differences([reference, config])
    ]


@dataclass(eq=False)
class RunEntry:
    """One run in the list. `rows` are METRICS_COLUMNS values; `folder` is where it lives on disk
    (None: a session run not written yet)."""

    id: int
    name: str
    config: RunConfig | None
    colour: str
    rows: np.ndarray = field(default_factory=lambda: _NO_ROWS)
    folder: Path | None = None
    checked: bool = True

    @property
    def steps(self) -> int:
        return int(self.rows[-1, _STEP]) if len(self.rows) else 0

    @property
    def final_loss(self) -> float | None:
        return float(self.rows[-1, _LOSS]) if len(self.rows) else None


class RunsState:
    """The runs listed, in the order they came. `compared` carries the ticked runs as
    (legend text, colour, rows) whenever one of them, or the ticks, change."""

    added = Signal(object)  # RunEntry
    changed = Signal(object)  # RunEntry: its rows, name, config or folder
    removed = Signal(object)  # RunEntry
    checked = Signal(object)  # RunEntry, ticked or not
    compared = Signal(object)  # tuple of (legend text, colour, rows), one per ticked run

    def __init__(self) -> None:
        self.entries: list[RunEntry] = []
        self._next_id = 0
        self._legends: tuple[tuple, list[str]] = ((), [])  # the last legends, by runs and configs

    def add(
        self,
        name: str,
        config: RunConfig | None,
        rows: np.ndarray | None = None,
        folder: Path | None = None,
        checked: bool = True,
    ) -> RunEntry:
        used = {entry.colour for entry in self.entries}
        colour = next(
            (c for c in PALETTE if c not in used), PALETTE[len(self.entries) % len(PALETTE)]
        )
        entry = RunEntry(
            self._next_id, name, config, colour, _NO_ROWS if rows is None else rows, folder, checked
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

    def ticked(self) -> list[RunEntry]:
        return [entry for entry in self.entries if entry.checked]

    def legends(self, entries: Sequence[RunEntry]) -> list[str]:
        """The legend of each of `entries` compared together: what differs, else the run's name;
        runs that would read alike are told apart by name."""
        key = tuple((entry.id, entry.name, id(entry.config)) for entry in entries)
        if key != self._legends[0]:
            self._legends = (key, self._legend_texts(entries))
        return self._legends[1]

    @staticmethod
    def _legend_texts(entries: Sequence[RunEntry]) -> list[str]:
        texts = [
            text or entry.name
            for text, entry in zip(legend_texts([e.config for e in entries]), entries)
        ]
        return [
            f"{text} ({entry.name})" if texts.count(text) > 1 else text
            for text, entry in zip(texts, entries)
        ]

    def compared_runs(
        self, besides: RunEntry | None = None
    ) -> tuple[tuple[str, str, np.ndarray], ...]:
        """The ticked runs as (legend text, colour, rows), leaving out `besides`."""
        ticked = self.ticked()
        return tuple(
            (text, entry.colour, entry.rows)
            for text, entry in zip(self.legends(ticked), ticked)
            if entry is not besides
        )

    def _announce_compared(self) -> None:
        self.compared.emit(self.compared_runs())
