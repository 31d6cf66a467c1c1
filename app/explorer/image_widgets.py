"""Widgets that show uint8 images from numpy: one image, or a grid of them with a highlight."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from vae_core.latent import mosaic

_FORMATS = {2: QImage.Format.Format_Grayscale8, 3: QImage.Format.Format_RGB888}


def to_qimage(image: np.ndarray) -> QImage:
    """A uint8 image (H, W) or (H, W, 3) as a QImage that owns its pixels."""
    image = np.ascontiguousarray(image)
    height, width = image.shape[:2]
    return QImage(image.data, width, height, image.strides[0], _FORMATS[image.ndim]).copy()


class ImageTile(QWidget):
    """Paints one image scaled to fit, pixels kept sharp. `image()` is what is on screen."""

    def __init__(self, name: str = "", minimum: int = 48, parent: QWidget | None = None):
        super().__init__(parent)
        if name:
            self.setObjectName(name)
            self.setAccessibleName(name)
        self._image: np.ndarray | None = None
        self._qimage: QImage | None = None
        self._placeholder = ""
        self.setMinimumSize(minimum, minimum)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(160, 160)

    def image(self) -> np.ndarray | None:
        return self._image

    def set_image(self, image: np.ndarray | None) -> None:
        self._image = image
        self._qimage = None if image is None else to_qimage(image)
        self.update()

    def set_placeholder(self, text: str) -> None:
        """What the tile says while it has no image."""
        self._placeholder = text
        self.update()

    def image_rect(self) -> QRectF:
        """Where the image is drawn: as large as fits, centred, its aspect kept."""
        if self._qimage is None:
            return QRectF()
        width, height = self._qimage.width(), self._qimage.height()
        scale = min(self.width() / width, self.height() / height)
        drawn_w, drawn_h = width * scale, height * scale
        return QRectF((self.width() - drawn_w) / 2, (self.height() - drawn_h) / 2, drawn_w, drawn_h)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().window())
        if self._qimage is None:
            if self._placeholder:
                painter.setPen(self.palette().placeholderText().color())
                flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
                painter.drawText(self.rect(), flags, self._placeholder)
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.drawImage(self.image_rect(), self._qimage)
        self.paint_overlay(painter)

    def paint_overlay(self, painter: QPainter) -> None:
        """Drawn over the image; subclasses mark things here."""


class ImageGrid(ImageTile):
    """Images in a grid, a gap between them; a click reports the cell, `highlight` frames one."""

    cellClicked = Signal(int)
    GAP = 2

    def __init__(self, name: str = "", minimum: int = 48, parent: QWidget | None = None):
        super().__init__(name, minimum, parent)
        self._shape = (0, 0)
        self._cell = (0, 0)
        self._count = 0
        self._highlight: int | None = None

    def set_images(self, images: np.ndarray | None, columns: int) -> None:
        """Images (N, H, W[, C]) filled row by row into `columns` columns."""
        if images is None or len(images) == 0:
            self._count = 0
            self.set_image(None)
            return
        count = len(images)
        rows = -(-count // columns)
        padding = rows * columns - count
        if padding:
            images = np.concatenate([images, np.zeros((padding, *images.shape[1:]), images.dtype)])
        self._shape, self._cell, self._count = (rows, columns), images.shape[1:3], count
        self.set_image(mosaic(images, rows, columns, gap=self.GAP, fill=96))

    def cell_image(self, index: int) -> np.ndarray:
        """The image in one cell, cut back out of the mosaic on screen."""
        row, column = divmod(index, self._shape[1])
        height, width = self._cell
        top, left = row * (height + self.GAP), column * (width + self.GAP)
        return self.image()[top : top + height, left : left + width]

    def highlight(self, index: int | None) -> None:
        self._highlight = index
        self.update()

    def _cell_rect(self, index: int) -> QRectF:
        area = self.image_rect()
        scale = area.width() / self._qimage.width()
        row, column = divmod(index, self._shape[1])
        height, width = self._cell
        return QRectF(
            area.left() + column * (width + self.GAP) * scale,
            area.top() + row * (height + self.GAP) * scale,
            width * scale,
            height * scale,
        )

    def paint_overlay(self, painter: QPainter) -> None:
        if self._highlight is None or not 0 <= self._highlight < self._count:
            return
        painter.setPen(QPen(QColor(255, 170, 0), 2))
        painter.drawRect(self._cell_rect(self._highlight).adjusted(-1, -1, 1, 1))

    def mousePressEvent(self, event) -> None:
        if self._qimage is None:
            return
        for index in range(self._count):
            if self._cell_rect(index).contains(event.position()):
                self.cellClicked.emit(index)
                return
