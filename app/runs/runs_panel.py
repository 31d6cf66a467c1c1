"""The Runs views: `runsPanel`, the list of runs (a tick, a colour, steps and final loss each; the
config in a tooltip), and the "Compare runs" page, whose `runsComparePlot` overlays the ticked
runs' curves of one term, a colour per run, the legend naming what differs between their configs.

Both draw from the RunsState alone, and only while they are on screen: the page redraws at most
five times a second, and a run's rows are followed only while one of them is open.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, QUrl
from PySide6.QtGui import QAction, QColor, QDesktopServices, QIcon, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.controllers.runs import RunsController
from app.naming import named
from app.state.runs import RunEntry, RunsState
from vae_core.config import RunConfig
from vae_core.metrics_columns import METRICS_COLUMNS
from vae_core.run_labels import settings_apart_from

# The terms a comparison draws, by METRICS_COLUMNS name: (combo text, sign). Every curve is in
# nats per example to minimise, as on the Curves page: the held-out ELBO is drawn negated.
COMPARED_TERMS = {
    "loss": ("loss", 1.0),
    "recon": ("reconstruction", 1.0),
    "kl": ("KL", 1.0),
    "heldout_elbo": ("held-out −ELBO", -1.0),
}
REDRAW_INTERVAL_MS = 200
PEN_WIDTH = 1
_STEP = METRICS_COLUMNS.index("step")
_NAME, _DIFFERS, _STEPS, _LOSS = range(4)


def _swatch(colour: str) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(QColor(colour))
    return QIcon(pixmap)


def _tooltip(entry: RunEntry) -> str:
    lines = [
        f"{entry.student}'s {entry.name}" if entry.student else entry.name,
        str(entry.folder)
        if entry.folder
        else "not written yet (its folder is written when it ends)",
    ]
    if entry.config is None:
        lines.append("no config in its folder")
    else:
        apart = settings_apart_from(entry.config, RunConfig())
        lines.append("settings apart from the defaults:" if apart else "the default settings")
        lines.extend(f"  {line}" for line in apart)
    return "\n".join(lines)


class RunsPanel(QWidget):
    """`runsPanel`: a checkable row per run; remove a row, show its folder, open another folder."""

    def __init__(self, controller: RunsController, open_folder, parent: QWidget | None = None):
        super().__init__(parent)
        named(self, "runsPanel", "Runs")
        self.controller = controller
        self.state: RunsState = controller.state
        self.tree = named(QTreeWidget(), "runsTree", "Runs")
        self.tree.setHeaderLabels(["Run", "Label", "Steps", "Final loss"])
        self.tree.setRootIsDecorated(False)
        self.tree.setMinimumHeight(90)
        # Fitted to their contents when the runs or their labels change, or a figure grows a digit,
        # not at each new row (twenty followed runs: 10 ms a read).
        self.tree.header().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.tree.setSelectionMode(QTreeWidget.SelectionMode.SingleSelection)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.items: dict[int, QTreeWidgetItem] = {}
        self._described: dict[int, tuple] = {}  # by run: what its tooltip was written from
        self._shown_labels: list[str] = []  # the labels written last (the state keeps them)
        self._buttons: dict[str, QPushButton] = {}
        self.remove_action = QAction("Remove from List", self)
        self.remove_action.triggered.connect(self.remove_selected)
        self.show_folder_action = QAction("Show Folder", self)
        self.show_folder_action.triggered.connect(self.show_selected_folder)
        self.tree.addActions([self.remove_action, self.show_folder_action])
        buttons = QHBoxLayout()
        for name, text, slot, tip in (
            ("runsOpenButton", "Open…", open_folder, "List a run folder (File > Open Run Folder…)"),
            (
                "runsRemoveButton",
                "Remove",
                self.remove_selected,
                "Take the selected run off the list; its folder stays",
            ),
            (
                "runsShowFolderButton",
                "Show Folder",
                self.show_selected_folder,
                "Open the selected run's folder",
            ),
        ):
            button = self._buttons[name] = named(QPushButton(text), name, text)
            button.setToolTip(tip)
            button.clicked.connect(slot)
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.tree)
        layout.addLayout(buttons)
        self.tree.itemChanged.connect(self._item_changed)
        self.tree.itemSelectionChanged.connect(self._enable_actions)
        for entry in self.state.entries:
            self._added(entry)
        self.state.added.connect(self._added)
        self.state.changed.connect(self._changed)
        self.state.checked.connect(self._changed)
        self.state.removed.connect(self._removed)
        self.state.batch_ended.connect(self._show_differences)
        self._enable_actions()

    def _added(self, entry: RunEntry) -> None:
        item = QTreeWidgetItem()
        item.setData(_NAME, Qt.ItemDataRole.UserRole, entry.id)
        item.setIcon(_NAME, _swatch(entry.colour))
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        for column in (_STEPS, _LOSS):
            item.setTextAlignment(
                column, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
            )
        self.items[entry.id] = item
        self._fill(item, entry)
        self.tree.addTopLevelItem(item)
        self._show_differences()
        self._fit_columns()

    def _changed(self, entry: RunEntry) -> None:
        if (item := self.items.get(entry.id)) is not None:
            self._fill(item, entry)
            self._show_differences()

    def _show_differences(self) -> None:
        """Each run's label among the others listed: its student and what sets it apart ("ana ·
        β 4, prior vamp"), the same label as on the plots; once a batch of changes is made."""
        if self.state.in_batch:
            return
        entries = self.state.entries
        labels = self.state.legends(entries)
        if labels is self._shown_labels:
            return  # the same runs, names and configs: new rows change no label
        self._shown_labels = labels
        for entry, text in zip(entries, labels):
            item = self.items[entry.id]
            if item.text(_DIFFERS) != text:
                item.setText(_DIFFERS, text)
        self._fit_columns()

    def _fit_columns(self) -> None:
        self.tree.header().resizeSections(QHeaderView.ResizeMode.ResizeToContents)

    def _fill(self, item: QTreeWidgetItem, entry: RunEntry) -> None:
        blocked = self.tree.blockSignals(True)  # the tick set here is not the user's
        item.setText(_NAME, entry.name)
        item.setCheckState(
            _NAME, Qt.CheckState.Checked if entry.checked else Qt.CheckState.Unchecked
        )
        loss = entry.final_loss
        figures = {_STEPS: f"{entry.steps:,}", _LOSS: "" if loss is None else f"{loss:.2f}"}
        grown = any(len(text) > len(item.text(column)) for column, text in figures.items())
        for column, text in figures.items():
            item.setText(column, text)
        # Written again only when what it says changed: a followed run's new rows change nothing.
        described = (entry.name, entry.folder, entry.student, entry.config)
        if self._described.get(entry.id) != described:
            self._described[entry.id] = described
            tooltip = _tooltip(entry)
            for column in range(self.tree.columnCount()):
                item.setToolTip(column, tooltip)
        self.tree.blockSignals(blocked)
        self._enable_actions()
        if grown:
            self._fit_columns()

    def _removed(self, entry: RunEntry) -> None:
        item = self.items.pop(entry.id, None)
        self._described.pop(entry.id, None)
        if item is not None:
            self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(item))
            self._show_differences()
            self._fit_columns()

    def _item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        entry = self.state.entry(item.data(_NAME, Qt.ItemDataRole.UserRole))
        if entry is not None and column == _NAME:
            self.state.set_checked(entry, item.checkState(_NAME) == Qt.CheckState.Checked)

    def selected(self) -> RunEntry | None:
        items = self.tree.selectedItems()
        return self.state.entry(items[0].data(_NAME, Qt.ItemDataRole.UserRole)) if items else None

    def _enable_actions(self) -> None:
        entry = self.selected()
        has_folder = entry is not None and entry.folder is not None
        for widget in (self.remove_action, self._buttons["runsRemoveButton"]):
            widget.setEnabled(entry is not None)
        for widget in (self.show_folder_action, self._buttons["runsShowFolderButton"]):
            widget.setEnabled(has_folder)

    def remove_selected(self) -> None:
        if (entry := self.selected()) is not None:
            self.controller.remove(entry)

    def show_selected_folder(self) -> None:
        if (entry := self.selected()) is not None and entry.folder is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(entry.folder)))

    def showEvent(self, event) -> None:
        self.controller.watch("panel", True)
        super().showEvent(event)

    def hideEvent(self, event) -> None:
        self.controller.watch("panel", False)
        super().hideEvent(event)


class RunsComparePage(QWidget):
    """The "Compare runs" page: `runsCompareTermCombo` picks the term, `runsComparePlot` draws it
    for every ticked run against the step."""

    def __init__(self, controller: RunsController, parent: QWidget | None = None):
        super().__init__(parent)
        self.controller = controller
        self.state: RunsState = controller.state
        self.term_combo = named(QComboBox(), "runsCompareTermCombo", "Term compared")
        for column, (text, _sign) in COMPARED_TERMS.items():
            self.term_combo.addItem(text, column)
        self.hint = named(QLabel(), "runsCompareHint", "Runs compared")
        self.plot = named(pg.PlotWidget(), "runsComparePlot", "Runs compared")
        item = self.plot.getPlotItem()
        item.setLabel("bottom", "step")
        item.setLabel("left", "nats per example")
        self.legend = item.addLegend(offset=(-10, 10))
        self.curves: dict[int, pg.PlotDataItem] = {}
        self._legend_key: tuple = ()  # the curves and texts the legend holds
        self._dirty = True
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REDRAW_INTERVAL_MS)
        self._timer.timeout.connect(self.refresh)
        row = QHBoxLayout()
        row.addWidget(QLabel("Term:"))
        row.addWidget(self.term_combo)
        row.addWidget(self.hint, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.plot)
        self.term_combo.currentIndexChanged.connect(self._request_redraw)
        for signal in (
            self.state.added,
            self.state.changed,
            self.state.checked,
            self.state.removed,
        ):
            signal.connect(self._request_redraw)

    def _request_redraw(self, *_) -> None:
        self._dirty = True
        if self.isVisible() and not self._timer.isActive():
            self._timer.start()

    def refresh(self) -> None:
        """Draw the ticked runs' curves of the chosen term (one refresh's work)."""
        self._dirty = False
        ticked = self.state.ticked()
        self._keep_curves_of(ticked)
        legends = self.state.legends(ticked)
        if (key := tuple(zip(self.curves, legends))) != self._legend_key:
            self._legend_key = key
            self.legend.clear()
            for entry, text in zip(ticked, legends):
                self.legend.addItem(self.curves[entry.id], text)
        column = self.term_combo.currentData()
        index, sign = METRICS_COLUMNS.index(column), COMPARED_TERMS[column][1]
        for entry, text in zip(ticked, legends):
            finite = np.isfinite(entry.rows[:, index])
            self.curves[entry.id].setData(
                entry.rows[finite, _STEP], sign * entry.rows[finite, index], name=text
            )
        self._show_hint(ticked)

    def _keep_curves_of(self, ticked: list[RunEntry]) -> None:
        """A curve for each ticked run, in their order; the others' taken off."""
        item = self.plot.getPlotItem()
        for entry_id in self.curves.keys() - {entry.id for entry in ticked}:
            item.removeItem(self.curves.pop(entry_id))
        for entry in ticked:
            if entry.id not in self.curves:
                curve = pg.PlotDataItem(pen=pg.mkPen(entry.colour, width=PEN_WIDTH))
                curve.setClipToView(True)
                curve.setDownsampling(auto=True, method="peak")
                item.addItem(curve)
                self.curves[entry.id] = curve
        self.curves = {entry.id: self.curves[entry.id] for entry in ticked}

    def _show_hint(self, ticked: list[RunEntry]) -> None:
        if not self.state.entries:
            self.hint.setText("No runs yet: train one, or File > Open Run Folder…")
        elif not ticked:
            self.hint.setText("Tick runs in the Runs list (View > Runs) to compare them")
        else:
            self.hint.setText(f"{len(ticked)} of {len(self.state.entries)} runs")

    def showEvent(self, event) -> None:
        self.controller.watch("compare", True)
        if self._dirty:
            self.refresh()
        super().showEvent(event)

    def hideEvent(self, event) -> None:
        self.controller.watch("compare", False)
        super().hideEvent(event)
