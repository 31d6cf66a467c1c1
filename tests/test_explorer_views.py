"""The latent explorer's widgets, driven as the window drives them (pytest-qt, offscreen)."""

from __future__ import annotations

import math
import struct
from contextlib import contextmanager

import numpy as np
import pyqtgraph as pg
import pytest
import torch
from PySide6.QtCore import QPointF
from PySide6.QtGui import QImage, QImageReader
from PySide6.QtWidgets import QWidget

from app.controllers.explorer import LatentExplorer
from app.state import (
    ANCHOR_SELECTED,
    PLANE_PRINCIPAL,
    LayerTicks,
    ModelOnShow,
    PlaneChoice,
    ShownModel,
)
from vae_core.config import ModelConfig, RunConfig
from vae_core.figures.posterior import observed_selection
from vae_core.latent import to_uint8_images
from vae_core.models import build_model


def _model_config(**options) -> ModelConfig:
    settings = {
        "input_shape": (1, 28, 28),
        "num_classes": 10,
        "latent_dim": 2,
        "hidden": (64,),
        **options,
    }
    return ModelConfig(**settings)


def _initial_state(config: ModelConfig, seed: int) -> dict:
    """The weights a model of `config` starts from with `seed`: a second, different model."""
    torch.manual_seed(seed)
    return build_model(config).state_dict()


@pytest.fixture(scope="module")
def trained(trained_2d):
    """The shared 2-D model: its model config and last snapshot."""
    config, snapshot = trained_2d
    return config.model, snapshot


@contextmanager
def _waiting_for(qtbot, explorer: LatentExplorer, name: str, timeout: int = 5000):
    """Wait, after the block, until the explorer state announces a change of `name`."""
    changes = []
    announced = getattr(explorer.state.events, name)
    announced.connect(changes.append)
    yield
    try:
        qtbot.waitUntil(lambda: bool(changes), timeout=timeout)
    finally:
        announced.disconnect(changes.append)


def _show(explorer: LatentExplorer, model_config: ModelConfig, state=None, data=None) -> None:
    """Put a model of `model_config` with weights `state` (its own initial ones when None) on show."""
    viewer = build_model(model_config)
    weights = viewer.state_dict() if state is None else state
    config = RunConfig(model=model_config)
    explorer.shown.show(
        ModelOnShow(config, viewer.capabilities, "checkpoint", data, viewer=viewer), weights
    )


def _explorer(qtbot, model_config: ModelConfig, state=None, data=None) -> LatentExplorer:
    explorer = LatentExplorer(ShownModel())
    for widget in (explorer.map, explorer.side, *(page for _, page in explorer.pages)):
        qtbot.addWidget(widget)
    explorer.map.resize(500, 500)
    explorer.map.show()
    if data is None:
        _show(explorer, model_config, state)
    else:
        with _waiting_for(qtbot, explorer, "encoded"):
            _show(explorer, model_config, state, data)
    return explorer


@pytest.fixture
def explorer(qtbot, trained, small_glyphs):
    model_config, snapshot = trained
    return _explorer(qtbot, model_config, snapshot.model_state, small_glyphs.test)


def _reference_model(model_config, state):
    """An independent copy of the trained model, to check what the explorer shows."""
    model = build_model(model_config)
    model.load_state_dict(state)
    return model.eval()


def _as_uint8(images: torch.Tensor) -> np.ndarray:
    return np.clip(images.detach().numpy() * 255 + 0.5, 0, 255).astype(np.uint8)[:, 0]


def test_named_widgets_exist(explorer):
    plot = explorer.map.findChild(pg.PlotWidget, "latentPlot")
    assert plot is not None and plot.accessibleName()
    cursor = [item for item in plot.getPlotItem().items if item.objectName() == "latentCursor"]
    assert len(cursor) == 1 and hasattr(cursor[0], "setPos")
    decoded = explorer.side.findChild(QWidget, "decodedView")
    assert decoded is not None and decoded.accessibleName() == "decodedView"
    assert [name for name, _ in explorer.pages] == [
        "Interpolation",
        "Traversals",
        "Codebook",
        "Draw",
    ]
    assert explorer.pages[0][1].findChild(QWidget, "interpolationView") is not None


def test_moving_the_cursor_decodes_the_new_point_at_once(explorer, trained):
    model = _reference_model(trained[0], trained[1].model_state)
    plot = explorer.map.findChild(pg.PlotWidget, "latentPlot")
    cursor = next(item for item in plot.getPlotItem().items if item.objectName() == "latentCursor")
    decoded = explorer.side.findChild(QWidget, "decodedView")
    cursor.setPos(-1.5, 0.5)
    before = decoded.image().copy()
    cursor.setPos(1.5, -1.0)
    # Decoded in the move's own slot: nothing is queued for a later event-loop turn.
    after = decoded.image()
    assert not np.array_equal(before, after)
    with torch.no_grad():
        expected = _as_uint8(model.decode_mean(torch.tensor([[1.5, -1.0]])))[0]
    assert np.abs(after.astype(int) - expected).max() <= 1


def test_tiles_show_the_decodes_of_their_centres_upright(explorer, trained, qtbot):
    model = _reference_model(trained[0], trained[1].model_state)
    explorer.map.view_box.setRange(xRange=(-1.0, 2.0), yRange=(-2.0, 1.0), padding=0)
    qtbot.waitUntil(
        lambda: explorer.map.tiles.mapRectToParent(explorer.map.tiles.boundingRect()).left() > -1.3
    )
    tiles = explorer.map.tiles
    mosaic = tiles.image
    assert mosaic.shape[0] % 28 == 0 and mosaic.shape[1] % 28 == 0
    rows, columns = mosaic.shape[0] // 28, mosaic.shape[1] // 28
    assert rows <= 20 and columns <= 20
    covered = tiles.mapRectToParent(tiles.boundingRect())
    (x0, x1), (y0, y1) = explorer.map.visible_range()
    assert (
        covered.left() <= x0
        and covered.right() >= x1
        and covered.top() <= y0
        and covered.bottom() >= y1
    )
    size = covered.width() / columns
    for column, row in [(0, 0), (columns - 1, rows - 1), (columns // 2, 1)]:
        centre = QPointF(
            covered.left() + (column + 0.5) * size, covered.bottom() - (row + 0.5) * size
        )
        pixel = tiles.mapFromParent(centre)
        assert (int(pixel.x()) // 28, int(pixel.y()) // 28) == (column, row)
        with torch.no_grad():
            expected = _as_uint8(model.decode_mean(torch.tensor([[centre.x(), centre.y()]])))[0]
        shown = mosaic[row * 28 : (row + 1) * 28, column * 28 : (column + 1) * 28]
        assert np.abs(shown.astype(int) - expected).max() <= 1
    # The tile's top pixel row is drawn above its bottom row: images are upright.
    top = tiles.mapToParent(QPointF(0.5, 0.5))
    bottom = tiles.mapToParent(QPointF(0.5, 27.5))
    assert top.y() > bottom.y()


def test_scatter_shows_the_test_set_at_its_posterior_means(explorer, trained, small_glyphs):
    model = _reference_model(trained[0], trained[1].model_state)
    images, labels = small_glyphs.test.batch(torch.arange(len(small_glyphs.test)))
    with torch.no_grad():
        means = model.encode(images).mean.numpy()
    x, y = explorer.map.points.getData()
    np.testing.assert_allclose(np.stack([x, y], 1), means, atol=1e-5)
    legend_names = [label.text for _, label in explorer.map.legend.items]
    assert legend_names == list(small_glyphs.test.class_names)
    brushes = explorer.map.points.data["brush"]
    same_label = np.flatnonzero(labels.numpy() == labels[0].item())
    assert all(brushes[i].color() == brushes[same_label[0]].color() for i in same_label)


def test_clicking_a_point_selects_it_and_draws_its_posterior(
    explorer, trained, small_glyphs, qtbot
):
    model = _reference_model(trained[0], trained[1].model_state)
    index = 7
    x, y = explorer.map.points.getData()
    explorer.map.view_box.setRange(
        xRange=(x[index] - 0.5, x[index] + 0.5), yRange=(y[index] - 0.5, y[index] + 0.5)
    )
    qtbot.wait(10)
    spots = explorer.map.points.pointsAt(QPointF(x[index], y[index]))
    assert any(spot.data() == index for spot in spots)
    with _waiting_for(qtbot, explorer, "posterior"):
        explorer.map.points.sigClicked.emit(
            explorer.map.points, [s for s in spots if s.data() == index], None
        )
    # A Bernoulli model's selection is the binary image it observes (as evaluate draws it).
    observed = observed_selection(model, small_glyphs.test, index).image[None]
    with torch.no_grad():
        posterior = model.encode(observed)
    mean, std = posterior.mean[0].numpy(), posterior.std[0].numpy()
    for curve, sigmas in zip(explorer.map.selection_ellipses, (1.0, 2.0)):
        outline_x, outline_y = curve.getData()
        distance = np.sqrt(
            ((outline_x - mean[0]) / std[0]) ** 2 + ((outline_y - mean[1]) / std[1]) ** 2
        )
        np.testing.assert_allclose(distance, sigmas, rtol=1e-4)
    side = explorer.side
    expected_input = to_uint8_images(observed.numpy())[0]
    np.testing.assert_array_equal(
        side.findChild(QWidget, "selectedInputView").image(), expected_input
    )
    assert side.findChild(QWidget, "reconstructionView").image().shape == (28, 28)
    assert f"{mean[0]:+7.3f}" in side.posterior_label.text()


def test_hovering_a_point_shows_its_image(explorer, small_glyphs):
    explorer.map.pointHovered.emit(3)
    assert explorer.map.preview.isVisible()
    np.testing.assert_array_equal(
        explorer.map.preview.image(), small_glyphs.test.images[3, 0].numpy()
    )
    explorer.map.pointHovered.emit(-1)
    assert not explorer.map.preview.isVisible()


def test_prior_contours_of_a_standard_normal_are_circles_of_one_two_three_sigma(explorer, qtbot):
    with qtbot.waitSignal(explorer.viewRefreshed):
        explorer.map.view_box.setRange(xRange=(-4.0, 4.0), yRange=(-4.0, 4.0), padding=0)
    for curve, radius in zip(explorer.map.contours, (1.0, 2.0, 3.0)):
        x, y = curve.getData()
        assert len(x) > 20
        np.testing.assert_allclose(np.hypot(x, y), radius, atol=0.02)


def test_weights_are_throttled_and_the_latest_wins(qtbot, trained):
    model_config, snapshot = trained
    explorer = _explorer(qtbot, model_config)
    other = _initial_state(model_config, seed=5)
    applied = []
    explorer.state.events.decoded_generation.connect(
        lambda: applied.append(explorer.model.model.state_dict())
    )
    with _waiting_for(qtbot, explorer, "decoded_generation"):
        for _ in range(10):
            explorer.shown.set_weights(snapshot.model_state, None)
        explorer.shown.set_weights(other, None)
    assert len(applied) == 1
    for name, value in other.items():
        torch.testing.assert_close(applied[0][name], value)
    decoded = explorer.side.findChild(QWidget, "decodedView").image()
    with torch.no_grad():
        expected = _as_uint8(_reference_model(model_config, other).decode_mean(torch.zeros(1, 2)))[
            0
        ]
    assert np.abs(decoded.astype(int) - expected).max() <= 1


def test_tiles_follow_new_weights_even_while_the_cursor_is_dragged(explorer, trained, qtbot):
    model_config, _ = trained
    other = _initial_state(model_config, seed=7)
    explorer.map.cursor.setPos(0.1, 0.1)
    with _waiting_for(qtbot, explorer, "decoded_generation"):
        explorer.shown.set_weights(other, None)
    explorer.map.cursor.setPos(0.2, 0.1)  # a drag goes on: the tiles wait, but not for ever
    model = _reference_model(model_config, other)
    tiles = explorer.map.tiles
    corner = tiles.mapRectToParent(tiles.boundingRect())
    size = corner.width() / (tiles.image.shape[1] // 28)
    centre = (corner.left() + size / 2, corner.bottom() - size / 2)
    with torch.no_grad():
        expected = _as_uint8(model.decode_mean(torch.tensor([centre], dtype=torch.float32)))[0]
    qtbot.waitUntil(
        lambda: np.abs(explorer.map.tiles.image[:28, :28].astype(int) - expected).max() <= 1,
        timeout=3000,
    )


def test_new_weights_move_the_test_set_to_its_new_codes(qtbot, trained, small_glyphs):
    model_config, snapshot = trained
    explorer = _explorer(qtbot, model_config, data=small_glyphs.test)
    before = np.stack(explorer.map.points.getData(), 1)
    with _waiting_for(qtbot, explorer, "encoded"):
        explorer.shown.set_weights(snapshot.model_state, None)
    model = _reference_model(model_config, snapshot.model_state)
    with torch.no_grad():
        means = model.encode(
            small_glyphs.test.batch(torch.arange(len(small_glyphs.test)))[0]
        ).mean.numpy()
    after = np.stack(explorer.map.points.getData(), 1)
    np.testing.assert_allclose(after, means, atol=1e-5)
    assert not np.allclose(before, after)


@pytest.fixture(scope="module")
def eight_dims():
    """An 8-D model, untrained: its encoder still spreads images apart, its decoder still varies."""
    config = _model_config(latent_dim=8)
    return config, _initial_state(config, seed=1)


def test_latent_dimension_eight_plane_of_two_dimensions(qtbot, eight_dims, small_glyphs):
    model_config, state = eight_dims
    explorer = _explorer(qtbot, model_config, state, small_glyphs.test)
    map_view = explorer.map
    assert map_view.plane_combo.isVisibleTo(map_view)
    with _waiting_for(qtbot, explorer, "plane"):
        map_view.x_dim_spin.setValue(3)
    with _waiting_for(qtbot, explorer, "plane"):
        map_view.y_dim_spin.setValue(5)
    map_view.cursor.setPos(0.75, -1.25)
    expected = np.zeros(8)
    expected[3], expected[5] = 0.75, -1.25
    np.testing.assert_allclose(explorer.state.cursor_code(), expected)
    x, y = map_view.points.getData()
    np.testing.assert_allclose(np.stack([x, y], 1), explorer.state.encoded.codes[:, [3, 5]])
    # Anchored at the selected image: the dimensions off the map take its code.
    explorer.select(4)
    with _waiting_for(qtbot, explorer, "plane"):
        map_view.anchor_combo.setCurrentText(ANCHOR_SELECTED)
    code = explorer.state.cursor_code()
    selected = explorer.state.selected_code()
    off_plane = [d for d in range(8) if d not in (3, 5)]
    np.testing.assert_allclose(code[off_plane], selected[off_plane])
    np.testing.assert_allclose(code[[3, 5]], [0.75, -1.25])


def test_latent_dimension_eight_principal_plane(qtbot, eight_dims, small_glyphs):
    model_config, state = eight_dims
    explorer = _explorer(qtbot, model_config, state, small_glyphs.test)
    with _waiting_for(qtbot, explorer, "plane"):
        explorer.map.plane_combo.setCurrentText(PLANE_PRINCIPAL)
    codes = explorer.state.encoded.codes
    centred = codes - codes.mean(0)
    eigenvalues, eigenvectors = np.linalg.eigh(centred.T @ centred)
    top = eigenvectors[:, ::-1][:, :2].T
    np.testing.assert_allclose(
        np.abs(np.sum(explorer.state.plane.basis * top, axis=1)), 1.0, atol=1e-6
    )
    x, y = explorer.map.points.getData()
    projected = np.stack([x, y], 1)
    # Along the first two principal components the spread is the two largest eigenvalues.
    np.testing.assert_allclose(
        np.var(projected, axis=0) * len(codes), eigenvalues[::-1][:2], rtol=1e-6
    )
    explorer.map.cursor.setPos(1.0, 0.0)
    np.testing.assert_allclose(
        explorer.state.cursor_code(), codes.mean(0) + explorer.state.plane.basis[0]
    )


def test_clear_blanks_every_view(explorer):
    explorer.shown.show(None)
    assert explorer.side.findChild(QWidget, "decodedView").image() is None
    assert explorer.map.tiles.image is None
    assert len(explorer.map.points.getData()[0]) == 0


# Interpolation.
def _interpolation_ready(explorer, frames=6, method="linear"):
    page = explorer.interpolation
    page.show()
    page.count_spin.setValue(frames)
    page.method_combo.setCurrentText(method)
    page.set_end("start", np.array([-2.0, 0.5]))
    page.set_end("end", np.array([1.5, 1.0]))
    return page


@pytest.mark.parametrize("method", ["linear", "spherical"])
def test_interpolation_gives_n_frames_whose_ends_decode_the_picks(explorer, trained, method):
    model = _reference_model(trained[0], trained[1].model_state)
    page = _interpolation_ready(explorer, frames=7, method=method)
    view = page.findChild(QWidget, "interpolationView")
    assert len(page.frames) == 7
    with torch.no_grad():
        ends = _as_uint8(model.decode_mean(torch.tensor([[-2.0, 0.5], [1.5, 1.0]])))
    assert np.abs(page.frames[0].astype(int) - ends[0]).max() <= 1
    assert np.abs(page.frames[-1].astype(int) - ends[1]).max() <= 1
    np.testing.assert_array_equal(view.cell_image(6), page.frames[6])
    path_x, _ = explorer.map.path.getData()
    assert len(path_x) == 7


def test_interpolation_ends_follow_the_cursor_and_the_selection(explorer):
    page = explorer.interpolation
    page.show()
    explorer.map.cursor.setPos(0.25, -0.5)
    page.findChild(QWidget, "startFromCursorButton").click()
    explorer.select(2)
    page.findChild(QWidget, "endFromSelectedButton").click()
    np.testing.assert_allclose(page.codes[0], [0.25, -0.5])
    np.testing.assert_allclose(page.codes[-1], explorer.state.selected_code())


def test_interpolation_plays_as_an_animation(explorer, qtbot):
    page = _interpolation_ready(explorer, frames=4)
    page.play_button.click()
    shown = []
    for _ in range(3):
        qtbot.waitUntil(
            lambda: page.player.image() is not None and (not shown or page._frame != shown[-1])
        )
        shown.append(page._frame)
    assert len(set(shown)) >= 2
    page.play_button.click()
    assert not page._timer.isActive()


def test_export_writes_a_valid_png_strip(explorer, tmp_path, qtbot):
    page = _interpolation_ready(explorer, frames=5)
    path = tmp_path / "strip.png"
    with qtbot.waitSignal(page.exported) as exported:
        page.export_png(path)  # written on a worker
    assert exported.args == [str(path)]
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = QImage(str(path))
    assert (image.width(), image.height()) == ((5 * 29 - 1) * 4, 28 * 4)


def test_export_writes_an_animated_gif_with_one_image_per_frame(explorer, tmp_path, qtbot):
    page = _interpolation_ready(explorer, frames=6)
    path = tmp_path / "path.gif"
    with qtbot.waitSignal(page.exported):
        page.export_gif(path)
    data = path.read_bytes()
    assert data[:6] == b"GIF89a"
    assert struct.unpack("<HH", data[6:10]) == (112, 112)
    reader = QImageReader(str(path))
    assert reader.imageCount() == 6
    for frame in page.frames:
        image = reader.read().convertToFormat(QImage.Format.Format_Grayscale8)
        pixels = np.array(image.constBits(), dtype=np.uint8).reshape(112, image.bytesPerLine())[
            :, :112
        ]
        np.testing.assert_array_equal(pixels, np.repeat(np.repeat(frame, 4, 0), 4, 1))


# Traversals.
def test_traversal_rows_are_ordered_by_kl_and_change_along_their_dimension_only(
    qtbot, eight_dims, small_glyphs
):
    model_config, state = eight_dims
    explorer = _explorer(qtbot, model_config, state, small_glyphs.test)
    page = explorer.traversals
    page.show()
    kl = np.array([0.1, 3.0, 0.0, 2.0, 5.0, 0.2, 1.0, 0.3])
    explorer.state.kl_per_dim = kl
    assert page.order == [4, 1, 3, 6, 7, 5, 0, 2]
    assert page.images.shape == (8, 11, 28, 28)
    model = _reference_model(model_config, state)
    for row, dimension in enumerate(page.order):
        codes = page.codes[row]
        np.testing.assert_allclose(codes[:, dimension], np.linspace(-3, 3, 11))
        np.testing.assert_array_equal(np.delete(codes, dimension, axis=1), 0.0)
        with torch.no_grad():
            expected = _as_uint8(model.decode_mean(torch.as_tensor(codes, dtype=torch.float32)))
        assert np.abs(page.images[row].astype(int) - expected).max() <= 1


def test_traversals_measure_kl_on_the_test_data_when_not_given(explorer, trained, small_glyphs):
    model = _reference_model(trained[0], trained[1].model_state)
    explorer.traversals.show()
    with torch.no_grad():
        images, _ = small_glyphs.test.batch(torch.arange(len(small_glyphs.test)))
        kl = model.encode(images).kl_standard_normal().mean(0).numpy()
    assert explorer.traversals.order == list(np.argsort(-kl))


def test_traversals_measure_kl_afresh_when_weights_arrive(qtbot, trained, small_glyphs):
    model_config, snapshot = trained
    explorer = _explorer(qtbot, model_config, data=small_glyphs.test)
    explorer.traversals.show()
    before = explorer.state.encoded.kl_per_dim.copy()
    explorer.shown.set_weights(snapshot.model_state, None)
    qtbot.waitUntil(
        lambda: explorer.state.encoded.generation == explorer.shown.generation, timeout=5000
    )
    model = _reference_model(model_config, snapshot.model_state)
    with torch.no_grad():
        images, _ = small_glyphs.test.batch(torch.arange(len(small_glyphs.test)))
        kl = model.encode(images).kl_standard_normal().mean(0).numpy()
    np.testing.assert_allclose(explorer.state.encoded.kl_per_dim, kl, rtol=1e-5)
    assert not np.allclose(before, kl)
    qtbot.waitUntil(lambda: f"total KL {kl.sum():.2f}" in explorer.traversals.summary.text())


# Drawing and samples.
def test_a_drawing_is_encoded_onto_the_map_with_its_reconstruction(explorer, trained):
    model = _reference_model(trained[0], trained[1].model_state)
    page = explorer.draw
    page.show()
    page.canvas.draw_line(QPointF(100, 30), QPointF(110, 200))
    drawing = page.canvas.pixels()
    assert drawing.shape == (28, 28) and drawing.max() > 0.9 and drawing[:, :8].max() == 0
    with torch.no_grad():
        posterior = model.encode(torch.as_tensor(drawing, dtype=torch.float32)[None, None])
    np.testing.assert_allclose(page.posterior[0], posterior.mean[0].numpy(), atol=1e-5)
    outline_x, outline_y = explorer.map.drawn_ellipses[0].getData()
    mean, std = posterior.mean[0].numpy(), posterior.std[0].numpy()
    np.testing.assert_allclose(
        np.hypot((outline_x - mean[0]) / std[0], (outline_y - mean[1]) / std[1]), 1.0, rtol=1e-4
    )
    assert page.reconstruction_view.image().shape == (28, 28)
    page.clear_button.click()
    assert page.posterior is None and len(explorer.map.drawn_ellipses[0].getData()[0]) == 0


def test_prior_samples_are_shown_and_renewed(explorer):
    samples = explorer.side.samples_view
    first = samples.image().copy()
    assert first.shape == (
        2 * 30 - 2,
        8 * 30 - 2,
    )  # two rows of eight 28-pixel samples, 2 pixels apart
    explorer.side.resample_button.click()
    assert not np.array_equal(first, samples.image())


def test_the_maps_choices_live_in_the_state_and_the_controls_draw_them(
    qtbot, eight_dims, small_glyphs
):
    """The plane, the layer ticks and the class: a control writes the state, and the state, set
    by anyone (a lesson, a test), is what the controls show and the map draws."""
    model_config, state = eight_dims
    explorer = _explorer(qtbot, model_config, state, small_glyphs.test)
    map_view, choices = explorer.map, explorer.state
    map_view.x_dim_spin.setValue(3)
    assert choices.plane_choice == PlaneChoice(x=3, y=1)
    assert choices.plane.axis_names == ("z3", "z1")
    choices.plane_choice = PlaneChoice(x=6, y=2, anchor=ANCHOR_SELECTED)
    assert (map_view.x_dim_spin.value(), map_view.y_dim_spin.value()) == (6, 2)
    assert map_view.anchor_combo.currentText() == ANCHOR_SELECTED
    assert choices.plane.axis_names == ("z6", "z2")
    map_view.points_check.setChecked(False)
    assert choices.layers == LayerTicks(points=False)
    assert not map_view.points.isVisible()
    choices.layers = LayerTicks(tiles=False)
    assert map_view.points_check.isChecked() and not map_view.tiles_check.isChecked()
    assert map_view.points.isVisible() and not map_view.tiles.isVisible()
    # Another model keeps the ticks and the anchor, and starts on its first two dimensions.
    _show(explorer, model_config, state)
    assert choices.plane_choice == PlaneChoice(anchor=ANCHOR_SELECTED)
    assert map_view.x_dim_spin.value() == 0 and not map_view.tiles_check.isChecked()


# Other model families.
def test_conditional_decoder_follows_the_chosen_class(qtbot, small_glyphs):
    model_config = _model_config(family="cvae")
    state = _initial_state(model_config, seed=2)
    explorer = _explorer(qtbot, model_config, state, small_glyphs.test)
    combo = explorer.map.class_combo
    assert combo.isVisibleTo(explorer.map) and combo.count() == 10
    explorer.map.cursor.setPos(0.5, 0.5)
    before = explorer.side.decoded_view.image().copy()
    tiles_before = explorer.map.tiles.image.copy()
    with _waiting_for(qtbot, explorer, "label"), qtbot.waitSignal(explorer.viewRefreshed):
        combo.setCurrentIndex(3)
    assert explorer.state.label == 3
    model = _reference_model(model_config, state)
    with torch.no_grad():
        expected = _as_uint8(model.decode_mean(torch.tensor([[0.5, 0.5]]), torch.tensor([3])))[0]
        every_class = _as_uint8(
            model.decode_mean(torch.tensor([[0.5, 0.5]] * 10), torch.arange(10))
        )
    shown = explorer.side.decoded_view.image()
    assert not np.array_equal(before, shown)
    assert np.abs(shown.astype(int) - expected).max() <= 1
    assert not np.array_equal(tiles_before, explorer.map.tiles.image)
    row = explorer.side.class_row
    for label in range(10):
        assert np.abs(row.cell_image(label).astype(int) - every_class[label]).max() <= 1


def test_vq_vae_map_uses_principal_components_of_pre_quantisation_codes(qtbot, small_glyphs):
    model_config = _model_config(
        family="vqvae", code_prior="categorical", code_positions=4, codebook_size=16
    )
    state = _initial_state(model_config, seed=3)
    explorer = _explorer(qtbot, model_config, state, small_glyphs.test)
    assert explorer.map.plane_combo.currentText() == PLANE_PRINCIPAL
    model = _reference_model(model_config, state)
    images, _ = small_glyphs.test.batch(torch.arange(len(small_glyphs.test)))
    with torch.no_grad():
        codes = model.encode(images).flatten(1).double().numpy()  # (B, N * D)
    np.testing.assert_allclose(explorer.state.encoded.codes, codes, atol=1e-5)
    assert explorer.state.plane.axis_names == ("PC1", "PC2")
    explorer.map.cursor.setPos(0.3, -0.2)
    code = explorer.state.cursor_code()
    with torch.no_grad():
        expected = _as_uint8(
            model.decode_mean(torch.as_tensor(code, dtype=torch.float32).view(1, 4, 2))
        )[0]
    assert np.abs(explorer.side.decoded_view.image().astype(int) - expected).max() <= 1
    assert all(len(curve.getData()[0]) == 0 for curve in explorer.map.contours)


def test_codebook_page_counts_codes_and_resets_dead_ones(qtbot, small_glyphs):
    model_config = _model_config(
        family="vqvae", code_prior="categorical", code_positions=4, codebook_size=16
    )
    state = _initial_state(model_config, seed=3)
    # Codes far from every encoder output are never chosen: dead.
    state["quantizer.codebook"][[3, 7]] = 1000.0
    explorer = _explorer(qtbot, model_config, state, small_glyphs.test)
    page = explorer.codebook
    page.show()
    model = _reference_model(model_config, state)
    images, _ = small_glyphs.test.batch(torch.arange(len(small_glyphs.test)))
    with torch.no_grad():
        indices = model.code_indices(images).numpy()
    counts = np.bincount(indices.ravel(), minlength=16)
    np.testing.assert_array_equal(page.counts, counts)
    share = counts / counts.sum()
    expected_perplexity = math.exp(-np.sum(share[share > 0] * np.log(share[share > 0])))
    assert page.perplexity() == pytest.approx(expected_perplexity, rel=1e-5)
    np.testing.assert_allclose(page.usage_bars.opts["height"], 100 * share)
    assert page.history[-1][1] == pytest.approx(expected_perplexity, rel=1e-5)

    used = int(np.argmax(counts))
    page.choose_code(used)
    with torch.no_grad():
        expected = _as_uint8(model.decode_indices(torch.full((1, 4), used)))[0]
    assert np.abs(page.code_view.image().astype(int) - expected).max() <= 1
    users = np.flatnonzero((indices == used).any(1))
    assert page.examples_view.image() is not None and len(users) > 0

    dead = np.flatnonzero(counts == 0)
    assert {3, 7} <= set(dead.tolist())
    requested = []
    explorer.deadCodeResetRequested.connect(requested.append)
    with _waiting_for(qtbot, explorer, "encoded"):
        page.reset_button.click()
    assert requested == [dead.tolist()]
    codebook = explorer.model.codebook()
    vectors = explorer.state.encoded.codes.reshape(-1, 2)
    for index in dead:
        assert np.min(np.linalg.norm(vectors - codebook[index], axis=1)) < 1e-6
    assert np.count_nonzero(page.counts == 0) < len(dead)


def test_codebook_page_explains_itself_for_other_families(explorer):
    page = explorer.codebook
    page.show()
    assert page.message.isVisible() and not page.content.isVisible()
