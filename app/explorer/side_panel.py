"""Beside the map: the image at the cursor, the selected input with its reconstruction and
posterior, and samples from the prior."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.explorer.image_widgets import ImageGrid, ImageTile

# Latent dimensions listed one per line in the posterior numbers; the rest are summarised.
_LISTED_DIMENSIONS = 8


def format_code(code: np.ndarray, limit: int = _LISTED_DIMENSIONS) -> str:
    shown = ", ".join(f"{value:+.2f}" for value in code[:limit])
    return f"({shown}{', ...' if len(code) > limit else ''})"


def format_posterior(mean: np.ndarray, std: np.ndarray, kl_per_dim: np.ndarray | None) -> str:
    """One line per latent dimension: mean, standard deviation and, where known, its KL."""
    lines = ["dim     mean     std" + ("      KL" if kl_per_dim is not None else "")]
    for dim in range(min(len(mean), _LISTED_DIMENSIONS)):
        line = f"z{dim:<3} {mean[dim]:+7.3f} {std[dim]:7.3f}"
        if kl_per_dim is not None:
            line += f" {kl_per_dim[dim]:7.3f}"
        lines.append(line)
    if len(mean) > _LISTED_DIMENSIONS:
        lines.append(f"... {len(mean) - _LISTED_DIMENSIONS} more dimensions")
    if kl_per_dim is not None:
        lines.append(f"KL(q(z|x) || p(z)) = {float(np.sum(kl_per_dim)):.3f} nats")
    return "\n".join(lines)


def format_code_indices(indices: np.ndarray) -> str:
    """A VQ-VAE image's codebook indices, laid out as a square grid where N is a square number."""
    side = int(round(math.sqrt(len(indices))))
    columns = side if side * side == len(indices) else min(len(indices), 8)
    rows = [
        " ".join(f"{index:3d}" for index in indices[start : start + columns])
        for start in range(0, len(indices), columns)
    ]
    return "\n".join([f"codebook indices at the {len(indices)} positions:", *rows])


def format_encoding(model, mean: np.ndarray, std: np.ndarray, kl_per_dim: np.ndarray | None) -> str:
    """What the encoder says about one image: q(z|x) per dimension, or a VQ-VAE's chosen codes."""
    if model.quantized:
        return format_code_indices(model.code_indices(mean[None])[0])
    return format_posterior(mean, std, kl_per_dim)


class SidePanel(QWidget):
    """`decodedView` on top; the selected input, its reconstruction and q(z|x); prior samples."""

    resampleRequested = Signal()
    # Two rows of eight: the box is wide and short, and four rows drew 16-pixel tiles in it.
    SAMPLE_COLUMNS = 8

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("explorerSidePanel")
        self.setAccessibleName("Explorer side panel")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)

        cursor_box = QGroupBox("Decoded at the cursor")
        cursor_layout = QVBoxLayout(cursor_box)
        self.decoded_view = ImageTile("decodedView", minimum=96)
        self.decoded_view.setToolTip("The decoder's mean image at the cursor's latent code")
        self.cursor_label = QLabel()
        self.cursor_label.setObjectName("cursorCodeLabel")
        self.cursor_label.setWordWrap(True)
        self.class_row = ImageGrid("classRow", minimum=24)
        self.class_row.setToolTip("The cursor's code decoded with every class as the condition")
        self.class_row.setMaximumHeight(60)
        cursor_layout.addWidget(self.decoded_view, 1)
        cursor_layout.addWidget(self.cursor_label)
        cursor_layout.addWidget(self.class_row)
        layout.addWidget(cursor_box, 3)

        selected_box = QGroupBox("Selected input")
        selected_layout = QGridLayout(selected_box)
        self.input_view = ImageTile("selectedInputView", minimum=56)
        self.reconstruction_view = ImageTile("reconstructionView", minimum=56)
        self.input_view.set_placeholder("Click a point on the map")
        selected_layout.addWidget(QLabel("input"), 0, 0)
        selected_layout.addWidget(QLabel("reconstruction"), 0, 1)
        selected_layout.addWidget(self.input_view, 1, 0)
        selected_layout.addWidget(self.reconstruction_view, 1, 1)
        self.posterior_label = QLabel()
        self.posterior_label.setObjectName("posteriorLabel")
        self.posterior_label.setAccessibleName("Posterior of the selected input")
        self.posterior_label.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.posterior_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        numbers = QScrollArea()
        numbers.setWidget(self.posterior_label)
        numbers.setWidgetResizable(True)
        numbers.setFrameShape(QFrame.Shape.NoFrame)
        numbers.setMinimumHeight(90)
        selected_layout.addWidget(numbers, 2, 0, 1, 2)
        selected_layout.setRowStretch(2, 1)
        layout.addWidget(selected_box, 2)

        samples_box = QGroupBox("Samples from the prior")
        samples_layout = QVBoxLayout(samples_box)
        self.samples_view = ImageGrid("samplesView", minimum=64)
        self.resample_button = QPushButton("New samples")
        self.resample_button.setObjectName("resampleButton")
        self.resample_button.setAccessibleName("Draw new samples from the prior")
        self.resample_button.clicked.connect(self.resampleRequested)
        samples_layout.addWidget(self.samples_view, 1)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.resample_button)
        samples_layout.addLayout(buttons)
        layout.addWidget(samples_box, 2)
        self.show_class_row(None)
        self.show_selection(None)

    def show_no_model(self) -> None:
        self.show_cursor(None, None)
        self.show_class_row(None)
        self.show_samples(None)
        self.show_selection(None)
        self.decoded_view.set_placeholder("No model yet: start training or open a checkpoint")

    def show_cursor(
        self, image: np.ndarray | None, code: np.ndarray | None, paint_now: bool = False
    ) -> None:
        self.decoded_view.set_image(image)
        if paint_now:
            self.decoded_view.repaint()
        self.cursor_label.setText("" if code is None else f"z = {format_code(code)}")

    def show_class_row(self, images: np.ndarray | None) -> None:
        self.class_row.setVisible(images is not None)
        self.class_row.set_images(images, columns=1 if images is None else len(images))

    def show_selection(
        self, image: np.ndarray | None, reconstruction: np.ndarray | None = None, text: str = ""
    ) -> None:
        self.input_view.set_image(image)
        self.reconstruction_view.set_image(reconstruction)
        self.posterior_label.setText(text)

    def show_samples(self, images: np.ndarray | None) -> None:
        self.samples_view.set_images(images, self.SAMPLE_COLUMNS)
        self.resample_button.setEnabled(images is not None)
