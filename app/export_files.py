"""Figures written to files on a worker: each is written beside its target and renamed over it,
and a failure is one line naming the file (no Qt widget here; QImage encodes the PNGs)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtGui import QImage

from app.explorer.image_widgets import to_qimage
from app.svg_strokes import with_page_strokes
from vae_core.errors import VaeStudioError
from vae_core.files import write_atomically


def write_png(image: QImage | np.ndarray, path: Path) -> str:
    """Encode `image` (a QImage, or uint8 pixels) as PNG and put it at `path`; the path written."""
    if isinstance(image, np.ndarray):
        image = to_qimage(image)

    def save(temporary: str) -> None:
        if not image.save(temporary, "PNG"):
            raise OSError("the PNG could not be encoded")

    return _write(path, save)


def write_bytes(data: bytes, path: Path) -> str:
    return _write(path, lambda temporary: Path(temporary).write_bytes(data))


def write_svg(svg: bytes, path: Path) -> str:
    """Qt's SVG with its cosmetic strokes in page units, so that every renderer draws them as the
    screen does (app.svg_strokes), put at `path`."""
    return write_bytes(with_page_strokes(svg), path)


def _write(path: Path, save: Callable[[str], None]) -> str:
    try:
        write_atomically(path, save)
    except OSError as error:
        raise VaeStudioError(f"cannot write {path}: {error.strerror or error}") from None
    return str(path)
