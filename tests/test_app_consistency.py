"""What a user saw break when the window's state had no owner: models of another shape opened one
after the other, and the test set's scatter vanishing while a run trains."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PySide6.QtWidgets import QPushButton, QWidget

from vae_core.config import DataConfig, ModelConfig, RunConfig, TrainConfig

TIMEOUT_MS = 15_000


def _config(dataset: str, max_steps: int) -> RunConfig:
    return RunConfig(
        data=DataConfig(dataset=dataset, size=600),
        model=ModelConfig(hidden=(32,), latent_dim=2),
        train=TrainConfig(batch_size=50, epochs=1000, max_steps=max_steps, seed=0, device="cpu"),
    )


def _train_and_save(qtbot, window, config: RunConfig, path) -> None:
    window.controls.apply_config(config)
    with qtbot.waitSignal(
        window.runs.runEnded, timeout=TIMEOUT_MS, check_params_cb=lambda r: r == "finished"
    ):
        window.findChild(QPushButton, "trainButton").click()
    with qtbot.waitSignal(window.checkpointSaved, timeout=TIMEOUT_MS):
        window.save_checkpoint_to(path)


def _open(qtbot, window, path) -> None:
    with qtbot.waitSignal(window.checkpoints.opened, timeout=TIMEOUT_MS):
        window.open_checkpoint(path)
    explorer = window.state.shown.explorer
    # Every view has caught up when the examples are encoded by the opened weights.
    qtbot.waitUntil(
        lambda: (
            explorer.encoded is not None
            and explorer.encoded.generation == window.state.shown.generation
        ),
        timeout=TIMEOUT_MS,
    )


def _views_show(window, side: int) -> None:
    """Every view draws the model on show, whose images are `side` pixels square."""
    explorer, state = window.explorer, window.state.shown
    examples = state.explorer.examples
    assert state.model.config.model.input_shape == (1, side, side)
    assert tuple(examples.image_shape) == (1, side, side)
    tiles = explorer.map.tiles.image
    assert tiles.shape[0] % side == 0 and tiles.shape[1] % side == 0
    assert explorer.side.findChild(QWidget, "decodedView").image().shape == (side, side)
    assert explorer.map.point_count() == len(examples) == len(state.explorer.encoded.codes)
    preview = window.previews.preview
    assert preview.images.shape[-2:] == (side, side) and preview.reconstruction_pairs().shape[
        1:
    ] == (side, 2 * side + 1)
    assert window.explorer.model.image_shape == (1, side, side)


def test_opening_a_32_then_a_28_pixel_checkpoint_leaves_every_view_consistent(
    qtbot, shown_window, tmp_path, capfd
):
    window = shown_window(_config("glyphs", 10))
    errors = []
    window.errorShown.connect(errors.append)
    wide, narrow = tmp_path / "sprites32.safetensors", tmp_path / "glyphs28.safetensors"
    _train_and_save(qtbot, window, _config("sprites32", 10), wide)
    _train_and_save(qtbot, window, _config("glyphs", 10), narrow)
    capfd.readouterr()

    _open(qtbot, window, wide)
    window.explorer.select(5)
    window.explorer.map.cursor.setPos(0.5, -0.5)
    window.explorer.interpolation.set_end("start", np.zeros(2))
    window.explorer.interpolation.set_end("end", np.ones(2))
    _views_show(window, 32)
    _open(qtbot, window, narrow)
    _views_show(window, 28)
    qtbot.wait(600)  # a refresh or two of every timer, all on the new model
    _views_show(window, 28)
    # The old model's choices went with it; nothing was drawn from a mix of the two.
    assert (
        window.state.shown.explorer.selected is None
        and window.explorer.interpolation.frames is None
    )
    assert errors == []
    captured = capfd.readouterr()
    assert "Traceback" not in captured.err and "Error" not in captured.err


@pytest.mark.parametrize("family", ["vae"])
def test_the_scatter_stays_on_the_map_through_a_20_second_run(qtbot, shown_window, family):
    """The scatter is on the map within 2 s of the first snapshot and at every redraw after it,
    while weights stream in, for 20 s of training on this machine's cores."""
    config = _config("glyphs", 1_000_000)
    window = shown_window(
        RunConfig(
            config.data, ModelConfig(family=family, hidden=(400,), latent_dim=2), config.train
        )
    )
    with qtbot.waitSignal(window.runs.snapshotReady, timeout=TIMEOUT_MS):
        window.findChild(QPushButton, "trainButton").click()
    first_snapshot = time.perf_counter()
    qtbot.waitUntil(lambda: window.explorer.map.point_count() > 0, timeout=2000)
    assert time.perf_counter() - first_snapshot < 2.0
    redraws, missing = [], []

    def check_scatter() -> None:
        redraws.append(window.state.run.latest.step)
        if window.explorer.map.point_count() != len(window.state.shown.explorer.examples):
            missing.append(window.state.run.latest.step)

    window.viewsRefreshed.connect(check_scatter)
    qtbot.waitUntil(lambda: time.perf_counter() - first_snapshot >= 20.0, timeout=30_000)
    window.viewsRefreshed.disconnect(check_scatter)
    encoded = window.state.shown.explorer.encoded
    assert missing == [] and len(redraws) > 50
    # The scatter moved with the weights: it was encoded again and again during the run.
    assert encoded.generation > 10
    with qtbot.waitSignal(window.runs.runEnded, timeout=TIMEOUT_MS):
        window.runs.stop()
