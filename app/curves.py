"""The run's loss curves (`lossPlot`): loss, reconstruction and KL against the step, β on its own
axis, and the held-out loss beside the training loss so over-fitting shows.

Every curve is in nats per example to minimise (the held-out one is −ELBO on examples kept out
of training). The curves draw the run's bounded history from the state model only when asked
(the window asks at most ten times a second), so a snapshot costs an append, not a redraw.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.curve_scale import (
    SCALES,
    BetaAxis,
    CurveAxis,
    ScaledCurve,
    fitted_curve_range,
    fitted_log_range,
    symlog_floor,
)
from app.history import HELDOUT_TERM
from app.naming import named
from app.plot_fonts import set_plot_text_size
from app.plot_legend import LegendAbove
from app.state import RunModel, ShownModel

LOSS_TERMS = ("loss", "recon", "kl")
SPANS = ("steps so far", "whole run")
# Colour-blind-safe (Okabe-Ito) pens; β dashed in grey, the held-out loss thicker.
# Pens one pixel wide (cosmetic) and no grid: each costs a redraw several times over on a CPU.
_PENS = {
    "loss": pg.mkPen("#e69f00"),
    "recon": pg.mkPen("#56b4e9"),
    "kl": pg.mkPen("#009e73"),
    "heldout": pg.mkPen("#d55e00", width=2),
    "beta": pg.mkPen("#cccccc", style=pg.QtCore.Qt.PenStyle.DashLine),
}
# Presenting, lines this many times wider: one-pixel lines vanish on a projector.
PRESENTATION_LINE_SCALE = 3
_GAUSSIAN_LEGEND = {
    "loss": "loss = reconstruction + β·KL",
    "recon": "reconstruction −log p(x|z)",
    "kl": "KL(q(z|x) ‖ p(z))",
    "heldout": "held-out −ELBO",
    "beta": "β (right axis)",
}
# A VQ-VAE's KL is the fixed log K per code position, and its loss has codebook terms, no β.
_CODEBOOK_LEGEND = {
    **_GAUSSIAN_LEGEND,
    "loss": "loss = reconstruction + codebook + commitment + code prior",
    "kl": "KL = log K per code (fixed)",
}
# The x axis, following the data, ends this far past the newest step: it changes only every so
# often (7 times in a run), not at each redraw.
_X_HEADROOM = 1.5
_MIN_X_END = 10.0


class CurvesView(QWidget):
    """The view sets its ranges itself: automatic ranging would re-lay every axis at every
    redraw, four times the cost of drawing the curves. Ranges change only when the data leaves
    them; once the user pans or zooms, the ranges are theirs until the next run."""

    def __init__(self, run: RunModel, shown: ShownModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.run = run
        self.shown = shown
        item = self._build_plot()
        self._add_beta_axis(item)
        self._add_legend(item)
        item.vb.sigResized.connect(self._align_beta_view)
        self._x_end: float | None = None
        self._y_range: tuple[float, float] | None = None
        self._beta_range: tuple[float, float] | None = None
        self._user_ranged = False
        self._floor_from = (0, self.axis.floor)  # (values counted, the floor read from them)
        for view in (item.vb, self.beta_view):
            view.disableAutoRange()
            view.sigRangeChangedManually.connect(self._user_took_the_ranges)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(self._build_options())
        layout.addWidget(self.plot)
        self.scale_combo.currentTextChanged.connect(self.set_scale)
        self.span_combo.currentTextChanged.connect(self._refit)
        run.history_replaced.connect(self._history_replaced)
        shown.model_changed.connect(self._name_terms)

    def _build_plot(self) -> pg.PlotItem:
        """The loss plot and its curves, one a term and the held-out loss; returns its item."""
        self.axis = CurveAxis("left")
        self.plot = named(
            pg.PlotWidget(axisItems={"left": self.axis, "right": BetaAxis("right")}),
            "lossPlot",
            "Loss curves",
        )
        item = self.plot.getPlotItem()
        item.setLabel("bottom", "step")
        item.setLabel("left", "loss, nats per example")
        item.setLabel("right", "β")
        # Named by term for code and tests; the legend, made after them, gets words for people.
        self.curves: dict[str, pg.PlotDataItem] = {
            name: ScaledCurve(name=name, pen=_PENS[name]) for name in LOSS_TERMS
        }
        # A thick line without markers: symbols would cost a scatter's repaint at every redraw.
        self.curves["heldout"] = ScaledCurve(name="heldout", pen=_PENS["heldout"])
        for curve in self.curves.values():
            item.addItem(curve)
        self.curves["heldout"].setObjectName("heldoutCurve")
        return item

    def _add_beta_axis(self, item: pg.PlotItem) -> None:
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

    def _add_legend(self, item: pg.PlotItem) -> None:
        # Above the plot area: over it, the legend covered the newest steps.
        self.legend_band = LegendAbove(item)
        self.legend = self.legend_band.legend
        self._names = _GAUSSIAN_LEGEND
        self._heldout_drawn = False
        self._list_curves()
        for curve in self.curves.values():
            curve.setClipToView(True)
            curve.setDownsampling(auto=True, method="peak")

    def _list_curves(self) -> None:
        """The legend names the curves drawn, and only those (the held-out loss once it has points)."""
        self.legend_band.show(
            [
                (curve, self._names[name])
                for name, curve in self.curves.items()
                if name != "heldout" or self._heldout_drawn
            ]
        )

    def _build_options(self) -> QHBoxLayout:
        """The row above the plot: the loss scale and the steps shown."""
        self.scale_combo = named(QComboBox(), "curveScaleCombo", "Curve scale")
        self.scale_combo.addItems(SCALES)
        self.scale_combo.setToolTip(
            "log: decades of loss equally spaced (negative values kept, on a symmetric log scale); linear: as they are"
        )
        self.span_combo = named(QComboBox(), "curveSpanCombo", "Steps shown")
        self.span_combo.addItems(SPANS)
        self.span_combo.setToolTip(
            "The step axis follows the data so far, or spans the run's whole budget"
        )
        options = QHBoxLayout()
        options.setContentsMargins(6, 2, 6, 0)
        options.setSpacing(6)
        for label, combo in (("Scale", self.scale_combo), ("Steps", self.span_combo)):
            options.addWidget(QLabel(label))
            options.addWidget(combo)
            options.addSpacing(12)
        options.addStretch(1)
        return options

    @property
    def scale(self) -> str:
        return self.scale_combo.currentText()

    def set_scale(self, scale: str) -> None:
        if self.scale_combo.currentText() != scale:
            self.scale_combo.setCurrentText(scale)  # comes back here through the signal
            return
        self._refit()

    def _refit(self) -> None:
        self._x_end = self._y_range = None
        self._floor_from = (0, self.axis.floor)
        self._user_ranged = False
        self.refresh()

    def _name_terms(self) -> None:
        model = self.shown.model
        self._names = (
            _CODEBOOK_LEGEND
            if model is not None and model.capabilities.has_codebook
            else _GAUSSIAN_LEGEND
        )
        self._list_curves()

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
        self._beta_range = None
        self.plot.getPlotItem().vb.disableAutoRange()
        self.beta_view.disableAutoRange()
        self._refit()

    def _losses(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Each loss curve's steps and values (copies: the series overwrite their arrays in place
        as they merge old points)."""
        losses = {name: (self.series.x.copy(), self.series.y(name).copy()) for name in LOSS_TERMS}
        heldout = self.run.history.heldout
        losses["heldout"] = (heldout.x.copy(), -heldout.y(HELDOUT_TERM))
        return losses

    def refresh(self) -> None:
        losses = self._losses()
        values = np.concatenate([y for _, y in losses.values()])
        floor = self._floor_for(values)
        if (self.scale, floor) != (self.axis.scale_name, self.axis.floor):
            self.axis.set_scale(self.scale, floor)
            self._y_range = None
        for name, (x, y) in losses.items():
            self.curves[name].show_values(x, y, self.scale, floor)
        # An empty curve with symbols still paints its (empty) scatter at every redraw.
        heldout_drawn = len(losses["heldout"][0]) > 0
        self.curves["heldout"].setVisible(heldout_drawn)
        if heldout_drawn != self._heldout_drawn:
            self._heldout_drawn = heldout_drawn
            self._list_curves()
        self.curves["beta"].setData(self.series.x.copy(), self.series.y("beta").copy())
        if len(self.series) and not self._user_ranged:
            self._fit_ranges(values)

    def _floor_for(self, values: np.ndarray) -> float:
        """The symmetric log's floor, read again only when the values grew by a tenth (or were
        replaced): a floor that moved at every redraw would re-lay the axis each time."""
        counted, floor = self._floor_from
        if not counted <= len(values) < 1.1 * counted + 1:
            floor = symlog_floor(values)
            self._floor_from = (len(values), floor)
        return floor

    def _fit_ranges(self, losses: np.ndarray) -> None:
        item = self.plot.getPlotItem()
        if (x_end := self._fitted_x_end()) is not None:
            self._x_end = x_end
            item.setXRange(0, x_end, padding=0.01)
        if (
            y_range := fitted_curve_range(losses, self._y_range, self.scale, self.axis.floor)
        ) is not None:
            self._y_range = y_range
            item.setYRange(*y_range, padding=0)
        if (
            beta_range := fitted_log_range(self.series.y("beta"), self._beta_range, margin=0.2)
        ) is not None:
            self._beta_range = beta_range
            self.beta_view.setYRange(*beta_range, padding=0)

    def _fitted_x_end(self) -> float | None:
        """Where the step axis should end, or None to keep it."""
        newest = float(self.series.x[-1])
        if self.span_combo.currentText() == "whole run" and not self.run.open_ended:
            end = max(float(self.run.history.total_steps), newest)
            return None if end == self._x_end else end
        # Never narrower than a twentieth of the run: its first steps would re-lay the axis often.
        shortest = (
            _MIN_X_END
            if self.run.open_ended
            else max(_MIN_X_END, self.run.history.total_steps / 20)
        )
        if self._x_end is not None and newest <= self._x_end <= _X_HEADROOM**2 * max(
            newest, shortest
        ):
            return None
        return max(newest * _X_HEADROOM, shortest)

    def set_text_size(self, pixels: int | None) -> None:
        """Text `pixels` high; None: as built."""
        set_plot_text_size(self.plot.getPlotItem(), self.legend, pixels)
        self.legend_band.fit_columns()

    def set_presenting(self, on: bool) -> None:
        """Lines wide enough for a projector, or as built."""
        for name, curve in self.curves.items():
            pen = pg.mkPen(_PENS[name])
            if on:
                pen.setWidthF(max(1.0, pen.widthF()) * PRESENTATION_LINE_SCALE)
            curve.setPen(pen)
