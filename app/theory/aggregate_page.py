"""The "Aggregate posterior" page: KL(q(z) || p(z)) with its standard error, how many prior samples
land in holes of q(z), and what those samples decode to beside samples that land where the data's
codes are. A view only: the aggregate controller computes and hands it the answers."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.explorer.image_widgets import ImageGrid
from app.naming import named

GRID_COLUMNS = 8
EMPTY_CELL = 96  # the grey of ImageGrid's gaps

EXPLANATION = (
    "q(z) = (1/N) Σₙ q(z|xₙ) is where the encoder puts the data's codes; p(z) is where generation draws "
    "them. A prior sample z is in a <i>hole</i> where q(z)/p(z) &lt; {ratio:g}: the prior asks the decoder "
    "about z ten times more often than training ever showed it a code there."
)


class AggregatePosteriorPage(QWidget):
    """Shows what `show_answer` gives it; says when it is on screen (`visibilityChanged`), since it
    is computed only then."""

    visibilityChanged = Signal(bool)

    def __init__(self, hole_ratio: float, parent: QWidget | None = None):
        super().__init__(parent)
        named(self, "aggregatePosteriorPage", "Aggregate posterior")
        layout = QHBoxLayout(self)
        text = QVBoxLayout()
        self.readout = named(
            QLabel("Tick a box or wait: computed while this page is on screen"),
            "aggregateReadout",
            "Aggregate posterior figures",
        )
        self.readout.setWordWrap(True)
        explanation = QLabel(EXPLANATION.format(ratio=hole_ratio))
        explanation.setWordWrap(True)
        for label in (self.readout, explanation):
            label.setFixedWidth(300)
            text.addWidget(label)
        text.addStretch(1)
        layout.addLayout(text)
        grids = QGridLayout()
        self.holes_title = QLabel("Prior samples in holes")
        self.covered_title = QLabel("Prior samples inside q(z)")
        self.hole_images = ImageGrid("holeSamplesView", minimum=96)
        self.covered_images = ImageGrid("coveredSamplesView", minimum=96)
        grids.addWidget(self.holes_title, 0, 0)
        grids.addWidget(self.covered_title, 0, 1)
        grids.addWidget(self.hole_images, 1, 0)
        grids.addWidget(self.covered_images, 1, 1)
        grids.setColumnStretch(0, 2)
        grids.setColumnStretch(1, 1)
        grids.setRowStretch(1, 1)
        layout.addLayout(grids, 1)

    def show_answer(
        self,
        kl: tuple[float, float],
        holes: int,
        prior_samples: int,
        examples: int,
        hole_images: np.ndarray | None,
        covered_images: np.ndarray | None,
    ) -> None:
        value, error = kl
        share = holes / prior_samples
        self.readout.setText(
            f"<b>KL(q(z) || p(z)) = {value:.3f} ± {error:.3f} nats</b><br>(Monte Carlo, ± one standard error; "
            f"q(z) of {examples:,} test examples)<br><br>"
            f"<b>{holes:,} of {prior_samples:,} prior samples ({share:.1%}) in holes</b>"
        )
        shown = 0 if hole_images is None else len(hole_images)
        self.holes_title.setText(
            f"Prior samples in holes (the {shown} deepest)" if shown else "Prior samples in holes"
        )
        placeholder = (
            "2-D points decode to points, not images"
            if hole_images is None
            else "No prior sample in a hole"
        )
        self.hole_images.set_placeholder(placeholder)
        self.hole_images.set_images(_padded(hole_images, GRID_COLUMNS), GRID_COLUMNS)
        self.covered_images.set_placeholder(
            "2-D points decode to points, not images" if covered_images is None else ""
        )
        self.covered_images.set_images(covered_images, GRID_COLUMNS // 2)

    def show_unavailable(self, reason: str) -> None:
        self.readout.setText(reason)
        self.hole_images.set_images(None, GRID_COLUMNS)
        self.covered_images.set_images(None, GRID_COLUMNS)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.visibilityChanged.emit(True)

    def hideEvent(self, event) -> None:
        super().hideEvent(event)
        self.visibilityChanged.emit(False)


def _padded(images: np.ndarray | None, columns: int) -> np.ndarray | None:
    """At least a row of `columns` cells, the empty ones in the grid's gap colour, so that a few
    images keep the size of many."""
    if images is None or len(images) == 0 or len(images) >= columns:
        return images
    blank = np.full((columns - len(images), *images.shape[1:]), EMPTY_CELL, images.dtype)
    return np.concatenate([images, blank])
