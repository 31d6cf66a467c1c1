"""The VQ-VAE codebook: how often each code is chosen, perplexity over time, the code vectors'
2-D projection (click one to see what it decodes to), and a reset of the codes no one chooses."""

from __future__ import annotations

from collections import deque

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.explorer.decode_service import DecodeService
from app.explorer.image_widgets import ImageGrid, ImageTile
from app.explorer.lazy_page import LazyPage
from app.state import ShownModel
from vae_core.latent import LatentPlane
from vae_core.model_access import dataset_images
from vae_core.models.quantizer import perplexity

# Perplexity points kept; the oldest go first.
HISTORY = 2000
# Encoder outputs drawn behind the code vectors in the projection.
SHOWN_VECTORS = 3000
EXAMPLES = 8

_LIVE = pg.mkBrush(80, 170, 255)
_DEAD = pg.mkBrush(230, 60, 60)
_CHOSEN_PEN = pg.mkPen(255, 200, 0, width=2.5)


def _plot(name: str, accessible: str, bottom: str, left: str) -> pg.PlotWidget:
    plot = pg.PlotWidget()
    plot.setObjectName(name)
    plot.setAccessibleName(accessible)
    plot.setMinimumSize(180, 150)
    item = plot.getPlotItem()
    item.setMenuEnabled(False)
    item.hideButtons()
    item.setLabel("bottom", bottom)
    item.setLabel("left", left)
    return plot


class CodebookPage(LazyPage):
    resetRequested = Signal(list)  # indices of the dead codes

    def __init__(self, shown: ShownModel, decoder: DecodeService, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("codebookPage")
        self.setAccessibleName("Codebook")
        self.shown = shown
        self.decoder = decoder
        self.counts: np.ndarray | None = None  # (K,) choices over the test set's positions
        self.history: deque[tuple[float, float]] = deque(maxlen=HISTORY)
        self.chosen: int | None = None
        self._indices: np.ndarray | None = None  # (M, N) the test images' codes
        self._updates = 0
        self._build_header()
        self._build_plots()
        self._build_chosen_code()
        self._lay_out()
        shown.model_changed.connect(self._model_changed)
        shown.explorer.events.encoded.connect(self._codes_changed)
        self._model_changed()

    def _build_header(self) -> None:
        """The message for models without a codebook, the summary and the reset button."""
        self.message = QLabel(
            "The codebook belongs to VQ-VAE models: choose the vqvae family to see it."
        )
        self.message.setWordWrap(True)
        self.content = QWidget()
        self.summary = QLabel()
        self.summary.setObjectName("codebookSummary")
        self.reset_button = QPushButton("Reset dead codes")
        self.reset_button.setObjectName("resetDeadCodesButton")
        self.reset_button.setAccessibleName("Move unused codes onto encoder outputs")
        self.reset_button.setToolTip(
            "Move every code the test set never chooses onto a random encoder output"
        )
        self.reset_button.clicked.connect(self.reset_dead_codes)

    def _build_plots(self) -> None:
        """Code usage, perplexity over the steps, and the code vectors' projection."""
        self.usage_plot = _plot("codebookUsagePlot", "Code usage", "code", "% of choices")
        self.usage_bars = pg.BarGraphItem(x=[], height=[], width=0.8)
        self.usage_plot.addItem(self.usage_bars)
        self.perplexity_plot = _plot(
            "codebookPerplexityPlot", "Codebook perplexity", "step", "perplexity"
        )
        self.perplexity_curve = self.perplexity_plot.plot(
            pen=pg.mkPen(80, 170, 255, width=2),
            symbol="o",
            symbolSize=4,
            symbolBrush=(80, 170, 255),
            name="perplexity",
        )
        self.projection_plot = _plot("codebookProjectionPlot", "Code vectors", "PC1", "PC2")
        self.vectors = pg.ScatterPlotItem(size=3, pen=None, brush=pg.mkBrush(160, 160, 160, 60))
        self.codes_scatter = pg.ScatterPlotItem(hoverable=True, tip=None)
        self.codes_scatter.sigClicked.connect(self._code_clicked)
        self.projection_plot.addItem(self.vectors)
        self.projection_plot.addItem(self.codes_scatter)

    def _build_chosen_code(self) -> None:
        """The clicked code: its decoded image and the test images that use it most."""
        self.code_view = ImageTile("codeView", minimum=64)
        self.code_view.setToolTip("The image decoded with this code at every position")
        self.code_view.set_placeholder("Click a code")
        self.examples_view = ImageGrid("codeExamplesView", minimum=40)
        self.examples_view.setToolTip("Test images that use this code most")
        self.code_label = QLabel()

    def _lay_out(self) -> None:
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.reset_button)
        plots = QHBoxLayout()
        for plot in (self.usage_plot, self.perplexity_plot, self.projection_plot):
            plots.addWidget(plot, 1)
        chosen = QGridLayout()
        chosen.addWidget(self.code_label, 0, 0, 1, 2)
        chosen.addWidget(self.code_view, 1, 0)
        chosen.addWidget(self.examples_view, 1, 1)
        chosen.setColumnStretch(1, 4)
        content_layout = QVBoxLayout(self.content)
        content_layout.setContentsMargins(0, 0, 0, 0)
        content_layout.addLayout(top)
        content_layout.addLayout(plots, 3)
        content_layout.addLayout(chosen, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.message)
        layout.addWidget(self.content, 1)

    def _applies(self) -> bool:
        model = self.decoder.model
        return model is not None and model.quantized

    def _model_changed(self) -> None:
        self.history.clear()
        self._updates = 0
        self.counts = self._indices = None
        self.chosen = None
        self.message.setVisible(not self._applies())
        self.content.setVisible(self._applies())
        self.request_refresh()

    def _codes_changed(self) -> None:
        """The test set was encoded afresh: count the codes it chooses (also while hidden)."""
        encoded = self.shown.explorer.encoded
        if not self._applies() or encoded is None:
            return
        model = self.decoder.model
        self._indices = model.code_indices(encoded.codes)
        counts = np.bincount(self._indices.ravel(), minlength=model.quantizer.codebook_size)
        self.counts = counts.astype(np.float64)
        self._updates += 1
        self.history.append(
            (float(self.shown.step if self._training() else self._updates), self.perplexity())
        )
        self.request_refresh()

    def _training(self) -> bool:
        """Whether the codes follow a run's steps (else: the updates of an opened model)."""
        return self.shown.model is not None and self.shown.model.source == "run"

    def perplexity(self) -> float:
        return float(perplexity(torch.as_tensor(self.counts)))

    def dead_codes(self) -> np.ndarray:
        return (
            np.flatnonzero(self.counts == 0)
            if self.counts is not None
            else np.zeros(0, dtype=np.int64)
        )

    def refresh(self) -> None:
        if not self._applies() or self.counts is None:
            self.usage_bars.setOpts(x=[], height=[])
            self.perplexity_curve.setData([], [])
            self.codes_scatter.clear()
            self.vectors.clear()
            self.summary.setText("")
            return
        model = self.decoder.model
        size = len(self.counts)
        share = self.counts / max(self.counts.sum(), 1)
        dead = self.counts == 0
        self.usage_bars.setOpts(
            x=np.arange(size), height=100 * share, brushes=[_DEAD if d else _LIVE for d in dead]
        )
        steps, values = zip(*self.history)
        self.perplexity_curve.setData(np.array(steps), np.array(values))
        x_name = "step" if self._training() else "update"
        self.perplexity_plot.getPlotItem().setLabel("bottom", x_name)
        codebook = model.codebook()
        plane = LatentPlane.principal(codebook)
        self.projection_plot.getPlotItem().setLabel("bottom", plane.axis_names[0])
        self.projection_plot.getPlotItem().setLabel("left", plane.axis_names[1])
        points = plane.project(codebook)
        sizes = 5 + 15 * np.sqrt(share / max(share.max(), 1e-12))
        pens = [
            _CHOSEN_PEN if index == self.chosen else pg.mkPen(0, 0, 0, 150) for index in range(size)
        ]
        self.codes_scatter.setData(
            x=points[:, 0],
            y=points[:, 1],
            data=np.arange(size),
            size=sizes,
            pen=pens,
            brush=[_DEAD if d else _LIVE for d in dead],
        )
        vectors = self.shown.explorer.encoded.codes.reshape(-1, model.code_dim)[:SHOWN_VECTORS]
        shown = plane.project(vectors)
        self.vectors.setData(x=shown[:, 0], y=shown[:, 1])
        self.summary.setText(
            f"{size - int(dead.sum())} of {size} codes chosen by the test set, perplexity {self.perplexity():.1f} "
            f"(at most {size}); {model.positions} codes per image"
        )
        self.reset_button.setEnabled(bool(dead.any()))
        if self.chosen is not None:
            self.choose_code(self.chosen)

    def _code_clicked(self, _item, points, _event) -> None:
        if len(points):
            self.choose_code(int(points[0].data()))
            self.request_refresh()

    def choose_code(self, index: int) -> None:
        """Show what code `index` decodes to (at every position) and the test images using it most."""
        model = self.decoder.model
        self.chosen = index
        self.code_view.set_image(model.decode_indices(np.full((1, model.positions), index))[0])
        uses = (self._indices == index).sum(1) if self._indices is not None else np.zeros(0)
        users = np.argsort(-uses, kind="stable")[:EXAMPLES]
        users = users[uses[users] > 0]
        examples = self.shown.explorer.examples
        self.examples_view.set_images(
            dataset_images(examples, users) if len(users) else None, EXAMPLES
        )
        self.code_label.setText(
            f"code {index}: chosen {int(self.counts[index]) if self.counts is not None else 0} times; "
            f"{len(users)} example images shown"
        )

    def reset_dead_codes(self) -> None:
        """Ask for the dead codes to be moved onto encoder outputs (the explorer's copy, and the
        training model while a run trains)."""
        dead = self.dead_codes()
        if self._applies() and len(dead):
            self.resetRequested.emit([int(index) for index in dead])
