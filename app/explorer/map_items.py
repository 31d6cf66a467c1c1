"""The latent map's plot items and colours: label colours, the posterior's ellipses, the prior's
contours, the interpolation's path, and the order they are drawn in."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt

# Ten distinct label colours (the "tab10" set); more classes take evenly spaced hues.
_LABEL_COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)


def label_colours(count: int) -> list:
    if count <= len(_LABEL_COLOURS):
        return [pg.mkColor(_LABEL_COLOURS[i]) for i in range(count)]
    return [pg.intColor(i, hues=count) for i in range(count)]


# Drawing order, back to front.
Z_TILES, Z_CONTOURS, Z_POINTS, Z_ELLIPSES, Z_PATH, Z_CURSOR = -10, 5, 10, 15, 16, 20


def ellipse_pair(plot: pg.PlotWidget, colour) -> list:
    """The 1σ and 2σ outlines of one posterior: two curves on `plot`."""
    curves = []
    for width, alpha in ((2.0, 255), (1.5, 170)):
        curve = pg.PlotCurveItem(pen=pg.mkPen((*colour, alpha), width=width))
        curve.setZValue(Z_ELLIPSES)
        plot.addItem(curve)
        curves.append(curve)
    return curves


def contour_curves(plot: pg.PlotWidget) -> list:
    """Three dashed curves on `plot` for the prior's density contours, fainter outwards."""
    curves = [pg.PlotCurveItem(connect="pairs") for _ in range(3)]
    for level, curve in enumerate(curves):
        curve.setPen(
            pg.mkPen((255, 255, 255, 200 - 50 * level), width=1.5, style=Qt.PenStyle.DashLine)
        )
        curve.setZValue(Z_CONTOURS)
        plot.addItem(curve)
    return curves


def path_curve(plot: pg.PlotWidget) -> pg.PlotDataItem:
    """The interpolation's path on `plot`: a line through its frames' codes."""
    path = pg.PlotDataItem(
        pen=pg.mkPen(255, 140, 0, width=2),
        symbol="o",
        symbolSize=6,
        symbolBrush=(255, 140, 0),
        symbolPen=None,
    )
    path.setZValue(Z_PATH)
    plot.addItem(path)
    return path
