"""Data space, for data that are 2-D points rather than images: the data coloured by label, the
decoder's image of a latent grid as a deformed mesh, and the point decoded at the cursor.

Beside the latent map it shows both halves of the model at once: the encoder's picture is the
map's scatter, the decoder's is this mesh.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

from app.explorer.map_items import label_colours

# Drawing order, back to front.
_Z_MESH, _Z_DATA, _Z_SAMPLES, _Z_SELECTION, _Z_CURSOR = 0, 5, 6, 15, 20


def mesh_polylines(*line_sets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sets of lines (L, P, 2) as one polyline with NaN breaks between lines: x and y of
    (sum of L * (P + 1),) points, for a curve drawn with connect="finite"."""
    lines = [line for line_set in line_sets for line in line_set]
    breaks = np.full((1, 2), np.nan)
    joined = np.concatenate([part for line in lines for part in (line, breaks)])
    return joined[:, 0], joined[:, 1]


class DataSpaceView(pg.PlotWidget):
    def __init__(
        self,
        name: str = "dataSpacePlot",
        title: str = "Data space: data, decoded latent grid, decoded cursor",
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.setObjectName(name)
        self.setAccessibleName(title)
        self.setMinimumSize(240, 240)
        item = self.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        item.setTitle(title, size="9pt")
        item.setLabel("bottom", "x₁")
        item.setLabel("left", "x₂")
        self.getViewBox().setAspectLocked(True)
        self.mesh = pg.PlotCurveItem(connect="finite", pen=pg.mkPen(255, 255, 255, 110, width=1))
        self.mesh.setZValue(_Z_MESH)
        self.data_points = pg.ScatterPlotItem(size=4, pen=None)
        self.data_points.setZValue(_Z_DATA)
        self.samples = pg.ScatterPlotItem(size=4, pen=None, brush=pg.mkBrush(200, 200, 200, 140))
        self.samples.setZValue(_Z_SAMPLES)
        self.selection = pg.PlotDataItem(
            pen=pg.mkPen(255, 220, 0, width=2),
            symbol="o",
            symbolSize=10,
            symbolPen=pg.mkPen(255, 220, 0, width=2),
            symbolBrush=None,
        )
        self.selection.setZValue(_Z_SELECTION)
        self.cursor = pg.ScatterPlotItem(size=16, symbol="+", pen=pg.mkPen(255, 80, 40, width=3))
        self.cursor.setZValue(_Z_CURSOR)
        self.legend = item.addLegend(
            offset=(8, 8), labelTextSize="8pt", brush=pg.mkBrush(0, 0, 0, 150)
        )
        for graphic in (self.mesh, self.data_points, self.samples, self.selection, self.cursor):
            self.addItem(graphic)
        self.setRange(xRange=(0, 1), yRange=(0, 1))

    def set_data(
        self, xy: np.ndarray | None, labels: np.ndarray | None = None, class_names=()
    ) -> None:
        """The data points (N, 2), coloured by label; the view fits them."""
        self.legend.clear()
        if xy is None or len(xy) == 0:
            self.data_points.clear()
            return
        colours = label_colours(max(len(class_names), int(labels.max()) + 1))
        brushes = []
        for colour in colours:
            colour.setAlpha(150)
            brushes.append(pg.mkBrush(colour))
        self.data_points.setData(x=xy[:, 0], y=xy[:, 1], brush=[brushes[label] for label in labels])
        for index, name in enumerate(class_names):
            self.legend.addItem(pg.ScatterPlotItem(size=8, brush=brushes[index], pen=None), name)
        self.getViewBox().autoRange(items=[self.data_points], padding=0.1)

    def set_mesh(self, *line_sets: np.ndarray | None) -> None:
        """Lines in data space, (L, P, 2) per set: a latent grid's decoded rows and columns, or
        inputs joined to their reconstructions; None clears them."""
        if not line_sets or line_sets[0] is None:
            self.mesh.setData([], [])
            return
        self.mesh.setData(*mesh_polylines(*line_sets))

    def set_cursor(self, xy: np.ndarray | None) -> None:
        if xy is None:
            self.cursor.clear()
        else:
            self.cursor.setData(x=[float(xy[0])], y=[float(xy[1])])

    def cursor_position(self) -> tuple[float, float] | None:
        points = self.cursor.data
        return None if len(points) == 0 else (float(points["x"][0]), float(points["y"][0]))

    def set_samples(self, xy: np.ndarray | None) -> None:
        if xy is None:
            self.samples.clear()
        else:
            self.samples.setData(x=xy[:, 0], y=xy[:, 1])

    def set_selection(
        self, input_xy: np.ndarray | None, reconstruction_xy: np.ndarray | None = None
    ) -> None:
        """The selected input and its reconstruction, joined by a line."""
        if input_xy is None:
            self.selection.setData([], [])
            return
        pair = np.stack([input_xy, reconstruction_xy])
        self.selection.setData(pair[:, 0], pair[:, 1])
