"""The KL of each latent dimension, as bars (the loss curves are in `app.curves`)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.naming import named

# A dimension whose KL is below this many nats per example (0.14 bits) carries next to no
# information about the input: drawn as collapsed.
COLLAPSED_KL_NATS = 0.1
_ACTIVE_BRUSH = pg.mkBrush("#56b4e9")
_COLLAPSED_BRUSH = pg.mkBrush("#666666")


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
        self._named_dims = 0  # the dimensions the axis has ticks for
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
        dims = len(kl_per_dim)
        if dims != self._named_dims:
            # Every dimension named while they fit, else every few.
            every = max(1, dims // 16)
            self.plot.getPlotItem().getAxis("bottom").setTicks(
                [[(i, f"z{i}") for i in range(0, dims, every)]]
            )
            self._named_dims = dims
        self.bars.setOpts(
            x=np.arange(dims),
            height=kl_per_dim,
            brushes=[_ACTIVE_BRUSH if on else _COLLAPSED_BRUSH for on in active],
        )
        self.summary.setText(
            f"{int(active.sum())} of {len(kl_per_dim)} dimensions active (KL ≥ {COLLAPSED_KL_NATS} nats)"
        )
        self._place_summary()
