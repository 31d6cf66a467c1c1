"""The run and checkpoint controllers against the state model alone, no window: what a command
changes in the state, and what the state then holds."""

from __future__ import annotations

import numpy as np
import pytest
import shiboken6
import torch

from app.controllers.checkpoints import CheckpointController
from app.controllers.run import RunController
from app.state import AppState, RunStatus
from vae_core.checkpoint import load_checkpoint
from vae_core.config import DataConfig, ModelConfig, RunConfig, TrainConfig

TIMEOUT_MS = 10_000


def _config(max_steps: int = 100_000) -> RunConfig:
    return RunConfig(
        data=DataConfig(dataset="glyphs", size=600),
        model=ModelConfig(hidden=(32,), latent_dim=2),
        train=TrainConfig(batch_size=50, epochs=10, max_steps=max_steps, seed=0, device="cpu"),
    )


@pytest.fixture
def controllers(qtbot):
    state = AppState()
    runs = RunController(state)
    checkpoints = CheckpointController(state, runs)
    yield state, runs, checkpoints
    assert runs.shutdown(timeout_s=2.0)


def _wait_for(qtbot, condition) -> None:
    qtbot.waitUntil(condition, timeout=TIMEOUT_MS)


def test_a_run_fills_the_state_and_stops_continuable(qtbot, controllers):
    state, runs, _ = controllers
    shown_models = []
    state.shown.model_changed.connect(lambda: shown_models.append(state.shown.model))
    runs.start(_config())
    assert state.run.status is RunStatus.STARTING and state.shown.model is None
    _wait_for(qtbot, lambda: len(state.run.history) >= 3)
    assert state.run.status is RunStatus.RUNNING and state.run.device == "cpu"
    model = state.shown.model
    assert model.source == "run" and model.config.model.input_shape == (1, 28, 28)
    assert shown_models == [None, model]  # cleared at Train, then the run's model, once
    assert (
        state.shown.weights is state.run.latest.model_state
        and state.shown.step == state.run.latest.step
    )

    runs.stop()
    assert state.run.status is RunStatus.STOPPING
    _wait_for(qtbot, lambda: state.run.status is RunStatus.STOPPED)
    assert runs.can_continue
    stopped_at = state.run.latest.step
    runs.continue_run()
    _wait_for(qtbot, lambda: state.run.latest.step > stopped_at)
    assert state.run.status is RunStatus.RUNNING and state.shown.model is model


def test_pause_holds_the_run_and_step_takes_exactly_one_step(qtbot, controllers):
    state, runs, _ = controllers
    runs.start(_config())
    _wait_for(qtbot, lambda: len(state.run.history) >= 2)
    runs.pause()
    _wait_for(qtbot, lambda: state.run.status is RunStatus.PAUSED)
    paused_at = state.run.latest.step
    for expected in (paused_at + 1, paused_at + 2):
        runs.step()
        _wait_for(qtbot, lambda expected=expected: state.run.latest.step == expected)
    assert state.run.latest.step == paused_at + 2 and state.run.status is RunStatus.PAUSED
    runs.resume()
    _wait_for(qtbot, lambda: state.run.latest.step > paused_at + 2)


def test_a_finished_run_saves_with_its_history_and_reopens_with_it(qtbot, controllers, tmp_path):
    state, runs, checkpoints = controllers
    runs.start(_config(max_steps=30))
    _wait_for(qtbot, lambda: state.run.status is RunStatus.FINISHED)
    assert not runs.can_continue
    path = tmp_path / "finished.safetensors"
    with qtbot.waitSignal(runs.checkpointSaved, timeout=TIMEOUT_MS):
        assert checkpoints.save(path)
    rows = state.run.history.table.rows.copy()
    assert np.array_equal(
        load_checkpoint(path).history, rows, equal_nan=True
    )  # NaN: no held-out figure

    with qtbot.waitSignal(checkpoints.opened, timeout=TIMEOUT_MS):
        assert checkpoints.open(path)
    model = state.shown.model
    assert model.source == "checkpoint" and model.step == 30 and model.path == str(path)
    assert state.run.status is RunStatus.IDLE and state.run.latest is None
    assert np.array_equal(state.run.history.table.rows, rows, equal_nan=True)
    final = load_checkpoint(path).model_state
    assert all(torch.equal(state.shown.weights[name], value) for name, value in final.items())


def test_opening_a_checkpoint_while_a_run_trains_is_refused(qtbot, controllers, tmp_path):
    state, runs, checkpoints = controllers
    runs.start(_config())
    _wait_for(qtbot, lambda: state.run.status is RunStatus.RUNNING)
    with qtbot.waitSignal(checkpoints.errorOccurred) as refused:
        assert not checkpoints.open(tmp_path / "any.safetensors")
    assert "stop it before opening" in refused.args[0]
    assert state.shown.model.source == "run"


def test_a_broken_checkpoint_leaves_the_model_on_show(qtbot, controllers, tmp_path):
    state, runs, checkpoints = controllers
    runs.start(_config(max_steps=10))
    _wait_for(qtbot, lambda: state.run.status is RunStatus.FINISHED)
    model = state.shown.model
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x00" * 64)
    with qtbot.waitSignal(checkpoints.errorOccurred, timeout=TIMEOUT_MS) as failed:
        checkpoints.open(broken)
    assert str(broken) in failed.args[0] and "\n" not in failed.args[0]
    assert state.shown.model is model and state.run.status is RunStatus.FINISHED


def test_a_run_too_big_for_the_memory_ends_in_its_one_line(qtbot, controllers):
    state, runs, _ = controllers
    config = _config()
    huge = RunConfig(
        data=config.data, model=ModelConfig(hidden=(32,), latent_dim=10**9), train=config.train
    )
    with qtbot.waitSignal(runs.errorOccurred, timeout=TIMEOUT_MS) as failed:
        runs.start(huge)
    assert failed.args[0].startswith("latent dimension 1000000000 (--latent-dim) needs about ")
    _wait_for(qtbot, lambda: state.run.status is RunStatus.FAILED)


def test_a_jobs_answers_for_a_deleted_context_are_dropped(qtbot):
    """A window closed while its job runs: the job's lambdas are not called on its deleted objects."""
    import threading

    from PySide6.QtCore import QObject

    from app.workers import start_job, wait_for_jobs

    release, answers = threading.Event(), []
    context, kept = QObject(), QObject()
    for owner in (context, kept):
        start_job(
            release.wait,
            5.0,
            on_result=lambda _result, owner=owner: answers.append(owner),
            context=owner,
        )
    context.deleteLater()
    qtbot.waitUntil(lambda: not shiboken6.isValid(context), timeout=2000)
    release.set()
    assert wait_for_jobs(timeout_s=5.0)
    qtbot.waitUntil(lambda: answers == [kept], timeout=2000)


def test_stop_while_the_run_is_still_starting_stops_it(qtbot, controllers, monkeypatch):
    """Stop pressed while the data loads (no trainer yet): the run stops when the load ends, and
    nothing reaches the event loop as an exception."""
    import threading

    state, runs, _ = controllers
    release = threading.Event()
    loaded = runs.data.get
    monkeypatch.setattr(runs.data, "get", lambda config: release.wait(5.0) and loaded(config))
    runs.start(_config())
    runs.stop()
    assert state.run.status is RunStatus.STOPPING
    runs.stop()  # a second press changes nothing
    release.set()
    _wait_for(qtbot, lambda: state.run.status is RunStatus.STOPPED)
    assert not runs.can_continue and state.run.latest is None


def test_a_run_let_go_of_while_starting_leaves_nothing_to_stop(qtbot, controllers):
    state, runs, _ = controllers
    runs.start(_config())
    runs.end()  # another model comes on show, or the window closes
    assert not state.run.status.training
    runs.stop()
    runs.pause()
    runs.step()
    runs.continue_run()
    assert not state.run.status.training
