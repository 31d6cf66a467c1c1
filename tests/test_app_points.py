"""2-D point clouds in the window: the controls pick a vector model, the explorer draws the data
space, and the previews draw points instead of 2x1 pictures."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6.QtWidgets import QPushButton

from app.explorer.data_space import mesh_polylines
from vae_core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from vae_core.data.points import POINT_CLOUDS
from vae_core.models import build_model

SIGNAL_TIMEOUT_MS = 10_000


@pytest.fixture
def window(shown_window):
    return shown_window(
        RunConfig(
            data=DataConfig(dataset="glyphs", size=600),
            model=ModelConfig(hidden=(16,), latent_dim=2, arch="conv"),
            train=TrainConfig(batch_size=50, max_steps=20, seed=0, device="cpu"),
        )
    )


@pytest.mark.parametrize("name", list(POINT_CLOUDS))
def test_choosing_a_point_cloud_switches_to_a_gaussian_mlp(window, name):
    controls = window.controls
    controls.dataset_combo.setCurrentText(name)
    assert controls.likelihood_combo.name() == "gaussian"
    assert controls.arch_combo.name() == "mlp"
    controls.dataset_combo.setCurrentText("glyphs")
    assert controls.likelihood_combo.name() == "bernoulli"


def test_the_user_may_pick_linear_but_conv_is_refused_with_one_line(qtbot, window):
    controls = window.controls
    controls.dataset_combo.setCurrentText("moons")
    controls.arch_combo.setCurrentText("linear")
    assert controls.config().model.arch == "linear"
    controls.arch_combo.setCurrentText("conv")
    with qtbot.waitSignal(window.errorShown, timeout=SIGNAL_TIMEOUT_MS) as shown:
        window.findChild(QPushButton, "trainButton").click()
    message = shown.args[0]
    assert "moons" in message and "conv" in message and "mlp" in message and "\n" not in message
    assert window.state.run.config is None and window.state.shown.model is None


def test_mesh_polylines_break_between_lines():
    rows = np.array([[[0.0, 0.0], [1.0, 0.0]]])  # one line of two points
    columns = np.array([[[0.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [1.0, 1.0]]])
    x, y = mesh_polylines(rows, columns)
    np.testing.assert_array_equal(x, [0, 1, np.nan, 0, 0, np.nan, 1, 1, np.nan])
    np.testing.assert_array_equal(y, [0, 0, np.nan, 0, 1, np.nan, 0, 1, np.nan])


def test_training_on_moons_shows_the_data_space_and_point_previews(qtbot, window):
    window.controls.dataset_combo.setCurrentText("moons")
    window.controls.apply_config(
        RunConfig(
            data=DataConfig(dataset="moons", size=400),
            model=ModelConfig(likelihood="gaussian", arch="mlp", hidden=(16,), latent_dim=2),
            train=TrainConfig(batch_size=50, max_steps=20, seed=0, device="cpu"),
        )
    )
    with qtbot.waitSignal(window.runs.runEnded, timeout=SIGNAL_TIMEOUT_MS):
        window.findChild(QPushButton, "trainButton").click()
    explorer = window.explorer
    final = window.state.run.latest.model_state
    # Weights are applied at most a few times a second: the last ones may wait for their turn.
    qtbot.waitUntil(
        lambda: window.state.shown.explorer.decoded_generation == window.state.shown.generation,
        timeout=SIGNAL_TIMEOUT_MS,
    )
    state = explorer.model.model.state_dict()
    assert all(torch.equal(state[name], value) for name, value in final.items())
    # Pages that draw decodes as images stand aside for point data.
    assert not any(
        page.isEnabled() for page in (explorer.interpolation, explorer.traversals, explorer.draw)
    )
    space = explorer.data_space
    assert space.isVisible() and not explorer.map.tiles_check.isEnabled()
    # The data as they are, coloured by their two moons.
    shown = space.data_points.data
    examples = window.state.shown.explorer.examples
    test_points = examples.images[:, :, 0, 0].numpy()
    np.testing.assert_allclose(np.stack([shown["x"], shown["y"]], 1), test_points, rtol=1e-6)
    assert len({brush.color().name() for brush in shown["brush"]}) == 2
    # The mesh: 15 rows and 15 columns, each a decoded line of the latent grid.
    mesh_x, _ = space.mesh.getData()
    assert np.isnan(mesh_x).sum() == 30

    # The cursor's decoded point follows the cursor: it is the decoder's mean at the cursor's code.
    model = build_model(window.state.run.config.model)
    model.load_state_dict(final)
    model.eval()
    for position in ((0.0, 0.0), (1.5, -1.0)):
        explorer.map.set_cursor_position(*position)
        with torch.no_grad():
            expected = (
                model.decode_mean(torch.tensor([position], dtype=torch.float32)).reshape(2).numpy()
            )
        np.testing.assert_allclose(space.cursor_position(), expected, atol=1e-5)

    # Previews draw points: inputs with their reconstructions, and prior draws.
    previews = window.previews
    assert previews.reconstruction_stack.currentWidget() is previews.reconstruction_points
    assert previews.samples_stack.currentWidget() is previews.sample_points
    inputs_x, _ = previews.reconstruction_points.data_points.getData()
    sample_x, _ = previews.sample_points.samples.getData()
    assert len(inputs_x) == min(300, len(examples)) and len(sample_x) == 300
    assert np.isfinite(sample_x).all()
