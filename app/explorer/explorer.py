"""The latent explorer: owns a model copy and the state every explorer view shows.

Decoding runs on the GUI thread with the explorer's own model (a small decoder answers in about
a millisecond). Work that spans several event-loop turns (encoding the test set) carries the
generation it started in and is dropped when the weights or the model changed meanwhile; the
cursor decodes synchronously, so a drag never queues anything up.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping

import numpy as np
import torch
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QWidget

from app.explorer.codebook import CodebookPage
from app.explorer.data_space import DataSpaceView
from app.explorer.draw import DrawPage
from app.explorer.interpolation import InterpolationPage
from app.explorer.latent_ops import (
    LatentPlane,
    TileCache,
    contour_segments,
    density_levels,
    ellipse_outline,
    mosaic,
    tile_lattice,
)
from app.explorer.map_view import ANCHOR_SELECTED, PLANE_PRINCIPAL, LatentMapView
from app.explorer.model_access import ExplorerModel, dataset_images
from app.explorer.side_panel import SidePanel, format_code, format_encoding
from app.explorer.traversals import TraversalsPage
from app.pacing import DutyCycle
from vae_core.data import ImageDataset
from vae_core.models import LatentModel

# Weights are applied at most this often while training streams snapshots: each application
# re-decodes the visible tiles, GUI time that training on 2 cores shares.
WEIGHTS_INTERVAL_S = 0.5
# The test set is re-encoded at most this often: it is the costliest refresh. Against 0.33 s and
# 1 s, these two intervals took the GUI thread's CPU time while training from about 17% to 12%
# (bench_window.py's model, 3 runs each).
EMBED_INTERVAL_S = 2.0
# Each of those two refreshes spends about this share of the time at most (counting its own
# work: for new weights the cursor, the tiles and the selection), spaced further apart than the
# intervals above when the model is costly to run, which leaves the cores to training.
REFRESH_SHARE = 0.05
# Test examples drawn on the map, and encoded per event-loop turn.
MAX_POINTS = 2000
EMBED_CHUNK = 100
TILES_PER_SIDE = 20
# Grid points a side on which the prior's density is evaluated for the contours.
CONTOUR_GRID = 64
# Prior samples are redrawn from new weights at most this often (an autoregressive code prior
# takes tens of milliseconds to sample).
SAMPLES_INTERVAL_S = 1.0
# While the cursor is being dragged (moved within DRAG_QUIET_S), the decoded view has the event
# loop to itself: tiles wait for new weights up to MAX_TILE_LAG_S, encoding the test set and
# drawing prior samples wait for the drag to pause.
DRAG_QUIET_S = 0.15
MAX_TILE_LAG_S = 1.0
# The ellipses drawn around a posterior mean, in standard deviations.
ELLIPSE_SIGMAS = (1.0, 2.0)
SAMPLE_COUNT = 16
# 2-D point data: prior draws shown in data space, and the latent grid lines decoded there
# (MESH_LINES a side over the visible map, MESH_POINTS along each).
POINT_SAMPLE_COUNT = 500
MESH_LINES = 15
MESH_POINTS = 60


class LatentExplorer(QObject):
    """The explorer's contract with the window: `map_widget`, `side_panel`, `pages`, and
    `set_model`, `load_weights`, `set_data`, `set_kl_per_dim`, `clear`."""

    modelChanged = Signal()
    weightsApplied = Signal()
    planeChanged = Signal()
    cursorChanged = Signal()
    selectionChanged = Signal()
    conditionChanged = Signal()
    codesChanged = Signal()  # the test set's codes were (re)computed
    viewRefreshed = Signal()  # the tiles and contours show the current model and view
    # VQ-VAE: the user asked to reset these dead codes; a running trainer should do it too.
    deadCodeResetRequested = Signal(list)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.model: ExplorerModel | None = None
        self.data: ImageDataset | None = None
        self.plane = LatentPlane.of_dimensions(np.zeros(2), 0, 1)
        self.codes: np.ndarray | None = None  # (N, D) posterior means of `data`
        self.selected: int | None = None
        self.selected_posterior: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None
        self.label = 0
        self.generation = 0
        self.training_step: int | None = None  # of the weights shown, when the window says
        self._given_kl: np.ndarray | None = None  # from the window's snapshots
        self._measured_kl: np.ndarray | None = None  # on the test data, for `_kl_generation`
        self._kl_generation = -1
        self._pending_state: tuple[Mapping[str, torch.Tensor], int | None] | None = None
        self._weights_pace = DutyCycle(WEIGHTS_INTERVAL_S, REFRESH_SHARE)
        self._embed_pace = DutyCycle(EMBED_INTERVAL_S, REFRESH_SHARE)
        self._embed_buffer: np.ndarray | None = None
        self._embed_next = 0
        self._embed_generation = -1
        self._sample_seed = 0
        self._last_samples_time = -math.inf
        self._contours_key: tuple | None = None
        self._last_cursor_move = -math.inf
        self._last_tiles_time = -math.inf
        # A few screens' worth of tiles, for panning back and forth.
        self._tiles = TileCache(capacity=4 * TILES_PER_SIDE**2)
        self._plane_version = 0
        self._path_codes: np.ndarray | None = None
        self._drawn_posterior: tuple[np.ndarray, np.ndarray] | None = None

        self.map_widget = self.map = LatentMapView()
        self.data_space = DataSpaceView()
        self.data_space.hide()
        self.map.add_beside(self.data_space)
        self.side_panel = self.side = SidePanel()
        self.interpolation = InterpolationPage(self)
        self.traversals = TraversalsPage(self)
        self.codebook = CodebookPage(self)
        self.codebook.resetRequested.connect(self.deadCodeResetRequested)
        self.draw = DrawPage(self)
        self.pages: list[tuple[str, QWidget]] = [
            ("Interpolation", self.interpolation),
            ("Traversals", self.traversals),
            ("Codebook", self.codebook),
            ("Draw", self.draw),
        ]

        # What new weights set off is charged to their pace, what encoding does to its own.
        self._weights_timer = self._single_shot(self._timed(self._apply_pending_weights, self._weights_pace))
        self._tiles_timer = self._single_shot(self._timed(self._refresh_view_in_turns, self._weights_pace))
        self._contours_timer = self._single_shot(self._refresh_contours)
        self._samples_timer = self._single_shot(self._samples_due)
        self._details_timer = self._single_shot(self._timed(self._refresh_details, self._weights_pace))
        self._embed_delay = self._single_shot(self._start_embedding)
        self._embed_timer = QTimer(self)
        self._embed_timer.setInterval(0)
        self._embed_timer.timeout.connect(self._timed(self._embed_step, self._embed_pace))

        self.map.cursorMoved.connect(self._cursor_moved)
        self.map.rangeChanged.connect(self._refresh_view)
        self.map.layersChanged.connect(self._refresh_view)
        self.map.pointClicked.connect(self.select)
        self.map.pointHovered.connect(self._show_hovered)
        self.map.planeRequested.connect(self._rebuild_plane)
        self.map.classRequested.connect(self.set_label)
        self.side.resampleRequested.connect(self._resample)
        # Whoever holds the views may delete them before this object: no timer may outlive them.
        self.map.destroyed.connect(self._stop_timers)
        self.side.destroyed.connect(self._stop_timers)
        self._show_nothing()

    def _stop_timers(self, *_) -> None:
        for timer in self.findChildren(QTimer):
            timer.stop()

    def _single_shot(self, slot) -> QTimer:
        timer = QTimer(self)
        timer.setSingleShot(True)
        timer.timeout.connect(slot)
        return timer

    @staticmethod
    def _timed(work: Callable[[], None], pace: DutyCycle) -> Callable[[], None]:
        def timed_work() -> None:
            started = time.perf_counter()
            work()
            pace.spent(time.perf_counter() - started)

        return timed_work

    # The contract.
    def set_model(self, model: LatentModel) -> None:
        """Explore `model` from now on; the explorer owns it (moved to the CPU, eval mode)."""
        explorer_model = ExplorerModel(model)
        # Resizing the controls moves the view; with no model, nothing redraws in between.
        self.model = None
        self.generation += 1
        self._last_samples_time = -math.inf
        self._contours_key = None
        self.training_step = None
        self._pending_state = None
        self.codes = None
        self._given_kl = None
        self._kl_generation = -1
        self._path_codes = None
        self._drawn_posterior = None
        self.label = 0
        self.map.set_latent_dim(explorer_model.latent_dim, principal=explorer_model.quantized)
        self._show_data_space(explorer_model.planar)
        self.map.set_classes(self.class_names(explorer_model) if explorer_model.conditional else ())
        self.side.show_class_row(None)
        zero = np.zeros((1, explorer_model.latent_dim))
        self.map.set_prior_available(explorer_model.prior_log_density(zero) is not None)
        self.map.set_points(None)
        self.map.set_path(None)
        self.map.set_drawn(None)
        self._clear_selection()
        self.model = explorer_model
        self._weights_pace.due_now()
        self._rebuild_plane(refresh=False)
        self._refresh_view()
        self._refresh_all()
        self._embed_now()
        self.modelChanged.emit()

    def load_weights(self, state: Mapping[str, torch.Tensor], step: int | None = None) -> None:
        """Weights from a training snapshot (and its step); applied at most every
        WEIGHTS_INTERVAL_S, the latest winning."""
        if self.model is None:
            return
        self._pending_state = (state, step)
        if not self._weights_timer.isActive():
            self._weights_timer.start(int(self._weights_pace.wait_s(time.perf_counter()) * 1000))

    def set_data(self, data: ImageDataset | None) -> None:
        """The test split whose codes are drawn on the map (at most MAX_POINTS of them)."""
        if data is not None and len(data) > MAX_POINTS:
            order = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))
            data = data.subset(order[:MAX_POINTS].sort().values)
        self.data = data
        self.codes = None
        self._given_kl = None
        self._kl_generation = -1
        self.map.set_points(None)
        if data is not None and data.image_shape == (2, 1, 1):
            self.data_space.set_data(data.images[:, :, 0, 0].double().numpy(), data.labels.numpy(), data.class_names)
        else:
            self.data_space.set_data(None)
        self._clear_selection()
        if self.model is not None and self.model.conditional:
            self.map.set_classes(self.class_names())
        self._embed_now()
        self.modelChanged.emit()

    def set_kl_per_dim(self, kl_per_dim) -> None:
        """The latest snapshot's KL per dimension (D,); traversals are ordered by it."""
        self._given_kl = None if kl_per_dim is None else np.asarray(kl_per_dim, dtype=np.float64)
        self.traversals.request_refresh()

    def clear(self) -> None:
        """Forget the model and the data; every view goes blank."""
        self.model = None
        self.data = None
        self.codes = None
        self._pending_state = None
        self._weights_timer.stop()
        self._embed_timer.stop()
        self._embed_delay.stop()
        self.generation += 1
        self._clear_selection()
        self._show_nothing()
        self.modelChanged.emit()

    # What the pages ask.
    def class_names(self, model: ExplorerModel | None = None) -> list[str]:
        if self.data is not None:
            return list(self.data.class_names)
        model = model or self.model
        return [str(index) for index in range(model.num_classes if model else 0)]

    def decode(self, codes: np.ndarray, label=None) -> np.ndarray:
        """uint8 images for codes (N, D), with the chosen condition class unless `label` is given."""
        return self.model.decode(codes, self.label if label is None else label)

    def cursor_code(self) -> np.ndarray:
        return self.plane.codes(np.array([self.map.cursor_position()]))[0]

    def selected_code(self) -> np.ndarray | None:
        return None if self.selected_posterior is None else self.selected_posterior[0]

    def anchor_code(self) -> np.ndarray:
        """Where the dimensions off the map stay: the selected image's code, or zero."""
        dim = self.model.latent_dim if self.model else 2
        if self.map.plane_choice()[3] == ANCHOR_SELECTED and self.selected_code() is not None:
            return self.selected_code()
        return np.zeros(dim)

    def kl_per_dim(self) -> np.ndarray | None:
        """KL per latent dimension: the snapshot's when given, else measured on the test data."""
        if self.model is None:
            return None
        if self._given_kl is not None and len(self._given_kl) == self.model.latent_dim:
            return self._given_kl
        if self.data is None:
            return None
        if self._kl_generation != self.generation:
            self._measured_kl = self.model.kl_per_dim(self.data)
            self._kl_generation = self.generation
        return self._measured_kl

    def select(self, index: int) -> None:
        """Select test example `index` (of `data`): its posterior is drawn on the map."""
        if self.data is None or self.model is None or not 0 <= index < len(self.data):
            return
        self.selected = int(index)
        self._refresh_selection()
        if self.map.plane_choice()[3] == ANCHOR_SELECTED:
            self._rebuild_plane()
        self.selectionChanged.emit()

    def set_label(self, label: int) -> None:
        """The class a conditional decoder is given."""
        self.label = int(label)
        self._last_samples_time = -math.inf
        if self.map.class_combo.currentIndex() != self.label:
            self.map.class_combo.setCurrentIndex(self.label)
        self._refresh_all()
        self.conditionChanged.emit()

    def show_path(self, codes: np.ndarray | None) -> None:
        """Draw a path of codes (an interpolation) on the map."""
        self._path_codes = codes
        self.map.set_path(None if codes is None else self.plane.project(codes))

    def show_drawn(self, posterior: tuple[np.ndarray, np.ndarray] | None) -> None:
        """The posterior (mean, std) of a drawn image, as a point with ellipses on the map."""
        self._drawn_posterior = posterior
        self._draw_posterior(self.map.set_drawn, posterior)

    def model_edited(self) -> None:
        """The explorer's own model was changed in place (codes reset): show it afresh."""
        self.generation += 1
        self._refresh_all()
        self._embed_now()

    # Applying weights and refreshing what they change.
    def _apply_pending_weights(self) -> None:
        if self.model is None or self._pending_state is None:
            return
        state, step = self._pending_state
        self.model.load_weights(state)
        self.training_step = step
        self._pending_state = None
        self._weights_pace.started(time.perf_counter())
        self.generation += 1
        self._refresh_all()
        self._request_embedding()
        self.weightsApplied.emit()

    def _refresh_all(self) -> None:
        """The cursor's image now; the tiles, then everything else, on the next event-loop turns,
        so that a cursor move never waits behind more than one of them."""
        self._refresh_cursor()
        self._tiles_timer.start()
        self._details_timer.start()

    def _refresh_details(self) -> None:
        self._refresh_selection()
        self._request_samples()
        self.show_drawn(self._drawn_posterior)
        self.traversals.request_refresh()

    def _refresh_view(self) -> None:
        """After a pan or zoom: tiles (or the data-space mesh) and contours at once, before the
        plot repaints."""
        self._refresh_tiles()
        self._refresh_mesh()
        self._refresh_contours()

    def _refresh_view_in_turns(self) -> None:
        """After new weights: the tiles now (or, during a drag, a little later), the contours on
        the next event-loop turn."""
        if time.perf_counter() - self._last_tiles_time < MAX_TILE_LAG_S and self._wait_for_drag(self._tiles_timer):
            return
        self._refresh_tiles()
        self._refresh_mesh()
        self._contours_timer.start()

    def _refresh_tiles(self) -> None:
        """Decoded tiles over the visible part of the plane (only new cells after a pan)."""
        if self.model is None or not self.map.layers()["tiles"]:
            return
        self._last_tiles_time = time.perf_counter()
        lattice = tile_lattice(*self.map.visible_range(), TILES_PER_SIDE)
        context = (self.generation, self._plane_version, self.label, lattice.size)
        images = self._tiles.images(lattice, context, self._decode_points)
        self.map.set_tiles(mosaic(images, *lattice.shape), lattice.bounds())

    def _refresh_mesh(self) -> None:
        """2-D point data: the visible part of the map's grid, decoded into data space."""
        if self.model is None or not self.model.planar:
            return
        (x_low, x_high), (y_low, y_high) = self.map.visible_range()
        along = np.linspace(0.0, 1.0, MESH_POINTS)
        across = np.linspace(0.0, 1.0, MESH_LINES)
        # Grid lines of constant y (rows) sampled finely in x; the columns come from the same decode
        # of the transposed layout, so both families of lines are smooth curves.
        rows = np.stack(np.meshgrid(x_low + along * (x_high - x_low), y_low + across * (y_high - y_low)), -1)
        columns = np.stack(np.meshgrid(x_low + across * (x_high - x_low), y_low + along * (y_high - y_low)), -1)
        plane_points = np.concatenate([rows.reshape(-1, 2), columns.reshape(-1, 2)])
        decoded = self.model.decode_values(self.plane.codes(plane_points), self.label)
        row_lines = decoded[: rows.size // 2].reshape(MESH_LINES, MESH_POINTS, 2)
        column_lines = decoded[rows.size // 2 :].reshape(MESH_POINTS, MESH_LINES, 2).transpose(1, 0, 2)
        self.data_space.set_mesh(row_lines, column_lines)

    def _show_data_space(self, planar: bool) -> None:
        self.data_space.setVisible(planar)
        self.map.set_tiles_available(not planar)
        # These pages draw decodes as images; a 2-D point decodes to a point, drawn in the data space.
        for page in (self.interpolation, self.traversals, self.draw):
            page.setEnabled(not planar)
            page.setToolTip("For 2-D point data, decodes are drawn in the data space plot beside the map" if planar else "")
        in_data_space = "Drawn in the data space plot"
        self.side.decoded_view.set_placeholder(in_data_space if planar else "")
        self.side.input_view.set_placeholder(in_data_space if planar else "Click a point on the map")
        if not planar:
            self.data_space.set_mesh(None)
            self.data_space.set_cursor(None)
            self.data_space.set_samples(None)
            self.data_space.set_selection(None)

    def _decode_points(self, points: np.ndarray) -> np.ndarray:
        """Images at plane points (M, 2)."""
        return self.decode(self.plane.codes(points))

    def _refresh_contours(self) -> None:
        """The prior's density contours, recomputed only when the view, the plane or a learned
        prior changed."""
        if self.model is None:
            return
        x_range, y_range = self.map.visible_range()
        key = (self._plane_version, x_range, y_range, self.generation if self.model.prior_is_learned else None)
        if self.map.layers()["prior"] and key != self._contours_key:
            self.map.set_contours(self._prior_contours(x_range, y_range))
            self._contours_key = key
        self.viewRefreshed.emit()

    def _prior_contours(self, x_range, y_range) -> list[np.ndarray]:
        """Per level, the contour's segments as point pairs on the plane: (2K, 2)."""
        xs = np.linspace(*x_range, CONTOUR_GRID)
        ys = np.linspace(*y_range, CONTOUR_GRID)
        grid = np.stack(np.meshgrid(xs, ys, indexing="ij"), axis=-1).reshape(-1, 2)
        log_density = self.model.prior_log_density(self.plane.codes(grid))
        if log_density is None:
            return []
        log_density = log_density.reshape(CONTOUR_GRID, CONTOUR_GRID)
        scale = np.array([xs[1] - xs[0], ys[1] - ys[0]])
        segments = []
        for level in density_levels(log_density):
            segments.append(contour_segments(log_density, level) * scale + (xs[0], ys[0]))
        return segments

    def _wait_for_drag(self, timer: QTimer) -> bool:
        """During a drag, run `timer` again once the cursor may have paused; True if it waits."""
        if time.perf_counter() - self._last_cursor_move >= DRAG_QUIET_S:
            return False
        timer.start(int(DRAG_QUIET_S * 1000))
        return True

    def _cursor_moved(self) -> None:
        self._last_cursor_move = time.perf_counter()
        self._refresh_cursor()

    def _refresh_cursor(self) -> None:
        if self.model is None:
            return
        code = self.cursor_code()
        if self.model.planar:
            point = self.model.decode_values(code[None], self.label)[0]
            self.data_space.set_cursor(point)
            self.side.show_cursor(None, code)
            self.side.cursor_label.setText(f"z = {format_code(code)}\ndecodes to x = {format_code(point)}")
            self.data_space.repaint()
            self.cursorChanged.emit()
            return
        # Painted here and now: the image follows the cursor with no event-loop turn in between.
        self.side.show_cursor(self.decode(code[None])[0], code, paint_now=True)
        if self.model.conditional:
            classes = np.arange(self.model.num_classes)
            self.side.show_class_row(self.model.decode(np.repeat(code[None], len(classes), 0), classes))
        self.cursorChanged.emit()

    def _refresh_selection(self) -> None:
        if self.model is None or self.data is None or self.selected is None:
            self.selected_posterior = None
            self.side.show_selection(None)
            self.map.set_selection(None)
            return
        images, labels = self.data.batch(torch.tensor([self.selected]))
        mean, std = self.model.posterior(images, labels)
        kl = self.model.kl_of(images, labels)
        self.selected_posterior = (mean[0], std[0], None if kl is None else kl[0])
        text = format_encoding(self.model, *self.selected_posterior)
        if self.model.planar:
            point = images[0].reshape(-1).double().numpy()
            reconstruction = self.model.reconstruct_values(images, labels)[0]
            self.data_space.set_selection(point, reconstruction)
            text = f"x = {format_code(point)}\nreconstruction {format_code(reconstruction)}\n{text}"
            self.side.show_selection(None, None, text)
        else:
            reconstruction = self.model.reconstruct(images, labels)[0]
            self.side.show_selection(dataset_images(self.data, [self.selected])[0], reconstruction, text)
        self._draw_posterior(self.map.set_selection, self.selected_posterior[:2])

    def _draw_posterior(self, setter, posterior) -> None:
        if posterior is None or self.model is None:
            setter(None)
            return
        mean, std = posterior
        centre = self.plane.project(mean[None])[0]
        covariance = self.plane.project_covariance(std**2)
        # A deterministic encoder (VQ-VAE) has a point, not a spread.
        outlines = [ellipse_outline(centre, covariance, k) for k in ELLIPSE_SIGMAS] if std.any() else None
        setter(outlines, centre)

    def _clear_selection(self) -> None:
        self.selected = None
        self.selected_posterior = None
        self.data_space.set_selection(None)
        self.side.show_selection(None)
        self.map.set_selection(None)

    def _request_samples(self) -> None:
        if not self._samples_timer.isActive():
            wait = self._last_samples_time + SAMPLES_INTERVAL_S - time.perf_counter()
            self._samples_timer.start(int(max(0.0, wait) * 1000))

    def _samples_due(self) -> None:
        if not self._wait_for_drag(self._samples_timer):
            self._refresh_samples()

    def _refresh_samples(self) -> None:
        self._samples_timer.stop()
        self._last_samples_time = time.perf_counter()
        if self.model is None:
            self.side.show_samples(None)
            return
        if self.model.planar:
            self.side.show_samples(None)
            self.side.resample_button.setEnabled(True)  # the draws are in data space
            self.data_space.set_samples(self.model.sample_values(POINT_SAMPLE_COUNT, self.label, seed=self._sample_seed))
            return
        self.side.show_samples(self.model.sample(SAMPLE_COUNT, self.label, seed=self._sample_seed))

    def _resample(self) -> None:
        self._sample_seed += 1
        self._refresh_samples()

    def _show_hovered(self, index: int) -> None:
        if index < 0 or self.data is None or not self.data.is_image:
            self.map.show_preview(None)
            return
        self.map.show_preview(dataset_images(self.data, [index])[0], index)

    # The plane.
    def _rebuild_plane(self, refresh: bool = True) -> None:
        if self.model is None:
            return
        mode, first, second, _ = self.map.plane_choice()
        dim = self.model.latent_dim
        if mode == PLANE_PRINCIPAL and self.codes is not None:
            previous = self.plane if self.plane.axis_names == ("PC1", "PC2") else None
            self.plane = LatentPlane.principal(self.codes, previous)
        else:
            if dim >= 2 and first == second:
                second = (first + 1) % dim
            self.plane = LatentPlane.of_dimensions(self.anchor_code(), min(first, dim - 1), min(second, dim - 1))
        self._plane_version += 1
        self.map.set_axis_names(self.plane.axis_names)
        if not refresh:
            return
        self._refresh_all()
        self._refresh_points()
        self.show_path(self._path_codes)
        self.planeChanged.emit()

    # Encoding the test set, a chunk per event-loop turn.
    def _embed_now(self) -> None:
        self._embed_pace.due_now()
        self._request_embedding()

    def _request_embedding(self) -> None:
        if self.model is None or self.data is None or self._embed_delay.isActive():
            return
        self._embed_delay.start(int(self._embed_pace.wait_s(time.perf_counter()) * 1000))

    def _start_embedding(self) -> None:
        if self.model is None or self.data is None:
            return
        self._embed_pace.started(time.perf_counter())
        self._embed_generation = self.generation
        self._embed_buffer = np.empty((len(self.data), self.model.latent_dim))
        self._embed_next = 0
        self._embed_timer.start()

    def _embed_step(self) -> None:
        if self.model is None or self.data is None:
            self._embed_timer.stop()
            return
        if self._embed_generation != self.generation:
            # The weights changed under this pass: its codes would mix two models.
            self._embed_timer.stop()
            self._request_embedding()
            return
        if self._wait_for_drag(self._embed_timer):
            return
        if self._embed_timer.interval():
            self._embed_timer.start(0)  # the drag paused: back to a chunk per turn
        start = self._embed_next
        stop = min(start + EMBED_CHUNK, len(self.data))
        self._embed_buffer[start:stop] = self.model.embed_dataset(self.data, start, stop)
        self._embed_next = stop
        if stop < len(self.data):
            return
        self._embed_timer.stop()
        self.codes = self._embed_buffer
        if self.map.plane_choice()[0] == PLANE_PRINCIPAL:
            self._rebuild_plane()  # the principal plane of the new codes; it redraws the points
        else:
            self._refresh_points()
        self.codesChanged.emit()

    def _refresh_points(self) -> None:
        if self.codes is None or self.data is None:
            self.map.set_points(None)
            return
        xy = self.plane.project(self.codes)
        if len(xy) != self.map.point_count():
            self.map.set_points(xy, self.data.labels.numpy(), self.data.class_names)
        else:
            self.map.move_points(xy)

    def _show_nothing(self) -> None:
        self._show_data_space(False)
        self.data_space.set_data(None)
        self.map.set_tiles(None, None)
        self.map.set_points(None)
        self.map.set_contours([])
        self.map.set_path(None)
        self.map.set_drawn(None)
        self.map.set_classes(())
        self.side.show_cursor(None, None)
        self.side.show_class_row(None)
        self.side.show_samples(None)
        self.side.decoded_view.set_placeholder("No model yet: start training or open a checkpoint")
