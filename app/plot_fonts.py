"""Text sizes of a pyqtgraph plot (axis ticks and labels, legend), for presentation mode."""

from __future__ import annotations

from weakref import WeakKeyDictionary

import pyqtgraph as pg
from PySide6.QtGui import QFont

# Each legend's entry size as built, kept from its first change, so that leaving presentation
# mode gives back exactly what was there (8pt on the map, 9pt on the curves), not a near size.
_BUILT_LEGEND_SIZES: WeakKeyDictionary[pg.LegendItem, str] = WeakKeyDictionary()


def set_plot_text_size(item: pg.PlotItem, legend: pg.LegendItem | None, pixels: int | None) -> None:
    """Axis ticks, axis labels and legend entries `pixels` high, legend entries added later too;
    None gives back the sizes the plot was built with."""
    font = QFont()
    if pixels is not None:
        font.setPixelSize(pixels)
    for side in ("left", "bottom", "right"):
        axis = item.getAxis(side)
        axis.setStyle(tickFont=None if pixels is None else font)
        axis.label.setFont(font)
    if legend is not None:
        _BUILT_LEGEND_SIZES.setdefault(legend, legend.opts["labelTextSize"])
        size = _BUILT_LEGEND_SIZES[legend] if pixels is None else f"{pixels}px"
        legend.setLabelTextSize(size)
        for _, label in legend.items:
            label.setText(label.text, size=size)
            # A label keeps the size its larger text was given, and the legend the rows and
            # columns its labels had: shrunk to the text, the legend fits it again.
            label.resize(label.minimumSize())
        legend.updateSize()
