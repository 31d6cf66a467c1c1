"""The latent explorer's controller: it owns the explorer's timers and its decode service (the
GUI thread's own CPU copy of the model on show), turns the map's signals into changes of the
explorer state, and redraws the map and the side panel from that state.

Decoding runs on the GUI thread (a small decoder answers in about a millisecond) so that a drag
never queues anything up; encoding the test examples runs on a worker (`encoding.py`). New
weights are applied at most every WEIGHTS_INTERVAL_S, the newest winning.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QWidget

from app.controllers.map_embedding import MapEmbedding
from app.controllers.model_jobs import ModelJobs
from app.controllers.pacing import DutyCycle
from app.explorer.codebook import CodebookPage
from app.explorer.data_space import DataSpaceView
from app.explorer.decode_service import DecodeService
from app.explorer.draw import DrawPage
from app.explorer.encoding import EncodingController
from app.explorer.interpolation import InterpolationPage
from app.explorer.map_drawing import MapLayers
from app.explorer.map_view import LatentMapView
from app.explorer.samples import PriorSamples
from app.explorer.selection import SelectionView
from app.explorer.side_panel import SidePanel, format_code
from app.explorer.traversals import TraversalsPage
from app.explorer.view_modes import show_data_space
from app.state import ANCHOR_SELECTED, PLANE_PRINCIPAL, ShownModel
from vae_core.model_access import ExplorerModel

# Weights are applied at most this often while training streams snapshots: each application
# re-decodes the visible tiles, GUI time that training on 2 cores shares; and each application
# takes at most REFRESH_SHARE of the time, so a costly model is refreshed less often.
WEIGHTS_INTERVAL_S = 0.5
REFRESH_SHARE = 0.05
# While the cursor is being dragged (moved within DRAG_QUIET_S), the decoded view has the event
# loop to itself: tiles wait for new weights up to MAX_TILE_LAG_S, prior samples for a pause.
DRAG_QUIET_S = 0.15
MAX_TILE_LAG_S = 1.0


def _single_shot(parent: QObject, slot: Callable[[], None]) -> QTimer:
    timer = QTimer(parent)
    timer.setSingleShot(True)
    timer.timeout.connect(slot)
    return timer


def _class_names(examples, model: ExplorerModel) -> list[str]:
    """The names of the classes a conditional decoder is given: the examples' own, or numbers."""
    if examples is not None:
        return list(examples.class_names)
    return [str(index) for index in range(model.num_classes)]


def _make_pages(
    shown: ShownModel, decoder: DecodeService, jobs: ModelJobs
) -> list[tuple[str, QWidget]]:
    """The pages beside the map, with their titles."""
    return [
        ("Interpolation", InterpolationPage(shown, decoder, jobs)),
        ("Traversals", TraversalsPage(shown, decoder)),
        ("Codebook", CodebookPage(shown, decoder)),
        ("Draw", DrawPage(shown, decoder)),
    ]


class LatentExplorer(QObject):
    """The views it drives: `map`, `side` and `pages`; what it reads and writes:
    `shown` (the model on show and the explorer's state)."""

    viewRefreshed = Signal()  # the tiles and contours show the current model and view
    # VQ-VAE: the user reset these dead codes in the explorer's copy; a running trainer should too.
    deadCodeResetRequested = Signal(list)
    errorOccurred = Signal(str)

    def __init__(
        self,
        shown: ShownModel | None = None,
        parent: QObject | None = None,
        jobs: ModelJobs | None = None,
    ):
        super().__init__(parent)
        self.shown = shown = shown or ShownModel()
        # The window's jobs controller, or (the explorer alone, in a test) one of its own.
        self.jobs = jobs or ModelJobs(shown, self)
        self.jobs.hold_paced_work(self._drag_quiet_s)
        self.state = shown.explorer
        self.decoder = DecodeService(shown)
        self._weights_pace = DutyCycle(WEIGHTS_INTERVAL_S, REFRESH_SHARE)
        self._applied_generation = -1
        self._last_cursor_move = -math.inf
        self._last_tiles_time = -math.inf

        self._build_views(shown)
        # The controller hears the state first: the decode service is ready before the pages redraw.
        shown.model_changed.connect(self._model_changed)
        shown.weights_changed.connect(self._weights_changed)
        events = self.state.events
        events.encoded.connect(self._on_model_encoded)
        events.label.connect(self._on_model_label)
        events.plane_choice.connect(self._on_model_plane_choice)
        events.layers.connect(self._on_model_layers)
        events.embedding.connect(self._refresh_points)
        # Built after the connections above: it hears the state once the map has redrawn.
        self.embedding = MapEmbedding(self)
        self.pages = _make_pages(shown, self.decoder, self.jobs)
        self.interpolation, self.traversals, self.codebook, self.draw = dict(self.pages).values()
        self.codebook.resetRequested.connect(self._reset_dead_codes)

        pace = self._weights_pace
        self._weights_timer = _single_shot(self, pace.charged(self._apply_weights))
        self._tiles_timer = _single_shot(self, pace.charged(self._refresh_view_in_turns))
        self._contours_timer = _single_shot(self, self._refresh_contours)
        self._details_timer = _single_shot(self, pace.charged(self._refresh_details))

        self._hear_the_map()
        # Whoever holds the views may delete them before this object: no timer may outlive them.
        self.map.destroyed.connect(self._stop_timers)
        self.side.destroyed.connect(self._stop_timers)
        self._model_changed()

    def _build_views(self, shown: ShownModel) -> None:
        """The map with the data space beside it, their layers, the side panel and the prior's
        samples."""
        self.map = LatentMapView()
        self.data_space = DataSpaceView()
        self.data_space.hide()
        self.map.add_beside(self.data_space)
        self.layers = MapLayers(self.map, self.data_space, self.decoder)
        self.side = SidePanel()
        self.selection = SelectionView(self.map, self.data_space, self.side, self.state)
        self.encoding = EncodingController(shown, self.jobs, self.errorOccurred.emit, self)
        self.samples = PriorSamples(
            self.state, self.decoder, self.side, self.data_space, self._wait_for_drag, self
        )

    def _hear_the_map(self) -> None:
        self.map.cursorMoved.connect(self._on_view_cursor_moved)
        self.map.rangeChanged.connect(self._refresh_view)
        self.map.layersChanged.connect(self._on_view_layers_ticked)
        self.map.pointClicked.connect(self.select)
        self.map.pointHovered.connect(self.embedding.show_hovered)
        self.map.planeRequested.connect(self._on_view_plane_chosen)
        self.map.classRequested.connect(self.set_label)

    def _stop_timers(self, *_) -> None:
        for timer in self.findChildren(QTimer):
            timer.stop()

    @property
    def model(self) -> ExplorerModel | None:
        return self.decoder.model

    # The model on show, and its weights.
    def _model_changed(self) -> None:
        """Another model (or none): every view starts afresh from the state, in one pass. What it
        writes into the state is quiet: the views hear of the new model from `model_changed`."""
        with self.state.events.blocked():
            self._start_afresh()

    def _start_afresh(self) -> None:
        shown = self.shown
        self._weights_timer.stop()
        self.layers.forget()
        self.samples.due_now()
        self._applied_generation = -1
        on_show = shown.model
        if on_show is None or on_show.viewer is None:
            self.decoder.model = None
            show_data_space(self.map, self.data_space, self.side, self._image_pages(), False)
            self.layers.clear()
            self.map.controls.set_classes(())
            self.side.show_no_model()
            return
        model = ExplorerModel(on_show.viewer)
        if shown.weights is not None:
            model.load_weights(shown.weights)
        self.decoder.model = model
        self._applied_generation = shown.generation
        self.state.decoded_generation = shown.generation
        self.map.controls.set_latent_dim(model.latent_dim, embeddable=not model.planar)
        self.map.controls.show_plane_choice(self.state.plane_choice)
        self.map.show_layers(self.state.layers)
        show_data_space(self.map, self.data_space, self.side, self._image_pages(), model.planar)
        examples = self.state.examples
        names = _class_names(self.state.examples, model) if model.conditional else ()
        self.map.controls.set_classes(names)
        self.side.show_class_row(None)
        self.map.set_prior_available(on_show.capabilities.has_prior_density)
        self.map.set_points(None)
        self.map.set_path(None)
        self.map.set_drawn(None)
        self.selection.show(self.model)
        if examples is not None and model.planar:
            points = examples.images[:, :, 0, 0].double().numpy()
            self.data_space.set_data(points, examples.labels.numpy(), examples.class_names)
        else:
            self.data_space.set_data(None)
        self._weights_pace.due_now()
        self._rebuild_plane(refresh=False)
        self._refresh_view()
        self._refresh_all()

    def _image_pages(self) -> tuple[QWidget, ...]:
        """The pages that draw decodes as images (not for 2-D points)."""
        return (self.interpolation, self.traversals, self.draw)

    def _weights_changed(self, _generation: int) -> None:
        if self.model is not None and not self._weights_timer.isActive():
            self._weights_timer.start(int(self._weights_pace.wait_s(time.perf_counter()) * 1000))

    def _apply_weights(self) -> None:
        shown = self.shown
        if (
            self.model is None
            or shown.weights is None
            or shown.generation == self._applied_generation
        ):
            return
        self.model.load_weights(shown.weights)
        self._applied_generation = shown.generation
        self._weights_pace.started(time.perf_counter())
        self._refresh_all()
        self.state.decoded_generation = shown.generation

    # What the state says.
    def _on_model_encoded(self) -> None:
        if self.state.plane_choice.mode == PLANE_PRINCIPAL:
            self._rebuild_plane()  # the principal plane of the new codes; it redraws the points
        else:
            self._refresh_points()

    def _on_model_label(self) -> None:
        self.map.controls.show_class(self.state.label)
        self.samples.due_now()
        self._refresh_all()

    def _on_model_plane_choice(self) -> None:
        self.map.controls.show_plane_choice(self.state.plane_choice)
        self._rebuild_plane()

    def _on_model_layers(self) -> None:
        self.map.show_layers(self.state.layers)
        self._refresh_view()

    # What the user does on the map.
    def select(self, index: int) -> None:
        """Select example `index` (of the state's examples): its posterior is drawn on the map."""
        examples = self.state.examples
        if examples is None or self.model is None or not 0 <= index < len(examples):
            return
        # Announced together once the plane follows the selection, which may anchor it.
        with self.state.events.paused():
            self.state.selected = int(index)
            self.selection.show(self.model)
            if self.state.plane_choice.anchor == ANCHOR_SELECTED:
                self._rebuild_plane()

    def set_label(self, label: int) -> None:
        """The class a conditional decoder is given."""
        self.state.label = int(label)

    # What the user does on the map's controls.
    def _on_view_plane_chosen(self) -> None:
        self.state.plane_choice = self.map.controls.plane_choice()

    def _on_view_layers_ticked(self) -> None:
        self.state.layers = self.map.controls.layer_ticks()

    def _on_view_cursor_moved(self, x: float, y: float) -> None:
        self._last_cursor_move = time.perf_counter()
        self.state.cursor = np.array([x, y])
        self._refresh_cursor()

    def _reset_dead_codes(self, dead: list) -> None:
        """Move the dead codes of the explorer's copy onto random codes of the examples, and ask
        a running trainer to do the same."""
        encoded = self.state.encoded
        if self.model is None or encoded is None or not dead:
            return
        edited = self.model.reseed_codes(dead, encoded.codes, seed=encoded.generation)
        # The edited weights are the ones on show now: every view and the encoding follow them.
        self.shown.set_weights(edited, self.shown.step)
        self.deadCodeResetRequested.emit(list(dead))

    # Refreshing what the weights change.
    def _refresh_all(self) -> None:
        """The cursor's image now; the tiles, then everything else, on the next event-loop turns,
        so that a cursor move never waits behind more than one of them."""
        self._refresh_cursor()
        self._tiles_timer.start()
        self._details_timer.start()

    def _refresh_details(self) -> None:
        # New weights re-encode the selection quietly: `decoded_generation` announced them.
        with self.state.events.posterior.blocked():
            self.selection.show(self.model)
        self.samples.request()
        self.selection.draw_drawn()

    def _refresh_view(self) -> None:
        """After a pan or zoom: tiles (or the data-space mesh) and contours at once, before the
        plot repaints."""
        self._refresh_decodes()
        self._refresh_contours()

    def _refresh_view_in_turns(self) -> None:
        """After new weights: the tiles now (or, during a drag, a little later), the contours on
        the next event-loop turn."""
        if time.perf_counter() - self._last_tiles_time < MAX_TILE_LAG_S and self._wait_for_drag(
            self._tiles_timer
        ):
            return
        self._refresh_decodes()
        self._contours_timer.start()

    def _refresh_decodes(self) -> None:
        """The decoded tiles under the map (images), or the data space's mesh (2-D points)."""
        model = self.model
        if model is None:
            return
        if model.planar:
            self.layers.draw_mesh(model, self.state)
        elif self.state.layers.tiles and self.state.plane_decodes:
            self._last_tiles_time = time.perf_counter()
            self.layers.draw_tiles(model, self.state, self._applied_generation)

    def _refresh_contours(self) -> None:
        if self.model is not None:
            self.layers.draw_contours(self.model, self.state, self._applied_generation)
            self.viewRefreshed.emit()

    def _drag_quiet_s(self) -> float:
        """Seconds until the cursor may have paused (0 when it has): work that shares the cores
        with the GUI thread waits for it."""
        return max(0.0, self._last_cursor_move + DRAG_QUIET_S - time.perf_counter())

    def _wait_for_drag(self, timer: QTimer) -> bool:
        """During a drag, run `timer` again once the cursor may have paused; True if it waits."""
        if self._drag_quiet_s() == 0.0:
            return False
        timer.start(int(DRAG_QUIET_S * 1000))
        return True

    def _refresh_cursor(self) -> None:
        model = self.model
        if model is None or not self.state.plane_decodes:  # t-SNE: the hovered point instead
            return
        code = self.state.cursor_code()
        label = self.state.label
        if model.planar:
            point = model.decode_values(code[None], label)[0]
            self.data_space.set_cursor(point)
            self.side.show_cursor(None, code)
            self.side.cursor_label.setText(
                f"z = {format_code(code)}\ndecodes to x = {format_code(point)}"
            )
            self.data_space.repaint()
            return
        # Painted here and now: the image follows the cursor with no event-loop turn in between.
        self.side.show_cursor(self.decoder.decode(code[None])[0], code, paint_now=True)
        if model.conditional:
            classes = np.arange(model.num_classes)
            self.side.show_class_row(model.decode(np.repeat(code[None], len(classes), 0), classes))

    # The plane.
    def _rebuild_plane(self, refresh: bool = True) -> None:
        if self.model is None:
            return
        plane = self.state.chosen_plane(self.model.latent_dim)
        with self.state.events.plane.paused():  # announced once the map shows it
            self.state.plane = plane
            self.layers.plane_changed()
            self.map.set_axis_names(plane.axis_names)
            if refresh:
                self._refresh_all()
                self._refresh_points()
                self.selection.draw_path()

    def _refresh_points(self) -> None:
        encoded, examples = self.state.encoded, self.state.examples
        xy = None if encoded is None or examples is None else self.state.placed(encoded.codes)
        if xy is None:
            self.map.set_points(None)
            return
        if len(xy) != self.map.point_count():
            self.map.set_points(xy, examples.labels.numpy(), examples.class_names)
        else:
            self.map.move_points(xy)
