"""A plot's legend in a band above its plot area, where it never covers a curve.

pyqtgraph's legend floats over the view box: the loss curves' one sat at the top right, over the
newest steps, wherever the data went. Here the plot item's top margin grows to the legend's
height and the legend sits in it, its entries in as many columns as the plot's width holds.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt

# Pixels between the legend and the plot item's edges.
_GAP = 4


class _LaidOutLegend(pg.LegendItem):
    """A legend as large as its layout asks. pyqtgraph's sums its entries' current widths and
    leaves out the layout's margins and spacing: entries ran past its edge, and once grown (larger
    text in presentation mode) it never shrank back."""

    def updateSize(self):
        self.resize(self.layout.effectiveSizeHint(Qt.SizeHint.PreferredSize))


class LegendAbove:
    """`legend`, placed above `item`'s axes; fill it with `show(entries)`."""

    def __init__(self, item: pg.PlotItem, **options):
        self.item = item
        # No offset: pyqtgraph would anchor it inside the view box.
        self.legend = _LaidOutLegend(offset=None, **options)
        self.legend.setParentItem(item)
        self.legend.anchor(itemPos=(1, 0), parentPos=(1, 0), offset=(-_GAP, _GAP))
        self._margins = item.layout.getContentsMargins()
        self.legend.geometryChanged.connect(self._make_room)
        item.geometryChanged.connect(self.fit_columns)

    def show(self, entries: list[tuple[pg.PlotDataItem, str]]) -> None:
        """The legend lists these curves with these words, in this order, and nothing else."""
        self.legend.clear()
        for curve, text in entries:
            self.legend.addItem(curve, text)
        self.fit_columns()

    def fit_columns(self) -> None:
        """As many columns as fit the plot's width (one at least); rows fill left to right."""
        room = self.item.width() - 2 * _GAP
        for columns in range(max(1, len(self.legend.items)), 0, -1):
            self.legend.setColumnCount(columns)
            if columns == 1 or self._preferred_width() <= room:
                break
        self.legend.updateSize()
        self._make_room()

    def _preferred_width(self) -> float:
        return self.legend.layout.effectiveSizeHint(Qt.SizeHint.PreferredSize).width()

    def _make_room(self) -> None:
        left, top, right, bottom = self._margins
        height = self.legend.height() + 2 * _GAP if self.legend.items else 0
        self.item.layout.setContentsMargins(left, top + height, right, bottom)
