"""The window's state model without a window: what each change announces, and what it resets."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from app.history import RunHistory
from app.state import (
    MAX_POINTS,
    ModelOnShow,
    RunModel,
    RunStatus,
    ShownModel,
    map_examples,
)
from vae_core.checkpoint import load_checkpoint, save_checkpoint
from vae_core.config import ModelConfig, RunConfig
from vae_core.errors import VaeStudioError
from vae_core.metrics_columns import METRICS_COLUMNS
from vae_core.models import build_model
from vae_core.training.trainer import TrainingSnapshot, metrics_row


def _snapshot(step: int, loss: float = 100.0, total_steps: int = 50) -> TrainingSnapshot:
    return TrainingSnapshot(
        step=step,
        epoch=0,
        epoch_progress=0.5,
        total_steps=total_steps,
        wall_time_s=0.1 * step,
        images_per_s=1000.0,
        loss=loss,
        recon=loss - 1,
        kl=1.0,
        beta=1.0,
        learning_rate=1e-3,
        kl_per_dim=np.ones(2),
        finished=False,
    )


def _model_on_show(data=None, latent_dim: int = 2) -> tuple[ModelOnShow, dict]:
    config = RunConfig(
        model=ModelConfig(
            hidden=(8,), latent_dim=latent_dim, input_shape=(1, 28, 28), num_classes=10
        )
    )
    viewer = build_model(config.model)
    return ModelOnShow(
        config, viewer.capabilities, "checkpoint", data, viewer=viewer
    ), viewer.state_dict()


def test_the_state_model_imports_no_qt():
    code = "import sys, app.state, app.history\nprint(any(name.startswith(('PySide6', 'pyqtgraph', 'superqt')) for name in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_a_new_model_resets_the_explorer_state_and_is_announced_once(small_glyphs):
    shown = ShownModel()
    events = []
    shown.model_changed.connect(lambda: events.append("model"))
    shown.explorer.events.connect(lambda info: events.append(info.signal.name))
    first, weights = _model_on_show(small_glyphs.test)
    shown.show(first, weights)
    explorer = shown.explorer
    explorer.selected = 3
    explorer.label = 2
    explorer.path = np.zeros((4, 2))
    explorer.interpolation_ends = {"start": np.zeros(2), "end": np.ones(2)}
    explorer.cursor = np.array([0.5, -0.5])
    assert events == ["model", "selected", "label", "path", "interpolation_ends", "cursor"]
    events.clear()
    second, weights = _model_on_show(small_glyphs.test, latent_dim=5)
    shown.show(second, weights)
    assert events == ["model"]
    assert (
        explorer.selected is None
        and explorer.label == 0
        and explorer.path is None
        and explorer.encoded is None
    )
    assert explorer.interpolation_ends == {"start": None, "end": None}
    assert explorer.plane.latent_dim == 5 and explorer.examples is small_glyphs.test
    # The cursor stays where the user left it, on the new model's plane.
    assert np.array_equal(explorer.cursor, [0.5, -0.5]) and explorer.cursor_code().shape == (5,)


def test_newer_weights_of_the_same_model_count_up_a_generation():
    shown = ShownModel()
    generations = []
    shown.weights_changed.connect(generations.append)
    shown.set_weights({}, 3)  # no model on show: nothing to change
    assert generations == [] and shown.weights is None
    model, weights = _model_on_show()
    shown.show(model, weights)
    shown.set_weights(weights, 10)
    shown.set_weights(weights, 20)
    assert generations == [shown.generation - 1, shown.generation] and shown.step == 20


def test_the_map_shows_a_fixed_subset_of_a_large_test_split(small_glyphs):
    assert map_examples(small_glyphs.test) is small_glyphs.test
    large = small_glyphs.test.subset(
        torch.arange(len(small_glyphs.test)).repeat(25)
    )  # 2,500 examples
    subset = map_examples(large)
    assert len(subset) == MAX_POINTS
    assert torch.equal(subset.images, map_examples(large).images)


def test_a_run_keeps_its_history_and_a_new_run_starts_from_the_one_given():
    run = RunModel()
    statuses, replaced, added = [], [], []
    run.status_changed.connect(statuses.append)
    run.history_replaced.connect(lambda: replaced.append(len(run.history)))
    run.snapshot_added.connect(added.append)
    run.begin()
    for step in (1, 2, 3):
        run.add_snapshot(_snapshot(step))
    assert statuses == [RunStatus.STARTING] and replaced == [0] and len(added) == 3
    assert run.latest.step == 3 and list(run.history.series.x) == [1, 2, 3]
    rows = run.history.table.rows.copy()
    run.begin(rows[:2])  # a resumed run: the history its checkpoint carried
    assert replaced == [0, 2] and run.latest is None and list(run.history.series.x) == [1, 2]
    assert RunStatus.STARTING.training and not RunStatus.STOPPED.training


def test_the_history_survives_a_checkpoint_round_trip(tmp_path):
    history = RunHistory()
    for step in range(1, 6):
        history.append(_snapshot(step, loss=100.0 - step))
    config = RunConfig(model=ModelConfig(hidden=(8,), latent_dim=2, input_shape=(1, 28, 28)))
    model = build_model(config.model)
    path = tmp_path / "with-history.safetensors"
    save_checkpoint(path, config, model.state_dict(), history=history.table.rows)
    loaded = load_checkpoint(path).history
    assert np.array_equal(loaded, history.table.rows, equal_nan=True)  # NaN: no held-out figure
    assert np.array_equal(loaded[0], metrics_row(_snapshot(1, loss=99.0)), equal_nan=True)
    save_checkpoint(path, config, model.state_dict())  # a checkpoint from before histories
    assert load_checkpoint(path).history is None


def test_a_history_with_other_columns_keeps_the_known_ones_and_a_broken_one_is_refused(tmp_path):
    from safetensors.torch import save_file

    config = RunConfig(model=ModelConfig(hidden=(8,), latent_dim=2, input_shape=(1, 28, 28)))
    model = build_model(config.model)
    tensors = {f"model.{name}": value.contiguous() for name, value in model.state_dict().items()}
    metadata = {"format": "vae-studio", "format_version": "1", "config": config.to_json()}
    path = tmp_path / "other-columns.safetensors"
    table = torch.tensor([[1.0, 7.0, 90.0], [2.0, 8.0, 80.0]], dtype=torch.float64)
    save_file(
        {**tensors, "history.metrics": table},
        str(path),
        {**metadata, "history_columns": '["step", "later", "loss"]'},
    )
    rows = load_checkpoint(path).history
    assert list(rows[:, METRICS_COLUMNS.index("step")]) == [1.0, 2.0]
    assert list(rows[:, METRICS_COLUMNS.index("loss")]) == [90.0, 80.0]
    assert np.isnan(rows[:, METRICS_COLUMNS.index("kl")]).all()
    save_file(
        {**tensors, "history.metrics": table},
        str(path),
        {**metadata, "history_columns": '["step"]'},
    )
    with pytest.raises(VaeStudioError, match="metric history is not a table"):
        load_checkpoint(path)
