"""Draw your own input: a mouse canvas encoded live onto the map, with its reconstruction."""

from __future__ import annotations

import numpy as np
import torch
from PySide6.QtCore import QPointF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFontDatabase, QImage, QPainter, QPen
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.explorer.decode_service import DecodeService
from app.explorer.image_widgets import ImageTile
from app.explorer.lazy_page import LazyPage
from app.explorer.side_panel import format_encoding
from app.state import ShownModel

# The canvas keeps this many screen pixels per image pixel; strokes are averaged down.
CANVAS_SCALE = 8
# Pen width in image pixels: about an MNIST stroke.
PEN_WIDTH = 2.2


class DrawCanvas(QWidget):
    """White strokes on black at CANVAS_SCALE times the model's resolution."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("drawCanvas")
        self.setAccessibleName("Drawing canvas")
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self._last: QPointF | None = None
        self.set_image_size(28, 28)

    def set_image_size(self, height: int, width: int) -> None:
        self._image_size = (height, width)
        self._canvas = QImage(
            width * CANVAS_SCALE, height * CANVAS_SCALE, QImage.Format.Format_Grayscale8
        )
        self.setFixedSize(self._canvas.size())
        self.clear()

    def sizeHint(self) -> QSize:
        return self._canvas.size()

    def clear(self) -> None:
        self._canvas.fill(QColor(0, 0, 0))
        self._strokes = 0
        self.update()
        self.changed.emit()

    @property
    def image_size(self) -> tuple[int, int]:
        return self._image_size

    @property
    def is_empty(self) -> bool:
        return self._strokes == 0

    def draw_line(self, start: QPointF, end: QPointF) -> None:
        """A stroke between two points in canvas pixels."""
        painter = QPainter(self._canvas)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = QPen(QColor(255, 255, 255), PEN_WIDTH * CANVAS_SCALE)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        painter.setPen(pen)
        painter.drawLine(start, end)
        painter.end()
        self._strokes += 1
        self.update()
        self.changed.emit()

    def pixels(self) -> np.ndarray:
        """The drawing at the model's resolution: floats in [0, 1], (H, W), by area averaging."""
        height, width = self._image_size
        data = np.array(self._canvas.constBits(), dtype=np.uint8).reshape(
            -1, self._canvas.bytesPerLine()
        )
        data = data[:, : width * CANVAS_SCALE].astype(np.float64) / 255.0
        return data.reshape(height, CANVAS_SCALE, width, CANVAS_SCALE).mean(axis=(1, 3))

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.drawImage(0, 0, self._canvas)
        painter.setPen(QPen(QColor(90, 90, 90), 1))
        painter.drawRect(self.rect().adjusted(0, 0, -1, -1))

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._last = event.position()
            self.draw_line(self._last, self._last)

    def mouseMoveEvent(self, event) -> None:
        if self._last is not None:
            position = event.position()
            self.draw_line(self._last, position)
            self._last = position

    def mouseReleaseEvent(self, event) -> None:
        self._last = None


class DrawPage(LazyPage):
    def __init__(self, shown: ShownModel, decoder: DecodeService, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("drawPage")
        self.setAccessibleName("Draw")
        self.shown = shown
        self.decoder = decoder
        self.posterior: tuple[np.ndarray, np.ndarray] | None = None
        self.canvas = DrawCanvas()
        self.reconstruction_view = ImageTile("drawnReconstructionView", minimum=96)
        self.reconstruction_view.setFixedSize(self.canvas.size())
        self.numbers = QLabel()
        self.numbers.setObjectName("drawnPosteriorLabel")
        self.numbers.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.clear_button = QPushButton("Clear")
        self.clear_button.setObjectName("clearDrawingButton")
        self.clear_button.setAccessibleName("Clear the drawing")
        self.clear_button.clicked.connect(self.canvas.clear)
        self.hint = QLabel(
            "Draw with the mouse: the drawing is encoded live and shown on the map in cyan."
        )
        self.hint.setWordWrap(True)

        grid = QGridLayout()
        grid.addWidget(QLabel("your input"), 0, 0)
        grid.addWidget(QLabel("reconstruction"), 0, 1)
        grid.addWidget(self.canvas, 1, 0)
        grid.addWidget(self.reconstruction_view, 1, 1)
        grid.addWidget(self.numbers, 0, 2, 2, 1)
        grid.setColumnStretch(3, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.clear_button)
        buttons.addWidget(self.hint, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addLayout(grid)
        layout.addStretch(1)

        self.canvas.changed.connect(self.encode_drawing)
        shown.model_changed.connect(self._model_changed)
        shown.explorer.events.decoded_generation.connect(self.encode_drawing)
        shown.explorer.events.label.connect(self.encode_drawing)

    def _model_changed(self) -> None:
        model = self.decoder.model
        if model is not None and model.image_shape:
            _, height, width = model.image_shape
            if (height, width) != self.canvas.image_size:
                self.canvas.set_image_size(height, width)
                self.reconstruction_view.setFixedSize(self.canvas.size())
        self.encode_drawing()

    def refresh(self) -> None:
        self.encode_drawing()

    def drawing(self) -> torch.Tensor:
        """The drawing as a model input (1, C, H, W)."""
        channels = self.decoder.model.image_shape[0]
        pixels = torch.as_tensor(self.canvas.pixels(), dtype=torch.float32)
        return pixels.expand(1, channels, *pixels.shape).contiguous()

    def encode_drawing(self) -> None:
        model, explorer = self.decoder.model, self.shown.explorer
        if model is None or self.canvas.is_empty:
            self.posterior = None
            self.reconstruction_view.set_image(None)
            self.numbers.setText("")
            explorer.drawn = None
            return
        images = self.drawing()
        label = torch.tensor([explorer.label])
        mean, std = model.posterior(images, label)
        kl = model.kl_of(images, label)
        self.posterior = (mean[0], std[0])
        self.reconstruction_view.set_image(model.decode(mean, explorer.label)[0])
        self.numbers.setText(format_encoding(model, mean[0], std[0], None if kl is None else kl[0]))
        explorer.drawn = self.posterior
