"""The main window driven as a user would, offscreen: tiny runs on 600 glyphs, waiting on signals."""

from __future__ import annotations

import dataclasses
import math
import threading
import time

import numpy as np
import pyqtgraph as pg
import pytest
import torch
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QImage
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QMessageBox,
    QPushButton,
    QSlider,
    QSpinBox,
)

from app.controllers.run import OUT_OF_MEMORY_MESSAGE
from app.main_window import MainWindow
from app.state import RunStatus
from app.workers import TRAINING_THREADS
from vae_core import data as data_module
from vae_core.checkpoint import load_checkpoint
from vae_core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from vae_core.data import NAMED_DATASETS, load_data
from vae_core.latent import to_uint8_images
from vae_core.models import MODEL_FAMILIES
from vae_core.models.likelihoods import LIKELIHOODS
from vae_core.models.networks import ARCHITECTURES
from vae_core.models.priors import PRIORS
from vae_core.models.vae import GaussianVAE
from vae_core.training.schedules import BETA_SCHEDULES
from vae_core.training.trainer import Trainer

SIGNAL_TIMEOUT_MS = 10_000


def tiny_config(max_steps: int | None = 100_000, epochs: int = 10) -> RunConfig:
    return RunConfig(
        data=DataConfig(dataset="glyphs", size=600),
        model=ModelConfig(hidden=(32,), latent_dim=2),
        # No held-out part: 500 examples make 10 steps an epoch, which the tests count on.
        train=TrainConfig(
            batch_size=50, epochs=epochs, max_steps=max_steps, seed=0, device="cpu", heldout_every=0
        ),
    )


@pytest.fixture
def window(shown_window):
    return shown_window(tiny_config())


def start_and_wait_for_snapshots(qtbot, window, count: int = 2):
    with qtbot.waitSignal(window.runs.runStarted, timeout=SIGNAL_TIMEOUT_MS):
        qtbot.mouseClick(window.findChild(QPushButton, "trainButton"), Qt.MouseButton.LeftButton)
    for _ in range(count):
        with qtbot.waitSignal(window.runs.snapshotReady, timeout=SIGNAL_TIMEOUT_MS):
            pass


def wait_for_status(qtbot, window, status: RunStatus):
    qtbot.waitUntil(lambda: window.state.run.status is status, timeout=SIGNAL_TIMEOUT_MS)


def train_to_the_end(qtbot, window):
    with qtbot.waitSignal(
        window.runs.runEnded,
        timeout=SIGNAL_TIMEOUT_MS,
        check_params_cb=lambda reason: reason == "finished",
    ):
        window.findChild(QPushButton, "trainButton").click()


def stop_and_wait(qtbot, window):
    with qtbot.waitSignal(window.runs.runEnded, timeout=SIGNAL_TIMEOUT_MS):
        window.findChild(QPushButton, "stopButton").click()


def save_and_wait(qtbot, window, path):
    with qtbot.waitSignal(window.checkpointSaved, timeout=SIGNAL_TIMEOUT_MS) as saved:
        assert window.save_checkpoint_to(path)
    assert saved.args == [str(path)]


def open_and_wait(qtbot, window, path):
    with qtbot.waitSignal(window.checkpoints.opened, timeout=SIGNAL_TIMEOUT_MS):
        assert window.open_checkpoint(path)


# The widgets a user, a test or a screen reader finds by name.
NAMED_WIDGETS = {
    "trainButton": QPushButton,
    "pauseButton": QPushButton,
    "stopButton": QPushButton,
    "stepButton": QPushButton,
    "betaSlider": QSlider,
    "betaSpinBox": QDoubleSpinBox,
    "modelCombo": QComboBox,
    "priorCombo": QComboBox,
    "datasetCombo": QComboBox,
    "latentDimSpinBox": QSpinBox,
}


def test_window_builds_with_no_arguments_and_names_its_widgets(qtbot):
    window = MainWindow()
    qtbot.addWidget(window)
    assert window.objectName() == "MainWindow" and window.accessibleName()
    for name, kind in NAMED_WIDGETS.items():
        widget = window.findChild(kind, name)
        assert widget is not None, name
        assert widget.accessibleName(), name
    loss_plot = window.findChild(pg.PlotWidget, "lossPlot")
    assert loss_plot is not None and loss_plot.accessibleName()
    assert {curve.name() for curve in window.curves.curves.values()} == {
        "loss",
        "recon",
        "kl",
        "heldout",
        "beta",
    }
    assert window.findChild(object, "latentPlot") is not None


def test_choices_come_from_the_registries_and_glyphs_is_preselected(qtbot, monkeypatch):
    monkeypatch.setitem(MODEL_FAMILIES, "added-family", GaussianVAE)
    monkeypatch.setitem(NAMED_DATASETS, "added-set", NAMED_DATASETS["glyphs"])
    window = MainWindow()
    qtbot.addWidget(window)
    controls = window.controls
    for combo, registry in (
        (controls.model_combo, MODEL_FAMILIES),
        (controls.prior_combo, PRIORS),
        (controls.likelihood_combo, LIKELIHOODS),
        (controls.arch_combo, ARCHITECTURES),
        (controls.schedule_combo, BETA_SCHEDULES),
    ):
        assert combo.names() == list(registry)
    # A family the texts do not know yet shows under its registry name.
    assert controls.model_combo.itemText(controls.model_combo.count() - 1) == "added-family"
    assert [
        controls.dataset_combo.itemText(i) for i in range(controls.dataset_combo.count())
    ] == list(NAMED_DATASETS)
    assert controls.dataset_combo.currentText() == "glyphs"
    devices = [controls.device_combo.itemText(i) for i in range(controls.device_combo.count())]
    assert devices[:2] == ["auto", "cpu"] and ("cuda" in devices) == torch.cuda.is_available()


def test_beta_slider_is_logarithmic_from_a_hundredth_to_a_hundred(window):
    slider, spin = window.controls.beta_slider, window.controls.beta_spin
    for position, beta in (
        (slider.minimum(), 0.01),
        (0, 1.0),
        (100, 10.0),
        (slider.maximum(), 100.0),
    ):
        slider.setValue(position)
        assert spin.value() == pytest.approx(beta)
    spin.setValue(0.1)
    assert slider.value() == -100
    spin.stepBy(10)  # each step a tenth of a decade
    assert spin.value() == pytest.approx(1.0)


def test_a_run_streams_snapshots_into_curves_status_and_views(qtbot, window):
    start_and_wait_for_snapshots(qtbot, window, count=3)
    with qtbot.waitSignal(window.viewsRefreshed, timeout=SIGNAL_TIMEOUT_MS):
        pass
    window.refresh_views()
    snapshot = window.state.run.latest
    loss_x, loss_y = window.curves.curves["loss"].getOriginalDataset()
    assert len(loss_x) >= 3 and loss_x[-1] == snapshot.step
    assert np.all(np.isfinite(loss_y))
    # The first snapshot comes after a single step: the curves start at once.
    assert window.state.run.history.table.rows[0, 0] == 1
    assert window.findChild(object, "stepLabel").text().startswith(f"step {snapshot.step:,}")
    assert window.findChild(object, "deviceLabel").text() == "cpu"
    assert window.kl_bars.kl_per_dim is snapshot.kl_per_dim
    # The views draw with the explorer's own CPU copy, built off the GUI thread, on the test split.
    explorer = window.explorer
    assert explorer.model.model is window.state.shown.model.viewer
    assert not any(parameter.requires_grad for parameter in explorer.model.model.parameters())
    assert len(window.state.shown.explorer.examples) == 100
    qtbot.waitUntil(
        lambda: window.previews.reconstructions.image() is not None, timeout=SIGNAL_TIMEOUT_MS
    )
    preview = window.previews.preview
    pairs = preview.reconstruction_pairs()
    width = preview.images.shape[-1]
    # The left half of each pair is the input image itself.
    assert np.array_equal(pairs[:, :, :width], to_uint8_images(preview.images.numpy()))
    assert window.previews.samples.image() is not None


def test_controls_that_cannot_change_mid_run_are_locked(qtbot, window):
    start_and_wait_for_snapshots(qtbot, window, count=1)
    controls = window.controls
    for locked in (
        controls.model_combo,
        controls.dataset_combo,
        controls.latent_dim_spin,
        controls.batch_spin,
    ):
        assert not locked.isEnabled()
    for live in (controls.beta_slider, controls.beta_spin, controls.lr_spin):
        assert live.isEnabled()
    assert not window.findChild(QPushButton, "trainButton").isEnabled()
    stop_and_wait(qtbot, window)
    assert (
        controls.model_combo.isEnabled()
        and window.findChild(QPushButton, "trainButton").isEnabled()
    )


def test_beta_and_learning_rate_reach_the_trainer_and_the_beta_curve(qtbot, window):
    start_and_wait_for_snapshots(qtbot, window, count=1)
    window.findChild(QDoubleSpinBox, "betaSpinBox").setValue(4.0)
    assert window.controls.beta_slider.value() == round(100 * math.log10(4.0))
    window.controls.lr_spin.setValue(3e-4)
    with qtbot.waitSignal(
        window.runs.snapshotReady,
        timeout=SIGNAL_TIMEOUT_MS,
        check_params_cb=lambda s: s.beta == 4.0 and s.learning_rate == pytest.approx(3e-4),
    ):
        pass
    window.refresh_views()
    beta_x, beta_y = window.curves.curves["beta"].getOriginalDataset()
    assert beta_y[0] == 1.0 and beta_y[-1] == 4.0
    # The change shows where it happened: 1 up to some step, 4 from the next one on.
    change = int(np.argmax(beta_y == 4.0))
    assert np.all(beta_y[:change] == 1.0) and np.all(beta_y[change:] == 4.0)
    assert window.curves.plot.getPlotItem().getAxis("right").labelString().find("x0.") < 0


def test_pause_step_exactly_one_step_resume_and_stop(qtbot, window):
    start_and_wait_for_snapshots(qtbot, window, count=2)
    run = window.state.run
    pause_button = window.findChild(QPushButton, "pauseButton")
    pause_button.click()
    wait_for_status(qtbot, window, RunStatus.PAUSED)
    assert (
        pause_button.text() == "Resume" and window.findChild(QPushButton, "stepButton").isEnabled()
    )
    before = run.latest.step
    with qtbot.waitSignal(window.runs.snapshotReady, timeout=SIGNAL_TIMEOUT_MS):
        window.findChild(QPushButton, "stepButton").click()
    assert run.latest.step == before + 1 and run.status is RunStatus.PAUSED
    # Paused means paused: nothing more arrives until Resume.
    with qtbot.assertNotEmitted(window.runs.snapshotReady, wait=300):
        pass
    pause_button.click()
    assert run.status is RunStatus.RUNNING
    with qtbot.waitSignal(window.runs.snapshotReady, timeout=SIGNAL_TIMEOUT_MS):
        pass
    assert run.latest.step > before + 1
    stop_and_wait(qtbot, window)
    assert run.status is RunStatus.STOPPED


def test_stop_then_continue_goes_on_from_the_same_step(qtbot, window):
    start_and_wait_for_snapshots(qtbot, window, count=2)
    stop_and_wait(qtbot, window)
    continue_button = window.findChild(QPushButton, "continueButton")
    assert continue_button.isEnabled() and window.findChild(QPushButton, "trainButton").isEnabled()
    stopped_at = window.state.run.latest.step
    rows = len(window.state.run.history)
    with qtbot.waitSignal(window.runs.snapshotReady, timeout=SIGNAL_TIMEOUT_MS) as next_snapshot:
        continue_button.click()
    assert window.state.run.status is RunStatus.RUNNING and not continue_button.isEnabled()
    assert next_snapshot.args[0].step > stopped_at
    # The same run goes on: its curves keep their history.
    assert len(window.state.run.history) > rows
    assert window.state.run.history.table.rows[rows - 1, 0] == stopped_at
    stop_and_wait(qtbot, window)


def test_space_toggles_pause(qtbot, window):
    start_and_wait_for_snapshots(qtbot, window, count=1)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=2000)
    qtbot.keyClick(window, Qt.Key.Key_Space)
    wait_for_status(qtbot, window, RunStatus.PAUSED)
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert window.state.run.status is RunStatus.RUNNING


def test_closing_during_a_run_stops_and_joins_its_job_within_a_second(qtbot, window):
    start_and_wait_for_snapshots(qtbot, window, count=2)
    commands = window.runs._commands
    started = time.perf_counter()
    window.close()
    assert time.perf_counter() - started < 1.5
    assert commands.done.is_set()


def test_training_loads_data_off_the_gui_thread(qtbot, monkeypatch, window):
    threads = []

    def recording_glyphs(config, progress=None):
        threads.append(threading.current_thread())
        return load_data(dataclasses.replace(config, dataset="glyphs"))

    monkeypatch.setitem(data_module.NAMED_DATASETS, "recorded", recording_glyphs)
    window.controls.apply_config(
        dataclasses.replace(tiny_config(), data=DataConfig(dataset="recorded", size=600))
    )
    start_and_wait_for_snapshots(qtbot, window, count=1)
    assert threads and threading.main_thread() not in threads


@pytest.mark.skipif(
    TRAINING_THREADS == 1, reason="one core: every thread gets one torch thread anyway"
)
def test_training_and_loading_keep_their_thread_count_whatever_the_gui_thread_sets(
    qtbot, monkeypatch, window
):
    """Torch's thread count is per thread, and a thread's first torch call takes the count set last
    anywhere: the jobs set their own, so a run's rounding does not depend on the GUI thread."""
    counts = {}
    original_loss = GaussianVAE.loss

    def recording_glyphs(config, progress=None):
        counts["loading"] = torch.get_num_threads()
        return load_data(dataclasses.replace(config, dataset="glyphs"))

    def recording_loss(self, *args, **kwargs):
        counts.setdefault("training", torch.get_num_threads())
        return original_loss(self, *args, **kwargs)

    monkeypatch.setitem(data_module.NAMED_DATASETS, "recorded", recording_glyphs)
    monkeypatch.setattr(GaussianVAE, "loss", recording_loss)
    window.controls.apply_config(
        dataclasses.replace(tiny_config(), data=DataConfig(dataset="recorded", size=600))
    )
    torch.set_num_threads(1)  # set last before the run, by the GUI thread
    start_and_wait_for_snapshots(qtbot, window, count=1)
    assert counts == {"loading": TRAINING_THREADS, "training": TRAINING_THREADS}


def test_save_open_and_resume_continue_the_run_bit_for_bit(qtbot, window, tmp_path):
    window.controls.apply_config(tiny_config(max_steps=20, epochs=2))
    train_to_the_end(qtbot, window)
    path = tmp_path / "run.safetensors"
    save_and_wait(qtbot, window, path)
    assert int(load_checkpoint(path).counters["step"]) == 20

    reopened = MainWindow()
    qtbot.addWidget(reopened)
    open_and_wait(qtbot, reopened, path)
    assert reopened.controls.hidden_edit.text() == "32" and reopened.explorer.model is not None
    reopened.controls.epochs_spin.setValue(3)  # the budget grows from 20 steps to 30
    with qtbot.waitSignal(
        reopened.runs.runEnded, timeout=SIGNAL_TIMEOUT_MS, check_params_cb=lambda r: r == "finished"
    ):
        assert reopened.resume_from()
    final = reopened.state.run.latest
    assert final.step == 30
    # The resumed run's history starts with the checkpoint's and goes on from step 21.
    steps = reopened.state.run.history.table.rows[:, 0]
    assert steps[0] == 1 and 20 in steps and 21 in steps and steps[-1] == 30

    # Sums split over threads round differently: the reference trains on the window's thread count.
    threads = torch.get_num_threads()
    torch.set_num_threads(TRAINING_THREADS)
    try:
        straight = Trainer(tiny_config(max_steps=None, epochs=3), load_data(DataConfig(size=600)))
        list(straight.run())
    finally:
        torch.set_num_threads(threads)
    for name, value in straight.model.state_dict().items():
        assert torch.equal(value, final.model_state[name]), name
    reopened.close()


def test_a_reopened_checkpoint_shows_the_curves_its_run_had(qtbot, window, tmp_path):
    window.controls.apply_config(tiny_config(max_steps=30, epochs=3))
    train_to_the_end(qtbot, window)
    path = tmp_path / "history.safetensors"
    save_and_wait(qtbot, window, path)
    expected = window.state.run.history.table.rows.copy()

    reopened = MainWindow()
    qtbot.addWidget(reopened)
    reopened.show()
    open_and_wait(qtbot, reopened, path)
    assert np.array_equal(reopened.state.run.history.table.rows, expected, equal_nan=True)
    loss_x, loss_y = reopened.curves.curves["loss"].getOriginalDataset()
    assert list(loss_x) == list(expected[:, 0]) and np.array_equal(loss_y, expected[:, 4])
    reopened.close()


def test_saving_during_a_run_writes_at_a_snapshot(qtbot, window, tmp_path):
    start_and_wait_for_snapshots(qtbot, window, count=1)
    path = tmp_path / "live.safetensors"
    save_and_wait(qtbot, window, path)
    steps = [int(row[0]) for row in window.state.run.history.table.rows]
    assert int(load_checkpoint(path).counters["step"]) in steps


def test_an_invalid_checkpoint_shows_an_error_and_the_window_stays_usable(qtbot, window, tmp_path):
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"this is not a safetensors file")
    with qtbot.waitSignal(window.errorShown, timeout=SIGNAL_TIMEOUT_MS) as shown:
        window.open_checkpoint(bad)
    assert str(bad) in shown.args[0]
    box = window.findChild(QMessageBox, "errorMessage")
    assert box.isVisible() and not box.isModal() and str(bad) in box.text()
    start_and_wait_for_snapshots(qtbot, window, count=1)


def test_nan_loss_shows_a_message_and_keeps_the_last_good_model(
    qtbot, monkeypatch, window, tmp_path
):
    original_loss = GaussianVAE.loss
    calls = []

    def loss_that_diverges(self, x, y=None, beta=1.0, generator=None):
        terms = original_loss(self, x, y, beta, generator)
        calls.append(1)
        if len(calls) > 12:
            terms = dict(terms, loss=terms["loss"] * float("nan"))
        return terms

    monkeypatch.setattr(GaussianVAE, "loss", loss_that_diverges)
    with qtbot.waitSignal(window.errorShown, timeout=SIGNAL_TIMEOUT_MS) as shown:
        window.train()
    assert "loss became nan" in shown.args[0] and "last good model" in shown.args[0]
    wait_for_status(qtbot, window, RunStatus.FAILED)
    good = window.state.run.latest.model_state
    assert all(torch.isfinite(value).all() for value in good.values())
    path = tmp_path / "last-good.safetensors"
    save_and_wait(qtbot, window, path)
    saved = load_checkpoint(path).model_state
    assert all(torch.equal(saved[name], good[name]) for name in good)
    assert window.findChild(QPushButton, "trainButton").isEnabled()


def test_running_out_of_memory_shows_a_message(qtbot, monkeypatch, window):
    def loss_out_of_memory(self, *args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(GaussianVAE, "loss", loss_out_of_memory)
    with qtbot.waitSignal(window.errorShown, timeout=SIGNAL_TIMEOUT_MS) as shown:
        window.train()
    assert shown.args == [OUT_OF_MEMORY_MESSAGE]
    wait_for_status(qtbot, window, RunStatus.FAILED)


def test_export_metrics_csv_and_plot_png(qtbot, window, tmp_path):
    start_and_wait_for_snapshots(qtbot, window, count=3)
    stop_and_wait(qtbot, window)
    csv_path = tmp_path / "metrics.csv"
    with qtbot.waitSignal(window.files.exported, timeout=SIGNAL_TIMEOUT_MS):
        assert window.files.export_metrics(csv_path)
    lines = csv_path.read_text().splitlines()
    assert lines[0].startswith("step,epoch,wall_time_s,images_per_s,loss,recon,kl,beta")
    assert len(lines) == 1 + len(window.state.run.history.record)  # the run's record, whole
    for title in ("Loss curves", "KL per dimension", "Reconstructions", "Latent map"):
        png = tmp_path / f"{title}.png"
        with qtbot.waitSignal(window.files.exported, timeout=SIGNAL_TIMEOUT_MS) as exported:
            assert window.files.export_plot(title, png)
        assert exported.args == [f"Exported {title.lower()} to {png}"]
        image = QImage(str(png))
        assert not image.isNull() and image.width() > 50


def test_a_dropped_checkpoint_is_opened(qtbot, window, tmp_path):
    window.controls.apply_config(tiny_config(max_steps=5))
    train_to_the_end(qtbot, window)
    path = tmp_path / "dropped.safetensors"
    save_and_wait(qtbot, window, path)
    window.controls.latent_dim_spin.setValue(7)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    with qtbot.waitSignal(window.checkpoints.opened, timeout=SIGNAL_TIMEOUT_MS):
        window.dropEvent(event)
    assert (
        window.checkpoints.opened_checkpoint is not None
        and window.controls.latent_dim_spin.value() == 2
    )


def test_settings_and_last_configuration_persist_between_windows(qtbot):
    first = MainWindow()
    qtbot.addWidget(first)
    first.controls.apply_config(
        dataclasses.replace(tiny_config(), model=ModelConfig(hidden=(48, 24), latent_dim=5))
    )
    first.close()
    second = MainWindow()
    qtbot.addWidget(second)
    assert (
        second.controls.latent_dim_spin.value() == 5
        and second.controls.hidden_edit.text() == "48,24"
    )
    assert second.controls.config().data.size == 600


def test_settings_start_fresh_in_every_test(qtbot):
    window = MainWindow()
    qtbot.addWidget(window)
    assert (
        window.controls.latent_dim_spin.value() == 2 and window.controls.hidden_edit.text() == "400"
    )


def test_presentation_mode_shows_the_curves_and_the_map_in_large_type(qtbot, window):
    font_size = window.font().pointSizeF()
    window.view_tabs.setCurrentIndex(2)
    window.named_actions["presentationAction"].trigger()
    assert window.presentation_mode and window.isFullScreen()
    assert (
        window.controls_dock.isHidden()
        and window.explorer_dock.isHidden()
        and window.menuBar().isHidden()
    )
    assert (
        window.view_tabs.currentWidget() is window.curves
        and window.centralWidget() is window.explorer.map
    )
    assert window.font().pointSizeF() > font_size
    window.named_actions["leavePresentationAction"].trigger()
    assert not window.presentation_mode and not window.isFullScreen()
    assert not window.controls_dock.isHidden() and window.view_tabs.currentIndex() == 2
    assert window.font().pointSizeF() == font_size


def test_kl_bars_grey_out_collapsed_dimensions(qtbot):
    from app.plots import KlBarsView

    view = KlBarsView()
    qtbot.addWidget(view)
    view.show_kl(np.array([0.5, 0.05, 0.0, 2.0]))
    assert view.summary.toPlainText().startswith("2 of 4 dimensions active")
    brushes = view.bars.opts["brushes"]
    assert brushes[0] is brushes[3] and brushes[1] is brushes[2] and brushes[0] is not brushes[1]
    assert list(view.bars.opts["height"]) == [0.5, 0.05, 0.0, 2.0]


@pytest.mark.parametrize("family", list(MODEL_FAMILIES))
def test_every_model_family_trains_and_previews_in_the_window(qtbot, window, family):
    config = tiny_config(max_steps=5)
    window.controls.apply_config(
        dataclasses.replace(config, model=dataclasses.replace(config.model, family=family))
    )
    train_to_the_end(qtbot, window)
    assert window.state.run.latest.step == 5
    previews = window.previews
    qtbot.waitUntil(lambda: previews.reconstructions.image() is not None, timeout=SIGNAL_TIMEOUT_MS)
    assert previews.samples.image() is not None


def test_a_dead_code_reset_on_the_codebook_page_reaches_the_training_model(qtbot, window, tmp_path):
    config = tiny_config()
    model = dataclasses.replace(config.model, family="vqvae", codebook_size=8, code_positions=2)
    window.controls.apply_config(dataclasses.replace(config, model=model))
    start_and_wait_for_snapshots(qtbot, window, count=1)
    window.runs.pause()
    wait_for_status(qtbot, window, RunStatus.PAUSED)
    before = window.state.run.latest.model_state["quantizer.codebook"]
    window.explorer.deadCodeResetRequested.emit([1, 5])
    # The paused run edits its model on its own thread, then saves it: the save shows the edit.
    path = tmp_path / "reset.safetensors"
    save_and_wait(qtbot, window, path)
    after = load_checkpoint(path).model_state["quantizer.codebook"]
    assert not torch.equal(after[1], before[1]) and not torch.equal(after[5], before[5])
    assert torch.equal(after[[0, 2, 3, 4, 6, 7]], before[[0, 2, 3, 4, 6, 7]])
    stop_and_wait(qtbot, window)


def test_saving_while_paused_writes_from_the_training_thread(qtbot, window, tmp_path):
    start_and_wait_for_snapshots(qtbot, window, count=1)
    window.findChild(QPushButton, "pauseButton").click()
    wait_for_status(qtbot, window, RunStatus.PAUSED)
    path = tmp_path / "paused.safetensors"
    save_and_wait(qtbot, window, path)
    assert int(load_checkpoint(path).counters["step"]) == window.state.run.latest.step
    stop_and_wait(qtbot, window)
