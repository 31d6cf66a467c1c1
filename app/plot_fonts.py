"""Text sizes of a pyqtgraph plot (axis ticks and labels, legend), for presentation mode."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QFont


def set_plot_text_size(item: pg.PlotItem, legend: pg.LegendItem | None, pixels: int) -> None:
    """Axis ticks, axis labels and legend entries `pixels` high; legend entries added later too."""
    font = QFont()
    font.setPixelSize(pixels)
    for side in ("left", "bottom", "right"):
        axis = item.getAxis(side)
        axis.setStyle(tickFont=font)
        axis.label.setFont(font)
    if legend is not None:
        legend.setLabelTextSize(f"{pixels}px")
        for _, label in legend.items:
            label.setText(label.text, size=f"{pixels}px")
