"""Figures to files: the latent map and the plots as PNG at a chosen resolution or as SVG (with lines
as wide in librsvg, ImageMagick and LibreOffice as on the screen: app.svg_strokes), the plots
on a light background for slides, and the interpolation and traversal grids as PNG at the decoder's
own resolution.

Figures are painted on the GUI thread (Qt's scene must be); encoding and writing run on a worker
(asked of the window's `ModelJobs`, each file in turn), since a 4x PNG of the map takes most of a
second to encode. Each file is written beside its target
and renamed over it, and a failure is one line naming the file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from functools import partial
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from pyqtgraph.exporters import ImageExporter
from pyqtgraph.exporters.Exporter import Exporter
from PySide6.QtCore import QBuffer, QIODevice, QObject, QRectF, QSize, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QGraphicsItem, QMenu, QWidget

from app.controllers.job_kinds import FILE_WRITE, Call
from app.controllers.model_jobs import Answer, ModelJobs
from app.export_files import write_png, write_svg
from app.state import ShownModel
from vae_core.errors import VaeStudioError
from vae_core.latent import mosaic

PNG_SCALES = (1, 2, 4)
SVG = "svg"
SLIDE_BACKGROUND = QColor("white")
SLIDE_TEXT = QColor("#202020")
SLIDE_AXES = QColor("#505050")
SLIDE_LINE_WIDTH = 2.0
# Pens lighter than this (the grey β curve) vanish on white: drawn darker for slides.
_LIGHTEST_PEN_ON_WHITE = 0.7


# Painting.
def figure_png(item: pg.GraphicsObject, scale: float, background: QColor) -> QImage:
    """`item` (a PlotItem) and whatever its area of the scene shows, `scale` times its size on screen."""
    exporter = ImageExporter(item)
    exporter.parameters()["background"] = background
    exporter.parameters()["width"] = max(1, round(item.sceneBoundingRect().width() * scale))
    # Legends keep their size in pixels whatever the view's scale; in a 2x image that would make
    # them half as large as everything else.
    ignores_scale = QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations
    legends = [
        each
        for each in item.scene().items()
        if isinstance(each, pg.LegendItem) and each.flags() & ignores_scale
    ]
    for legend in legends:
        legend.setFlag(ignores_scale, False)
    try:
        return exporter.export(toBytes=True)
    finally:
        for legend in legends:
            legend.setFlag(ignores_scale, True)


class _SvgPainter(Exporter):
    """Paints an item's area of the scene into Qt's SVG generator. pyqtgraph's SVGExporter rewrites
    the path data Qt writes and fails on Qt 6.11's; this keeps Qt's. Items paint in export mode, so
    scatter symbols become vector paths instead of copies of a cached pixmap."""

    def parameters(self):
        return None

    def export(self, fileName=None, toBytes=False, copy=False):
        raise NotImplementedError("use svg()")

    def svg(self, background: QColor, title: str) -> bytes:
        source = self.item.sceneBoundingRect()
        target = QRectF(0, 0, source.width(), source.height())
        buffer = QBuffer()
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        generator = QSvgGenerator()
        generator.setOutputDevice(buffer)
        generator.setSize(QSize(round(source.width()), round(source.height())))
        generator.setViewBox(target)
        generator.setTitle(title)
        # Fonts are sized in points: at the generator's default 72 dpi they would come out a
        # quarter smaller than on the screen the figure was laid out for.
        generator.setResolution(self.item.getViewWidget().logicalDpiX())
        painter = QPainter(generator)
        try:
            painter.fillRect(target, background)
            self.setExportMode(
                True, {"antialias": True, "background": background, "painter": painter}
            )
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            self.getScene().render(painter, target, source)
        finally:
            self.setExportMode(False)
            painter.end()
        return bytes(buffer.data())


def figure_svg(item: pg.GraphicsObject, background: QColor, title: str) -> bytes:
    return _SvgPainter(item).svg(background, title)


@contextmanager
def light_theme(scene) -> Iterator[None]:
    """The scene drawn for a white page while the block runs: dark axes, text and legend labels, a
    light legend box, pale pens darkened. Everything is put back afterwards; nothing is repainted
    on screen in between, since the block runs without returning to the event loop."""
    undo: list[Callable[[], None]] = []
    for item in scene.items():
        if isinstance(item, pg.AxisItem):
            undo.append(partial(_restore_axis, item, item.pen(), item.textPen()))
            item.setPen(SLIDE_AXES)
            item.setTextPen(SLIDE_TEXT)
        elif isinstance(item, pg.LegendItem):
            colours = [label.opts.get("color") for _, label in item.items]
            undo.append(partial(_restore_legend, item, item.brush(), item.pen(), colours))
            item.setBrush(255, 255, 255, 230)
            item.setPen(SLIDE_AXES)
            for _, label in item.items:
                label.setText(label.text, color=SLIDE_TEXT)
        elif isinstance(item, pg.TextItem):
            undo.append(partial(item.setColor, QColor(item.color)))
            item.setColor(SLIDE_TEXT)
        elif isinstance(item, pg.PlotDataItem) and item.opts["pen"] is not None:
            on_screen = pg.mkPen(item.opts["pen"])
            undo.append(partial(item.setPen, on_screen))
            item.setPen(_slide_pen(on_screen))
    try:
        yield
    finally:
        for step in reversed(undo):
            step()


def _slide_pen(on_screen: QPen) -> QPen:
    """Wider, for a projector; a pale colour darkened so that it shows on white."""
    pen = QPen(on_screen)
    if pen.color().lightnessF() > _LIGHTEST_PEN_ON_WHITE:
        pen.setColor(pen.color().darker(250))
    pen.setWidthF(max(pen.widthF(), SLIDE_LINE_WIDTH))
    return pen


def _restore_axis(axis: pg.AxisItem, pen, text_pen) -> None:
    axis.setPen(pen)
    axis.setTextPen(text_pen)


def _restore_legend(legend: pg.LegendItem, brush, pen, colours) -> None:
    legend.setBrush(brush)
    legend.setPen(pen)
    for (_, label), colour in zip(legend.items, colours):
        label.setText(label.text, color=colour)


def grid_image(images: np.ndarray) -> np.ndarray:
    """Decoded images (rows, columns, H, W[, C]) side by side without gaps: (rows*H, columns*W[, C])."""
    rows, columns = images.shape[:2]
    return mosaic(images.reshape(rows * columns, *images.shape[2:]), rows, columns)


def chosen_format(path: str, scale: float | None) -> tuple[Path, float | None]:
    """The file to write and its scale (None: SVG), from what the file dialog gave: a name ending
    in .png or .svg decides the format; a name without either takes the chosen filter's."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix == ".svg":
        return target, None
    if suffix == ".png":
        return target, scale or 1
    return target.with_name(target.name + (".svg" if scale is None else ".png")), scale


class FigureExports(QObject):
    """File > Export Figure: the figures of the window, each to a file the user picks."""

    exported = Signal(str)  # the path, once the file is complete

    def __init__(
        self,
        plots: dict[str, tuple[pg.PlotWidget, bool]],
        grid_pages: dict[str, QWidget],
        shown: ShownModel,
        jobs: ModelJobs,
        ask_file: Callable[..., tuple[str, str] | None],
        say: Callable[[str], None],
        show_error: Callable[[str], None],
        parent: QWidget,
    ):
        """`plots`: per figure its plot widget, and whether it goes on a light background;
        `grid_pages`: the interpolation and traversal pages; `say`: a line for the status bar."""
        super().__init__(parent)
        self.plots = plots
        self.shown = shown
        self.ask_file = ask_file
        self.say = say
        self.show_error = show_error
        self._files = jobs.line(FILE_WRITE, self, self._written, self._failed)
        self.menu = QMenu("Export &Figure", parent)
        self.menu.setObjectName("exportFigureMenu")
        for text, slot in (
            ("&Latent Map…", partial(self._ask_figure, "latent_map", "Export the latent map", 1)),
            (
                "Loss &Curves for Slides…",
                partial(self._ask_figure, "loss_curves", "Export the loss curves", 2),
            ),
            (
                "&KL per Dimension for Slides…",
                partial(self._ask_figure, "kl_per_dimension", "Export the KL bars", 2),
            ),
            (
                "&Interpolation Grid…",
                partial(self._ask_grid, "interpolation_grid", grid_pages["interpolation_grid"]),
            ),
            (
                "&Traversal Grid…",
                partial(self._ask_grid, "traversal_grid", grid_pages["traversal_grid"]),
            ),
        ):
            self.menu.addAction(text, slot)

    # What the menu and tests call.
    def export_figure(self, name: str, path: str | Path, scale: float | None = 1) -> None:
        """Paint figure `name` and write it: PNG at `scale` times its size on screen, SVG when
        `scale` is None. The file is complete when `exported` says its path."""
        plot, light = self.plots[name]
        background = SLIDE_BACKGROUND if light else plot.backgroundBrush().color()
        item = plot.getPlotItem()
        with light_theme(item.scene()) if light else nullcontext():
            if scale is None:
                self._write(write_svg, figure_svg(item, background, name.replace("_", " ")), path)
            else:
                self._write(write_png, figure_png(item, scale, background), path)

    def export_grid(self, page, path: str | Path) -> None:
        """The interpolation's frames (one row) or the traversals (a row per dimension) as a PNG
        of the decoded images themselves, without gaps."""
        shown = self.shown.model
        if shown is None:
            self.show_error("there is no model yet: train one or open a checkpoint")
            return
        if shown.planar:
            self.show_error("2-D point data decode to points, not images: there is no image grid")
            return
        page.refresh()  # a page off screen may not have caught up with the model
        images = page.grid_images()
        if images is None:
            self.show_error(f"nothing to export: {page.grid_missing}")
            return
        self._write(write_png, grid_image(images), path)

    def _write(self, write: Callable, data, path: str | Path) -> None:
        self._files.ask(Call(write, (data, Path(path))))

    def _written(self, answer: Answer) -> None:
        path = answer.value
        self.say(f"Exported {path}")
        self.exported.emit(path)

    def _failed(self, error: Exception) -> None:
        self.show_error(
            str(error) if isinstance(error, VaeStudioError) else f"export failed: {error}"
        )

    # Asking for the file.
    def _ask_figure(self, name: str, title: str, default_scale: int) -> None:
        plot, _ = self.plots[name]
        width, height = plot.getPlotItem().sceneBoundingRect().size().toTuple()
        scales = (default_scale, *[scale for scale in PNG_SCALES if scale != default_scale])
        filters = {_png_filter(scale, width, height): scale for scale in scales}
        filters["SVG drawing, to scale freely (*.svg)"] = None
        chosen = self.ask_file(True, title, ";;".join(filters), f"{name}.png")
        if chosen is not None:
            path, scale = chosen_format(chosen[0], filters.get(chosen[1], default_scale))
            self.export_figure(name, path, scale)

    def _ask_grid(self, name: str, page) -> None:
        title = f"Export the {name.replace('_', ' ')}"
        chosen = self.ask_file(True, title, "PNG images (*.png)", f"{name}.png")
        if chosen is not None:
            self.export_grid(page, chosen_format(chosen[0], 1)[0])


def _png_filter(scale: int, width: float, height: float) -> str:
    """A file dialog filter that names the image's size: "PNG image, 2× 1600×1350 (*.png)"."""
    size = f"{round(width * scale)}×{round(height * scale)}"
    return f"PNG image, {'as on screen' if scale == 1 else f'{scale}×'} {size} (*.png)"
