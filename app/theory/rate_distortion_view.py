"""The "Rate–distortion" page (Alemi et al. 2018): each β segment of the current run as a point
(rate = KL, distortion = reconstruction error), joined in step order, and the runs ticked in the
Runs panel beside it. Redrawn from the run's history at most every REDRAW_INTERVAL_MS, and only
while on screen."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.naming import named
from app.state import RunModel
from vae_core.evaluation.rate_distortion import (
    TAIL_SHARE,
    RatePoint,
    rate_distortion_points,
)

REDRAW_INTERVAL_MS = 250
# Above this many points (a β schedule makes every row a segment) only the first and last are
# labelled, and above MAX_SYMBOLS the points are a line without markers.
MAX_LABELS = 12
MAX_SYMBOLS = 200
# The current run's colour: none of the Runs list's palette, so it never reads as a ticked run.
CURRENT_COLOUR = (255, 90, 120)

EXPLANATION = (
    f"Each point is a stretch of a run at one β: its rate (the KL, nats the code carries about x) against "
    f"its distortion (the reconstruction error −log p(x|z)), both averaged over the stretch's last "
    f"{TAIL_SHARE:.0%} of rows. Lower left is better; a larger β moves a run up and to the left. The "
    "dashed line is rate + distortion = −ELBO at β = 1, held constant through the lowest point."
)


class RateDistortionView(QWidget):
    """`rateDistortionPlot`: the current run from `run`'s history, other runs from `show_runs`."""

    def __init__(self, run: RunModel, parent: QWidget | None = None):
        super().__init__(parent)
        named(self, "rateDistortionView", "Rate–distortion")
        self.run = run
        self.plot = named(pg.PlotWidget(), "rateDistortionPlot", "Rate-distortion plane")
        item = self.plot.getPlotItem()
        item.setLabel("bottom", "rate: KL(q(z|x) || p(z)), nats")
        item.setLabel("left", "distortion: −log p(x|z), nats")
        item.showGrid(x=True, y=True, alpha=0.2)
        item.getViewBox().setDefaultPadding(0.12)  # room for the labels
        self.legend = item.addLegend(offset=(-8, 8), labelTextSize="8pt")
        self.current = pg.PlotDataItem(
            pen=pg.mkPen(CURRENT_COLOUR, width=1.5),
            symbol="o",
            symbolSize=9,
            symbolBrush=CURRENT_COLOUR,
            symbolPen=None,
            name="this run",
        )
        self.plot.addItem(self.current)
        # The line of constant -ELBO at β = 1: slope -1 in data coordinates, whatever the axes' scales.
        dashed = pg.mkPen((170, 170, 170), width=1, style=Qt.PenStyle.DashLine)
        self.iso_elbo = pg.InfiniteLine(angle=-45, pen=dashed)
        self.iso_elbo.setVisible(False)
        self.plot.addItem(self.iso_elbo, ignoreBounds=True)
        self._iso_key = pg.PlotDataItem(pen=dashed)  # its legend entry only
        self._labels: list[pg.TextItem] = []
        self._other_items: list[pg.PlotDataItem] = []
        self._points: list[RatePoint] = []
        self._other_points: list[list[RatePoint]] = []
        self._runs: tuple[tuple[str, object, np.ndarray], ...] = ()
        self._run_keys: list[tuple[str, object]] = []
        self._runs_stale = False
        explanation = QLabel(EXPLANATION)
        explanation.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.plot, 1)
        layout.addWidget(explanation)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REDRAW_INTERVAL_MS)
        self._timer.timeout.connect(self.refresh)
        self._stale = True
        run.snapshot_added.connect(self._history_grew)
        run.rows_added.connect(self._history_grew)
        run.history_replaced.connect(self._history_grew)

    def _history_grew(self, *_) -> None:
        if not self.isVisible():
            self._stale = True
        elif not self._timer.isActive():
            self._timer.start()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._runs_stale:
            self._draw_runs()
        if self._stale:
            self.refresh()

    def refresh(self) -> None:
        """Redraw the current run's points from its history (one redraw's whole work)."""
        self._stale = False
        self._points = rate_distortion_points(self.run.history.table.rows)
        self.current.setData(
            *_xy(self._points), symbol="o" if len(self._points) <= MAX_SYMBOLS else None
        )
        for label in self._labels:
            self.plot.removeItem(label)
        self._labels = [self._label(point) for point in _labelled(self._points)]
        self._draw_iso_elbo()

    def show_runs(self, runs: Sequence[tuple[str, object, np.ndarray]]) -> None:
        """Other runs' points: (name, colour, METRICS_COLUMNS rows) each, a legend entry per run.
        Hidden, the page only keeps them: the runs' rows change at every copy of a live run, and
        rebuilding a legend of many entries each time cost training half its speed."""
        self._runs = tuple(runs)
        if self.isVisible():
            self._draw_runs()
        else:
            self._runs_stale = True

    def _draw_runs(self) -> None:
        self._runs_stale = False
        keys = [(name, colour) for name, colour, _ in self._runs]
        if keys != self._run_keys:  # other runs, or other names: a new legend
            self._run_keys = keys
            for item in [*self._other_items, self._iso_key]:  # the line's entry comes back last
                self.plot.removeItem(item)
                self.legend.removeItem(item)
            self._other_items = [self._run_item(name, colour) for name, colour in keys]
        self._other_points = [rate_distortion_points(rows) for _, _, rows in self._runs]
        for item, points in zip(self._other_items, self._other_points):
            item.setData(*_xy(points), symbol="s" if len(points) <= MAX_SYMBOLS else None)
        self._draw_iso_elbo()

    def _run_item(self, name: str, colour) -> pg.PlotDataItem:
        item = pg.PlotDataItem(
            pen=pg.mkPen(colour, width=1.5),
            symbolSize=8,
            symbolBrush=colour,
            symbolPen=None,
            name=name,
        )
        self.plot.addItem(item)
        return item

    def point_count(self) -> int:
        return len(self._points)

    def _label(self, point: RatePoint) -> pg.TextItem:
        text = pg.TextItem(f"β = {point.beta:g}", color=CURRENT_COLOUR, anchor=(-0.1, 1.1))
        text.setPos(point.rate, point.distortion)
        self.plot.addItem(text, ignoreBounds=True)
        return text

    def _draw_iso_elbo(self) -> None:
        every = [*self._points, *(point for points in self._other_points for point in points)]
        self.iso_elbo.setVisible(bool(every))
        shown = any(sample.item is self._iso_key for sample, _ in self.legend.items)
        if not every:
            if shown:
                self.legend.removeItem(self._iso_key)
            return
        best = min(every, key=lambda point: point.rate + point.distortion)
        self.iso_elbo.setPos((best.rate, best.distortion))
        text = f"rate + distortion = {best.rate + best.distortion:.1f}"
        if not shown:
            self.legend.addItem(self._iso_key, text)
        else:  # a new text in place: re-adding the entry re-lays the whole legend out
            next(
                label for sample, label in self.legend.items if sample.item is self._iso_key
            ).setText(text)


def _xy(points: list[RatePoint]) -> tuple[np.ndarray, np.ndarray]:
    return np.array([p.rate for p in points]), np.array([p.distortion for p in points])


def _labelled(points: list[RatePoint]) -> list[RatePoint]:
    if len(points) <= MAX_LABELS:
        return points
    return [points[0], points[-1]]
