"""The run's live plots: loss curves with β on its own axis, and the KL of each latent dimension.

The curves draw the run's bounded history from the state model, only when asked (the window asks
at most ten times a second), so a snapshot costs an append, not a redraw.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.naming import named
from app.state import RunModel

LOSS_TERMS = ("loss", "recon", "kl")
# Colour-blind-safe (Okabe-Ito) pens for loss, reconstruction and KL; β dashed in grey. Pens
# one pixel wide (cosmetic) and no grid: each costs a redraw several times over on a CPU.
_PENS = {
    "loss": pg.mkPen("#e69f00"),
    "recon": pg.mkPen("#56b4e9"),
    "kl": pg.mkPen("#009e73"),
    "beta": pg.mkPen("#cccccc", style=pg.QtCore.Qt.PenStyle.DashLine),
}
_LEGEND_NAMES = {"loss": "loss (recon + β·KL)", "recon": "reconstruction", "kl": "KL", "beta": "β (right axis)"}
# A dimension whose KL is below this many nats per example (0.14 bits) carries next to no
# information about the input: drawn as collapsed.
COLLAPSED_KL_NATS = 0.1
_ACTIVE_BRUSH = pg.mkBrush("#56b4e9")
_COLLAPSED_BRUSH = pg.mkBrush("#666666")


def fitted_log_range(values: np.ndarray, current: tuple[float, float] | None, margin: float = 0.15, slack: float = 1.0):
    """The log10 range in which to show the positive `values`, or None while `current` suits them:
    it holds them all and wastes at most `slack` decades more than the margins."""
    positive = values[np.isfinite(values) & (values > 0)]
    if not len(positive):
        return None
    low, high = float(np.log10(positive.min())), float(np.log10(positive.max()))
    if current is not None:
        current_low, current_high = current
        wasted = (current_high - current_low) - (high - low) - 2 * margin
        if current_low <= low and high <= current_high and wasted <= slack:
            return None
    return low - margin, high + margin


class CurvesView(QWidget):
    """`lossPlot`: loss, reconstruction and KL (log scale, nats per example) against the step,
    and β on the right axis, so a change of β shows where it happened.

    The view sets its ranges itself: the steps of the whole run across, so the curves grow to
    the right as it trains, and y ranges that change only when the data leaves them. Automatic
    ranging would re-lay every axis at every redraw, four times the cost of drawing the curves.
    Once the user pans or zooms, the ranges are theirs until the next run.
    """

    def __init__(self, run: RunModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.run = run
        self.plot = named(pg.PlotWidget(), "lossPlot", "Loss curves")
        item = self.plot.getPlotItem()
        item.setLabel("bottom", "step")
        item.setLabel("left", "nats per example")
        item.setLabel("right", "β")
        item.setLogMode(y=True)
        # Named by term for code and tests; the legend, made after them, gets words for people.
        self.curves = {name: item.plot(name=name, pen=_PENS[name]) for name in LOSS_TERMS}
        # β lives in a second view box tied to the right axis and sharing the step axis.
        self.beta_view = pg.ViewBox()
        item.scene().addItem(self.beta_view)
        item.getAxis("right").linkToView(self.beta_view)
        item.getAxis("right").setLogMode(False, True)
        # A scale prefix would turn the label into "β (x0.001)" whenever β's range is small.
        item.getAxis("right").enableAutoSIPrefix(False)
        self.beta_view.setXLink(item.vb)
        self.curves["beta"] = pg.PlotDataItem(name="beta", pen=_PENS["beta"])
        self.curves["beta"].setLogMode(False, True)
        self.beta_view.addItem(self.curves["beta"])
        self.legend = item.addLegend(offset=(-10, 10), brush=pg.mkBrush(0, 0, 0, 170))
        for name, curve in self.curves.items():
            self.legend.addItem(curve, _LEGEND_NAMES[name])
            curve.setClipToView(True)
            curve.setDownsampling(auto=True, method="peak")
        item.vb.sigResized.connect(self._align_beta_view)
        self._x_end: float | None = None
        self._y_range: tuple[float, float] | None = None
        self._beta_range: tuple[float, float] | None = None
        self._user_ranged = False
        for view in (item.vb, self.beta_view):
            view.disableAutoRange()
            view.sigRangeChangedManually.connect(self._user_took_the_ranges)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        run.history_replaced.connect(self._history_replaced)

    def _align_beta_view(self) -> None:
        self.beta_view.setGeometry(self.plot.getPlotItem().vb.sceneBoundingRect())
        self.beta_view.linkedViewChanged(self.plot.getPlotItem().vb, self.beta_view.XAxis)

    def _user_took_the_ranges(self) -> None:
        self._user_ranged = True

    @property
    def series(self):
        return self.run.history.series

    def _history_replaced(self) -> None:
        """Another run, or an opened checkpoint's curves: the ranges fit them afresh."""
        self._x_end = self._y_range = self._beta_range = None
        self._user_ranged = False
        self.plot.getPlotItem().vb.disableAutoRange()
        self.beta_view.disableAutoRange()
        self.refresh()

    def refresh(self) -> None:
        x = self.series.x
        for name, curve in self.curves.items():
            # Copies: the series overwrites its arrays in place as it merges old points.
            curve.setData(x.copy(), self.series.y(name).copy())
        if len(x) and not self._user_ranged:
            self._fit_ranges()

    def _fit_ranges(self) -> None:
        item = self.plot.getPlotItem()
        x_end = max(self.run.history.total_steps, float(self.series.x[-1]))
        if x_end != self._x_end:
            self._x_end = x_end
            item.setXRange(0, x_end, padding=0.01)
        loss_terms = np.concatenate([self.series.y(name) for name in LOSS_TERMS])
        if (y_range := fitted_log_range(loss_terms, self._y_range)) is not None:
            self._y_range = y_range
            item.setYRange(*y_range, padding=0)
        if (beta_range := fitted_log_range(self.series.y("beta"), self._beta_range, margin=0.2)) is not None:
            self._beta_range = beta_range
            self.beta_view.setYRange(*beta_range, padding=0)

    def set_font_size(self, points: int) -> None:
        font = QFont()
        font.setPointSize(points)
        item = self.plot.getPlotItem()
        for side in ("left", "bottom", "right"):
            axis = item.getAxis(side)
            axis.setStyle(tickFont=font)
            axis.label.setFont(font)
        for _, label in self.legend.items:
            label.setText(label.text, size=f"{points}pt")


class KlBarsView(QWidget):
    """`klPlot`: the KL of each latent dimension; collapsed dimensions in grey."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.plot = named(pg.PlotWidget(), "klPlot", "KL per latent dimension")
        item = self.plot.getPlotItem()
        item.setLabel("bottom", "latent dimension")
        item.setLabel("left", "KL (nats per example)")
        item.setMouseEnabled(x=False, y=False)
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.8)
        item.addItem(self.bars)
        self.summary = pg.TextItem(anchor=(1, 0), color="#dddddd")
        self.summary.setParentItem(item.vb)
        item.vb.sigResized.connect(self._place_summary)
        self.kl_per_dim: np.ndarray | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)

    def _place_summary(self) -> None:
        self.summary.setPos(self.plot.getPlotItem().vb.width() - 8, 4)

    def show_kl(self, kl_per_dim: np.ndarray | None) -> None:
        self.kl_per_dim = kl_per_dim
        if kl_per_dim is None:
            self.bars.setOpts(x=[], height=[], brushes=[])
            self.summary.setText("")
            return
        active = kl_per_dim >= COLLAPSED_KL_NATS
        self.bars.setOpts(
            x=np.arange(len(kl_per_dim)),
            height=kl_per_dim,
            brushes=[_ACTIVE_BRUSH if on else _COLLAPSED_BRUSH for on in active],
        )
        self.summary.setText(
            f"{int(active.sum())} of {len(kl_per_dim)} dimensions active (KL ≥ {COLLAPSED_KL_NATS} nats)"
        )
        self._place_summary()
