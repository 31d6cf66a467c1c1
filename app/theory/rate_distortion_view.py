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
        """Other runs' points: (name, colour, METRICS_COLUMNS rows) each, a legend entry per run."""
        for item in self._other_items:
            self.plot.removeItem(item)
            self.legend.removeItem(item)
        self._other_items, self._other_points = [], []
        for name, colour, rows in runs:
            points = rate_distortion_points(rows)
            item = pg.PlotDataItem(
                *_xy(points),
                pen=pg.mkPen(colour, width=1.5),
                symbol="s" if len(points) <= MAX_SYMBOLS else None,
                symbolSize=8,
                symbolBrush=colour,
                symbolPen=None,
                name=name,
            )
            self.plot.addItem(item)
            self._other_items.append(item)
            self._other_points.append(points)
        self._draw_iso_elbo()

    def point_count(self) -> int:
        return len(self._points)

    def _label(self, point: RatePoint) -> pg.TextItem:
        text = pg.TextItem(f"β = {point.beta:g}", color=CURRENT_COLOUR, anchor=(-0.1, 1.1))
        text.setPos(point.rate, point.distortion)
        self.plot.addItem(text, ignoreBounds=True)
        return text

    def _draw_iso_elbo(self) -> None:
        every = [*self._points, *(point for points in self._other_points for point in points)]
        self.legend.removeItem(self._iso_key)
        self.iso_elbo.setVisible(bool(every))
        if not every:
            return
        best = min(every, key=lambda point: point.rate + point.distortion)
        self.iso_elbo.setPos((best.rate, best.distortion))
        self.legend.addItem(self._iso_key, f"rate + distortion = {best.rate + best.distortion:.1f}")


def _xy(points: list[RatePoint]) -> tuple[np.ndarray, np.ndarray]:
    return np.array([p.rate for p in points]), np.array([p.distortion for p in points])


def _labelled(points: list[RatePoint]) -> list[RatePoint]:
    if len(points) <= MAX_LABELS:
        return points
    return [points[0], points[-1]]
