"""What the map draws from the model: decoded tiles, the prior's density contours and, for 2-D point
data, the map's grid decoded into data space; each computed in numpy and redrawn only when what it
depends on changed."""

from __future__ import annotations

import numpy as np

from app.explorer.decode_service import DecodeService
from app.state import ExplorerState
from vae_core.latent import (
    LatentPlane,
    TileCache,
    contour_segments,
    density_levels,
    mosaic,
    tile_lattice,
)
from vae_core.model_access import ExplorerModel

TILES_PER_SIDE = 20
# Grid points a side on which the prior's density is evaluated for the contours.
CONTOUR_GRID = 64
# The ellipses drawn around a posterior mean, in standard deviations.
ELLIPSE_SIGMAS = (1.0, 2.0)
# 2-D point data: the latent grid lines decoded into data space, MESH_LINES a side over the
# visible map, MESH_POINTS along each.
MESH_LINES = 15
MESH_POINTS = 60


def prior_contours(model: ExplorerModel, plane: LatentPlane, x_range, y_range) -> list[np.ndarray]:
    """Per level, the contour's segments as point pairs on the plane: (2K, 2)."""
    xs = np.linspace(*x_range, CONTOUR_GRID)
    ys = np.linspace(*y_range, CONTOUR_GRID)
    grid = np.stack(np.meshgrid(xs, ys, indexing="ij"), axis=-1).reshape(-1, 2)
    log_density = model.prior_log_density(plane.codes(grid))
    if log_density is None:
        return []
    log_density = log_density.reshape(CONTOUR_GRID, CONTOUR_GRID)
    scale = np.array([xs[1] - xs[0], ys[1] - ys[0]])
    return [
        contour_segments(log_density, level) * scale + (xs[0], ys[0])
        for level in density_levels(log_density)
    ]


def decode_mesh(
    model: ExplorerModel, plane: LatentPlane, visible_range, label
) -> tuple[np.ndarray, np.ndarray]:
    """The visible grid's lines decoded: rows (MESH_LINES, MESH_POINTS, 2), columns the same."""
    (x_low, x_high), (y_low, y_high) = visible_range
    along = np.linspace(0.0, 1.0, MESH_POINTS)
    across = np.linspace(0.0, 1.0, MESH_LINES)
    # Grid lines of constant y (rows) sampled finely in x; the columns come from the same decode
    # of the transposed layout, so both families of lines are smooth curves.
    rows = np.stack(
        np.meshgrid(x_low + along * (x_high - x_low), y_low + across * (y_high - y_low)), -1
    )
    columns = np.stack(
        np.meshgrid(x_low + across * (x_high - x_low), y_low + along * (y_high - y_low)), -1
    )
    plane_points = np.concatenate([rows.reshape(-1, 2), columns.reshape(-1, 2)])
    decoded = model.decode_values(plane.codes(plane_points), label)
    row_lines = decoded[: rows.size // 2].reshape(MESH_LINES, MESH_POINTS, 2)
    column_lines = decoded[rows.size // 2 :].reshape(MESH_POINTS, MESH_LINES, 2).transpose(1, 0, 2)
    return row_lines, column_lines


class MapLayers:
    """Draws the model's layers on the map view (and the data-space view) from the explorer state."""

    def __init__(self, map_view, data_space, decoder: DecodeService):
        self.map, self.data_space, self.decoder = map_view, data_space, decoder
        # A few screens' worth of tiles, for panning back and forth.
        self._tiles = TileCache(capacity=4 * TILES_PER_SIDE**2)
        self._plane_version = 0
        self._contours_key: tuple | None = None

    def clear(self) -> None:
        """No model on show: nothing drawn."""
        self.data_space.set_data(None)
        self.map.set_tiles(None, None)
        for clear in (
            self.map.set_points,
            self.map.set_path,
            self.map.set_drawn,
            self.map.set_selection,
        ):
            clear(None)
        self.map.set_contours([])

    def forget(self) -> None:
        """Another model: the contours are drawn afresh."""
        self._contours_key = None

    def plane_changed(self) -> None:
        self._plane_version += 1

    def draw_tiles(self, model: ExplorerModel, state: ExplorerState, generation: int) -> None:
        """Decoded tiles over the visible part of the plane (only new cells after a pan)."""
        lattice = tile_lattice(*self.map.visible_range(), TILES_PER_SIDE)
        context = (generation, self._plane_version, state.label, lattice.size)
        plane = state.plane
        images = self._tiles.images(
            lattice, context, lambda points: self.decoder.decode(plane.codes(points))
        )
        self.map.set_tiles(mosaic(images, *lattice.shape), lattice.bounds())

    def draw_mesh(self, model: ExplorerModel, state: ExplorerState) -> None:
        self.data_space.set_mesh(
            *decode_mesh(model, state.plane, self.map.visible_range(), state.label)
        )

    def draw_contours(self, model: ExplorerModel, state: ExplorerState, generation: int) -> None:
        """The prior's contours, recomputed only when the view, the plane or a learned prior changed."""
        x_range, y_range = self.map.visible_range()
        key = (
            self._plane_version,
            x_range,
            y_range,
            generation if model.prior_is_learned else None,
        )
        if state.layers.prior and state.plane_decodes and key != self._contours_key:
            self.map.set_contours(prior_contours(model, state.plane, x_range, y_range))
            self._contours_key = key
