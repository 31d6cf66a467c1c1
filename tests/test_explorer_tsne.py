"""The map's t-SNE plane for latents above 2-D (openTSNE on a worker, through ModelJobs), its
hovered points decoded, the layers it cannot draw, and Home (resetViewAction) fitting the view."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from PySide6.QtGui import QAction, QKeySequence
from test_explorer_views import (
    _as_uint8,
    _explorer,
    _initial_state,
    _model_config,
    _reference_model,
    _show,
    _waiting_for,
)

from app.explorer.map_items import label_colours
from app.explorer.map_view import HOME_EXTENT
from app.state import PLANE_PRINCIPAL, PLANE_TSNE
from vae_core import latent_embedding
from vae_core.latent_embedding import EmbeddingCancelled, tsne_map

# A safety net for waits on a worker, not a budget: t-SNE of 100 codes is 750 iterations.
WORKER_WAIT_MS = 60_000


@pytest.fixture(scope="module")
def eight_dims():
    """An 8-D model, untrained: its encoder still spreads images apart, its decoder still varies."""
    config = _model_config(latent_dim=8)
    return config, _initial_state(config, seed=1)


class _RecordedCalls:
    """Wraps openTSNE's map: the thread of each call and how it ended; `gate` holds a call back
    until the test releases it (the first call only)."""

    def __init__(self, gate: bool = False):
        self.threads: list[threading.Thread] = []
        self.endings: list[str] = []
        self.started, self.release = threading.Event(), threading.Event()
        if not gate:
            self.release.set()

    def __call__(self, codes, **options):
        self.threads.append(threading.current_thread())
        self.started.set()
        self.release.wait()
        try:
            placed = tsne_map(codes, **options)
        except EmbeddingCancelled:
            self.endings.append("cancelled")
            raise
        self.endings.append("placed")
        return placed


def _choose_tsne(qtbot, explorer) -> None:
    with _waiting_for(qtbot, explorer, "embedding", timeout=WORKER_WAIT_MS):
        explorer.map.plane_combo.setCurrentText(PLANE_TSNE)


def _point_xy(explorer) -> np.ndarray:
    return np.stack(explorer.map.points.getData(), 1)


def test_tsne_is_offered_only_for_latents_above_two_dimensions(qtbot, eight_dims, trained_2d):
    combo_items = []
    for model_config in (trained_2d[0].model, eight_dims[0]):
        explorer = _explorer(qtbot, model_config)
        combo = explorer.map.plane_combo
        combo_items.append([combo.itemText(index) for index in range(combo.count())])
    assert PLANE_TSNE not in combo_items[0]
    assert PLANE_TSNE in combo_items[1]


def test_choosing_tsne_places_every_encoded_image_off_the_gui_thread(
    qtbot, eight_dims, small_glyphs, monkeypatch
):
    calls = _RecordedCalls()
    monkeypatch.setitem(latent_embedding.EMBEDDINGS, PLANE_TSNE, calls)
    model_config, state = eight_dims
    explorer = _explorer(qtbot, model_config, state, small_glyphs.test)
    with _waiting_for(qtbot, explorer, "embedding", timeout=WORKER_WAIT_MS):
        explorer.map.plane_combo.setCurrentText(PLANE_TSNE)
        # Asked, not computed: the GUI thread says so and goes on.
        assert explorer.embedding.note.text().startswith("Computing t-SNE of 100 codes…")
    assert len(calls.threads) == 1 and calls.threads[0] is not threading.main_thread()
    codes = explorer.state.encoded.codes
    expected = tsne_map(codes, seed=0)
    np.testing.assert_array_equal(explorer.state.embedding.xy, expected)
    # One point per encoded image, where t-SNE put it, coloured by its label.
    assert explorer.map.point_count() == len(codes) == len(small_glyphs.test)
    np.testing.assert_allclose(_point_xy(explorer), expected)
    colours = label_colours(len(small_glyphs.test.class_names))
    labels = small_glyphs.test.labels.numpy()
    brushes = [spot.brush().color().name() for spot in explorer.map.points.points()]
    assert brushes == [colours[label].name() for label in labels]
    assert explorer.map.plot.getPlotItem().getAxis("bottom").labelText == "t-SNE 1"
    # The view fits the map's points (t-SNE spreads them far past the tiles' home extent).
    (x0, x1), (y0, y1) = explorer.map.visible_range()
    assert x0 <= expected[:, 0].min() and expected[:, 0].max() <= x1
    assert y0 <= expected[:, 1].min() and expected[:, 1].max() <= y1


def test_hovering_a_tsne_point_decodes_its_images_code(qtbot, eight_dims, small_glyphs):
    model_config, state = eight_dims
    explorer = _explorer(qtbot, model_config, state, small_glyphs.test)
    _choose_tsne(qtbot, explorer)
    index = 7
    explorer.map.pointHovered.emit(index)
    model = _reference_model(model_config, state)
    image, label = small_glyphs.test.batch(torch.tensor([index]))
    with torch.no_grad():
        mean = model.encode(image).mean
        expected = _as_uint8(model.decode_mean(mean))[0]
    assert explorer.map.preview.isVisible()
    for shown in (explorer.map.preview.image(), explorer.side.decoded_view.image()):
        assert np.abs(shown.astype(int) - expected).max() <= 1
    # Not the input itself: the code's decode, with the image's label named.
    assert not np.array_equal(expected, _as_uint8(image)[0])
    name = small_glyphs.test.class_names[int(label[0])]
    assert f"test image {index}, label {name}" in explorer.side.cursor_label.text()
    explorer.map.pointHovered.emit(-1)
    assert not explorer.map.preview.isVisible()


def test_tiles_and_cursor_leave_with_tsne_and_come_back(qtbot, eight_dims, small_glyphs):
    model_config, state = eight_dims
    explorer = _explorer(qtbot, model_config, state, small_glyphs.test)
    map_view, note = explorer.map, explorer.embedding.note
    assert map_view.tiles.isVisible() and map_view.cursor.isVisible() and note.isHidden()
    _choose_tsne(qtbot, explorer)
    assert not map_view.tiles.isVisible() and not map_view.cursor.isVisible()
    assert not map_view.tiles_check.isEnabled() and not map_view.prior_check.isEnabled()
    assert "no inverse map" in map_view.tiles_check.toolTip()
    assert not any(curve.isVisible() for curve in map_view.contours)
    assert note.isVisible() and "no inverse map" in note.text()
    assert "Two dimensions and Principal components" in note.text()
    with _waiting_for(qtbot, explorer, "plane"):
        map_view.plane_combo.setCurrentText(PLANE_PRINCIPAL)
    assert map_view.tiles.isVisible() and map_view.cursor.isVisible() and note.isHidden()
    assert map_view.tiles_check.isEnabled() and map_view.prior_check.isEnabled()
    assert all(curve.isVisible() for curve in map_view.contours)
    # Back on a plane of codes: the view holds the tiles' home extent again, and the cursor decodes.
    (x0, x1), (y0, y1) = map_view.visible_range()
    assert x0 <= -HOME_EXTENT and x1 >= HOME_EXTENT and y0 <= -HOME_EXTENT and y1 >= HOME_EXTENT
    map_view.cursor.setPos(1.0, -0.5)
    assert explorer.side.decoded_view.image() is not None
    np.testing.assert_allclose(
        explorer.state.cursor_code(), explorer.state.plane.codes(np.array([[1.0, -0.5]]))[0]
    )


def test_tsne_clears_the_theory_layers_drawn_on_a_plane_of_codes(
    qtbot, shown_window, small_config, eight_dims, small_glyphs
):
    window = shown_window(small_config)
    explorer = window.explorer
    with _waiting_for(qtbot, explorer, "encoded"):
        _show(explorer, *eight_dims, small_glyphs.test)
    explorer.select(3)
    aggregate, posterior = window.seed.aggregate, window.seed.posterior_layers
    aggregate.density_check.setChecked(True)
    posterior.posterior_check.setChecked(True)
    drawn = (aggregate.density_layer, posterior.heat_map)
    qtbot.waitUntil(lambda: all(layer.image is not None for layer in drawn), timeout=WORKER_WAIT_MS)
    _choose_tsne(qtbot, explorer)
    assert all(layer.image is None for layer in drawn)


def test_a_model_change_while_computing_discards_the_stale_answer(
    qtbot, eight_dims, small_glyphs, monkeypatch
):
    calls = _RecordedCalls(gate=True)
    monkeypatch.setitem(latent_embedding.EMBEDDINGS, PLANE_TSNE, calls)
    model_config, state = eight_dims
    explorer = _explorer(qtbot, model_config, state, small_glyphs.test)
    explorer.map.plane_combo.setCurrentText(PLANE_TSNE)
    qtbot.waitUntil(calls.started.is_set, timeout=WORKER_WAIT_MS)  # the first map is under way
    placed = []
    explorer.state.events.embedding.connect(placed.append)
    other = _initial_state(model_config, seed=2)
    with _waiting_for(qtbot, explorer, "encoded"):
        _show(explorer, model_config, other, small_glyphs.test)
        calls.release.set()
    assert explorer.state.embedding is None and explorer.state.plane_decodes
    # The first model's map stops at its first look at the stop flag (no newer map asked yet).
    qtbot.waitUntil(lambda: len(calls.endings) == 1, timeout=WORKER_WAIT_MS)
    assert calls.endings == ["cancelled"]
    _choose_tsne(qtbot, explorer)
    assert calls.endings == ["cancelled", "placed"]
    # Only the new model's map was drawn.
    assert len(placed) == 1
    np.testing.assert_array_equal(placed[0].xy, tsne_map(explorer.state.encoded.codes, seed=0))
    np.testing.assert_allclose(_point_xy(explorer), placed[0].xy)


def test_home_fits_the_view_to_the_points_and_the_tiles(
    qtbot, shown_window, small_config, trained_2d, small_glyphs
):
    window = shown_window(small_config)
    explorer = window.explorer
    config, snapshot = trained_2d
    with _waiting_for(qtbot, explorer, "encoded"):
        _show(explorer, config.model, snapshot.model_state, small_glyphs.test)
    action = window.findChild(QAction, "resetViewAction")
    assert action.shortcut() == QKeySequence("Home")
    map_view = explorer.map
    map_view.view_box.translateBy(x=40.0, y=-25.0)
    (x0, x1), _ = map_view.visible_range()
    assert x0 > HOME_EXTENT  # panned off the prior's bulk
    action.trigger()
    (x0, x1), (y0, y1) = map_view.visible_range()
    points = np.concatenate([_point_xy(explorer), [[-HOME_EXTENT] * 2, [HOME_EXTENT] * 2]])
    (left, bottom), (right, top) = points.min(0), points.max(0)
    assert x0 <= left and right <= x1 and y0 <= bottom and top <= y1
    # Fitted, not merely covered: along the tighter axis, the extent and its margin only.
    assert min((x1 - x0) / (right - left), (y1 - y0) / (top - bottom)) <= 1.2
