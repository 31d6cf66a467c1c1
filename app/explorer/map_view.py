"""The latent map: decoded tiles, the encoded test set, prior contours, ellipses and the cursor.

A view only: it draws what the explorer gives it and reports what the user does with signals.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QVBoxLayout,
    QWidget,
)

from app.explorer.image_widgets import ImageTile
from app.explorer.map_controls import MapControls
from app.explorer.map_items import (
    Z_CURSOR,
    Z_ELLIPSES,
    Z_POINTS,
    Z_TILES,
    contour_curves,
    ellipse_pair,
    label_colours,
    path_curve,
)
from app.plot_fonts import set_plot_text_size
from app.state import (
    LayerTicks,
)

# The view a new model starts with, and Home's least extent where the map decodes: the prior's
# bulk, where the tiles are worth seeing. Home leaves a margin of this share around the points.
HOME_EXTENT = 3.5
_HOME_PADDING = 0.05
_NO_TILES_FOR_POINTS = "Points are decoded in the data space plot, not as tiles"
_NO_PRIOR_DENSITY = "This model family has no prior density over codes"


class LatentMapView(QWidget):
    """The `latentPlot` with its `latentCursor`, and a row of plane and layer controls above it."""

    cursorMoved = Signal(float, float)
    rangeChanged = Signal()
    pointClicked = Signal(int)  # index into the points given to set_points
    pointHovered = Signal(int)  # -1 when the pointer leaves the points
    planeRequested = Signal()  # the plane controls changed; read them with controls.plane_choice()
    classRequested = Signal(int)
    layersChanged = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("latentMap")
        self.setAccessibleName("Latent map")
        self._marks: dict[str, tuple[float, float] | None] = {}
        self.controls = controls = MapControls(self)
        # The controls by the names tests and lessons know them by.
        self.plane_combo, self.anchor_combo = controls.plane_combo, controls.anchor_combo
        self.x_dim_spin, self.y_dim_spin = controls.x_dim_spin, controls.y_dim_spin
        self.class_combo = controls.class_combo
        self.tiles_check, self.points_check = controls.tiles_check, controls.points_check
        self.prior_check = controls.prior_check
        controls.planeChosen.connect(self.planeRequested)
        controls.classChosen.connect(self.classRequested)
        controls.layersTicked.connect(self._apply_layers)
        self._build_plot()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(controls)
        self._plots_row = QHBoxLayout()
        self._plots_row.setSpacing(4)
        self._plots_row.addWidget(self.plot, 1)
        layout.addLayout(self._plots_row, 1)
        self._point_xy = np.zeros((0, 2))
        self._point_brushes: list = []
        # Which layers the data, the family and the plane allow (a t-SNE map decodes nothing).
        self._tiles_available = self._prior_available = self._plane_decodes = True
        self._no_decodes_reason = ""
        controls.set_latent_dim(2)
        controls.set_classes(())

    # Construction.
    def add_control_row(self, row: QWidget) -> None:
        """Another row of controls, under the others, just above the plots."""
        self.layout().insertWidget(self.layout().count() - 1, row)

    def add_beside(self, widget: QWidget) -> None:
        """A second plot to the right of the map, as wide as it (data space, for point data)."""
        self._plots_row.addWidget(widget, 1)

    def set_tiles_available(self, available: bool) -> None:
        """Decoded tiles need image data: for points the layer is off and its box disabled."""
        self._tiles_available = available
        if not available:
            self.set_tiles(None, None)
        self._offer_layers()

    def set_plane_decodes(self, decodes: bool, why_not: str = "") -> None:
        """Whether a point of the map is a code. Where it is not (t-SNE: it has no inverse map),
        what lives on a plane of codes is hidden (tiles, contours, the cursor, ellipses, the
        path) and the boxes of tiles and contours say `why_not`."""
        self._plane_decodes, self._no_decodes_reason = decodes, why_not
        self.cursor.setVisible(decodes)
        for item in (*self.selection_ellipses, *self.drawn_ellipses, self.marks, self.path):
            item.setVisible(decodes)
        self._offer_layers()

    def _offer_layers(self) -> None:
        """The boxes of tiles and contours enabled where the data, the family and the plane let
        them draw, saying why not where they do not; the layers drawn follow."""
        for check, available, why_not in (
            (self.tiles_check, self._tiles_available, _NO_TILES_FOR_POINTS),
            (self.prior_check, self._prior_available, _NO_PRIOR_DENSITY),
        ):
            reason = why_not if not available else self._no_decodes_reason
            self.controls.set_layer_available(check, available and self._plane_decodes, reason)
        self._show_layers()

    def _build_plot(self) -> None:
        self.plot = pg.PlotWidget(self)
        self.plot.setObjectName("latentPlot")
        self.plot.setAccessibleName("Latent map")
        self.plot.setMinimumSize(240, 240)
        item = self.plot.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        self.view_box = item.getViewBox()
        self.view_box.setAspectLocked(True)
        home = (-HOME_EXTENT, HOME_EXTENT)
        self.view_box.setRange(xRange=home, yRange=home, padding=0)
        self.tiles = pg.ImageItem(axisOrder="row-major")
        self.tiles.setZValue(Z_TILES)
        self.tiles.setOpacity(0.9)
        self.plot.addItem(self.tiles)
        self.contours = contour_curves(self.plot)
        self.points = pg.ScatterPlotItem(
            size=6, pen=pg.mkPen(0, 0, 0, 160), hoverable=True, tip=None
        )
        self.points.setZValue(Z_POINTS)
        self.points.sigClicked.connect(self._points_clicked)
        self.points.sigHovered.connect(self._points_hovered)
        self.plot.addItem(self.points)
        self.legend = item.addLegend(
            offset=(8, 8), labelTextSize="8pt", brush=pg.mkBrush(0, 0, 0, 150)
        )
        self.selection_ellipses = ellipse_pair(self.plot, (255, 220, 0))
        self.drawn_ellipses = ellipse_pair(self.plot, (0, 230, 255))
        self.marks = pg.ScatterPlotItem(size=14, brush=None)
        self.marks.setZValue(Z_ELLIPSES)
        self.plot.addItem(self.marks)
        self.path = path_curve(self.plot)
        self.cursor = pg.TargetItem(
            pos=(0.0, 0.0),
            size=18,
            pen=pg.mkPen(255, 80, 40, width=2.5),
            hoverPen=pg.mkPen(255, 200, 40, width=3),
            movable=True,
        )
        self.cursor.setObjectName("latentCursor")
        self.cursor.setZValue(Z_CURSOR)
        self.cursor.setToolTip("Drag to decode any point of the plane")
        self.cursor.sigPositionChanged.connect(self._cursor_moved)
        self.plot.addItem(self.cursor)
        self.view_box.sigRangeChanged.connect(self.rangeChanged)
        self.plot.scene().sigMouseClicked.connect(self._scene_clicked)
        self.preview = ImageTile("hoverPreview", minimum=72, parent=self.plot)
        self.preview.setFixedSize(84, 84)
        self.preview.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.preview.hide()

    # What the explorer sets.
    def show_layers(self, ticks: LayerTicks) -> None:
        """The layer boxes show `ticks` (the state's), and the layers drawn follow them."""
        self.controls.show_layer_ticks(ticks)
        self._show_layers()

    def set_prior_available(self, available: bool) -> None:
        """Families without a density over codes (VQ-VAE) have no contours to offer."""
        self._prior_available = available
        if not available:
            self.set_contours([])
        self._offer_layers()

    def set_text_size(self, pixels: int) -> None:
        set_plot_text_size(self.plot.getPlotItem(), self.legend, pixels)

    def set_axis_names(self, names: tuple[str, str]) -> None:
        item = self.plot.getPlotItem()
        item.setLabel("bottom", names[0])
        item.setLabel("left", names[1])

    def set_tiles(
        self, mosaic: np.ndarray | None, bounds: tuple[float, float, float, float] | None
    ) -> None:
        """One image covering `bounds` (left, bottom, width, height), its first row at the top."""
        if mosaic is None:
            self.tiles.clear()
            return
        self.tiles.setImage(mosaic, levels=(0, 255), autoLevels=False)
        left, bottom, width, height = bounds
        # A negative height puts row 0 at the top edge: images read upright on a y-up plot.
        self.tiles.setRect(QRectF(left, bottom + height, width, -height))

    def set_points(
        self, xy: np.ndarray | None, labels: np.ndarray | None = None, class_names=()
    ) -> None:
        """The encoded test set; `labels` pick the colours, `class_names` the legend."""
        self.legend.clear()
        if xy is None or len(xy) == 0:
            self._point_xy = np.zeros((0, 2))
            self.points.clear()
            return
        self._point_xy = np.asarray(xy)
        colours = label_colours(max(len(class_names), int(labels.max()) + 1))
        brushes = [pg.mkBrush(colour) for colour in colours]
        self._point_brushes = [brushes[label] for label in labels]
        self.points.setData(
            x=self._point_xy[:, 0],
            y=self._point_xy[:, 1],
            data=np.arange(len(xy)),
            brush=self._point_brushes,
        )
        for index, name in enumerate(class_names):
            sample = pg.ScatterPlotItem(size=8, brush=brushes[index], pen=None)
            self.legend.addItem(sample, name)

    def point_count(self) -> int:
        return len(self._point_xy)

    def move_points(self, xy: np.ndarray) -> None:
        """New places for the same points (after the model or the plane changed)."""
        if len(xy) != len(self._point_xy):
            raise ValueError("move_points needs one place per point")
        self._point_xy = np.asarray(xy)
        self.points.setData(
            x=self._point_xy[:, 0],
            y=self._point_xy[:, 1],
            data=np.arange(len(xy)),
            brush=self._point_brushes,
        )

    def set_contours(self, segments: list[np.ndarray]) -> None:
        """Per level, point pairs (2K, 2) of the contour's segments."""
        for curve, pairs in zip(self.contours, [*segments, *[None] * len(self.contours)]):
            if pairs is None or len(pairs) == 0:
                curve.setData([], [])
            else:
                curve.setData(pairs[:, 0], pairs[:, 1])

    def set_selection(self, outlines: list[np.ndarray] | None, centre=None) -> None:
        self._set_ellipses(self.selection_ellipses, outlines)
        self._update_marks(selected=centre)

    def set_drawn(self, outlines: list[np.ndarray] | None, centre=None) -> None:
        self._set_ellipses(self.drawn_ellipses, outlines)
        self._update_marks(drawn=centre)

    def set_path(self, points: np.ndarray | None) -> None:
        if points is None:
            self.path.setData([], [])
        else:
            self.path.setData(points[:, 0], points[:, 1])

    def _set_ellipses(self, curves, outlines) -> None:
        for curve, outline in zip(curves, outlines or [None] * len(curves)):
            if outline is None:
                curve.setData([], [])
            else:
                curve.setData(outline[:, 0], outline[:, 1])

    def _update_marks(self, **centres) -> None:
        self._marks = {**self._marks, **centres}
        spots = []
        styles = {"selected": (255, 220, 0), "drawn": (0, 230, 255)}
        for name, centre in self._marks.items():
            if centre is not None:
                spots.append(
                    {"pos": tuple(centre), "pen": pg.mkPen(styles[name], width=2), "brush": None}
                )
        self.marks.setData(spots)

    def set_cursor_position(self, x: float, y: float) -> None:
        self.cursor.setPos(x, y)

    def cursor_position(self) -> tuple[float, float]:
        position = self.cursor.pos()
        return float(position.x()), float(position.y())

    def reset_view(self) -> None:
        """Home: the view fits the points and, where the map decodes, the tiles' home extent."""
        extent = self._point_xy
        if self._plane_decodes or not len(extent):
            extent = np.concatenate([extent, [[-HOME_EXTENT] * 2, [HOME_EXTENT] * 2]])
        (left, bottom), (right, top) = extent.min(0), extent.max(0)
        self.view_box.setRange(xRange=(left, right), yRange=(bottom, top), padding=_HOME_PADDING)

    def visible_range(self) -> tuple[tuple[float, float], tuple[float, float]]:
        (x0, x1), (y0, y1) = self.view_box.viewRange()
        return (x0, x1), (y0, y1)

    def show_region(self, x_range: tuple[float, float], y_range: tuple[float, float]) -> None:
        """Pan and zoom to show these ranges (what `visible_range` reads back)."""
        self.view_box.setRange(xRange=x_range, yRange=y_range, padding=0)

    def show_preview(self, image: np.ndarray | None, index: int = -1) -> None:
        """The hovered point's image, beside the point."""
        if image is None or not 0 <= index < len(self._point_xy):
            self.preview.hide()
            return
        self.preview.set_image(image)
        x, y = self._point_xy[index]
        scene_point = self.view_box.mapViewToScene(QPointF(x, y))
        widget_point = self.plot.mapFromScene(scene_point)
        left = widget_point.x() + 12
        top = widget_point.y() - self.preview.height() - 12
        if left + self.preview.width() > self.plot.width():
            left = widget_point.x() - self.preview.width() - 12
        self.preview.move(int(left), int(max(top, 0)))
        self.preview.show()
        self.preview.raise_()

    # What the user does.
    def _cursor_moved(self, *_):
        x, y = self.cursor_position()
        self.cursorMoved.emit(x, y)

    def _points_clicked(self, _item, points, _event):
        if len(points):
            self.pointClicked.emit(int(points[0].data()))

    def _points_hovered(self, _item, points, _event):
        self.pointHovered.emit(int(points[0].data()) if len(points) else -1)

    def _scene_clicked(self, event) -> None:
        """A double click on the map brings the cursor there."""
        # No cursor on a map with no inverse (t-SNE).
        if not (
            event.double() and event.button() == Qt.MouseButton.LeftButton and self._plane_decodes
        ):
            return
        position = self.view_box.mapSceneToView(event.scenePos())
        self.cursor.setPos(position.x(), position.y())

    def _apply_layers(self, *_):
        self._show_layers()
        self.layersChanged.emit()

    def _show_layers(self) -> None:
        tiles = self.tiles_check.isChecked() and self.tiles_check.isEnabled()
        self.tiles.setVisible(tiles)
        self.points.setVisible(self.points_check.isChecked())
        self.legend.setVisible(self.points_check.isChecked())
        prior = self.prior_check.isChecked() and self.prior_check.isEnabled()
        for curve in self.contours:
            curve.setVisible(prior)
