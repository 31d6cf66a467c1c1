"""Following or opening a run shows that run's model: a followed folder's own settings at once and
no model of another run until its first checkpoint; KL per dimension for an opened or followed
model; Resume on a checkpoint at the end of its budget says so, and goes on once Epochs is raised."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from test_app_window import SIGNAL_TIMEOUT_MS, open_and_wait, tiny_config

from app.controllers.follow import POLL_INTERVAL_MS
from vae_core.checkpoint import save_trainer
from vae_core.config import ModelConfig
from vae_core.data import load_data
from vae_core.run_record import write_config
from vae_core.training.trainer import Trainer, metrics_row


def trained(config, tmp_path, name: str):
    """`config` trained to its budget here, saved with its history as `name`: trainer and path."""
    trainer = Trainer(config, load_data(config.data))
    rows = [metrics_row(snapshot) for snapshot in trainer.run()]
    path = tmp_path / name
    save_trainer(path, trainer, rows)
    return trainer, path


def test_a_followed_run_shows_its_own_settings_and_no_other_model_before_its_checkpoint(
    qtbot, shown_window, tmp_path
):
    window = shown_window(tiny_config())
    _, previous = trained(tiny_config(max_steps=4), tmp_path, "previous.safetensors")
    open_and_wait(qtbot, window, previous)
    assert window.state.shown.model is not None and len(window.state.run.history)

    followed = dataclasses.replace(
        tiny_config(max_steps=4), model=ModelConfig(hidden=(24,), latent_dim=3)
    )
    trainer = Trainer(followed, load_data(followed.data))  # a run that has written no checkpoint
    folder = tmp_path / "headless-run"
    folder.mkdir()
    write_config(folder, trainer.config)
    assert window.files.follow(folder)
    # At once: the model and the curves shown before are not the followed run's.
    assert window.state.shown.model is None and not len(window.state.run.history)
    assert window.checkpoints.opened_checkpoint is None
    # Its own settings, from its config.json, once read on a worker.
    qtbot.waitUntil(lambda: window.controls.latent_dim_spin.value() == 3, timeout=SIGNAL_TIMEOUT_MS)
    assert window.controls.hidden_edit.text() == "24"
    qtbot.waitUntil(lambda: "waiting" in window.statusBar().message(), timeout=SIGNAL_TIMEOUT_MS)

    for _ in trainer.run():
        pass
    save_trainer(folder / "checkpoint.safetensors", trainer)
    qtbot.waitUntil(
        lambda: window.state.shown.model is not None, timeout=SIGNAL_TIMEOUT_MS + POLL_INTERVAL_MS
    )
    assert window.state.shown.model.config.model.latent_dim == 3
    window.files.stop_following()


def closed_form_kl_per_dim(model, images: torch.Tensor) -> np.ndarray:
    """KL(N(μ, σ²) ‖ N(0, 1)) per dimension, averaged over `images`."""
    with torch.no_grad():
        posterior = model.encode(images)
    mean, variance = posterior.mean, posterior.log_var.exp()
    kl = 0.5 * (mean**2 + variance - 1.0 - posterior.log_var)
    return kl.mean(0).numpy()


def test_an_opened_checkpoint_shows_its_kl_per_dimension(qtbot, shown_window, tmp_path):
    window = shown_window(tiny_config())
    _, path = trained(tiny_config(max_steps=30), tmp_path, "opened.safetensors")
    open_and_wait(qtbot, window, path)
    qtbot.waitUntil(lambda: window.kl_bars.kl_per_dim is not None, timeout=SIGNAL_TIMEOUT_MS)
    shown = window.state.shown
    examples = shown.explorer.examples
    images, _ = examples.batch(torch.arange(len(examples)))
    model = shown.model.viewer
    model.load_state_dict(shown.weights)
    expected = closed_form_kl_per_dim(model, images)
    assert np.allclose(window.kl_bars.kl_per_dim, expected, rtol=1e-4, atol=1e-6)


def test_resume_at_the_end_of_the_budget_says_so_and_goes_on_once_epochs_are_raised(
    qtbot, shown_window, tmp_path
):
    window = shown_window(tiny_config())
    _, path = trained(tiny_config(max_steps=None, epochs=2), tmp_path, "finished.safetensors")
    open_and_wait(qtbot, window, path)
    with qtbot.waitSignal(window.errorShown, timeout=SIGNAL_TIMEOUT_MS) as shown:
        assert window.resume_from()
    line = shown.args[0]
    assert "step 20" in line and "2 epochs" in line and "raise Epochs" in line
    assert not window.state.run.status.training and window.state.shown.model is not None

    window.controls.epochs_spin.setValue(3)
    with qtbot.waitSignal(
        window.runs.runEnded, timeout=SIGNAL_TIMEOUT_MS, check_params_cb=lambda r: r == "finished"
    ):
        assert window.resume_from()
    assert window.state.run.latest.step == 30


def test_resume_from_a_finished_file_opens_it_so_that_raised_epochs_go_on(
    qtbot, shown_window, tmp_path
):
    window = shown_window(tiny_config())
    _, path = trained(tiny_config(max_steps=None, epochs=2), tmp_path, "picked.safetensors")
    with qtbot.waitSignal(window.checkpoints.opened, timeout=SIGNAL_TIMEOUT_MS):
        with qtbot.waitSignal(window.errorShown, timeout=SIGNAL_TIMEOUT_MS) as shown:
            assert window.resume_from(path)
    assert "nothing to resume" in shown.args[0]
    assert window.checkpoints.opened_checkpoint is not None
