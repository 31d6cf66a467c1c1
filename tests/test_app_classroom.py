"""The window as a classroom instrument: pacing, budgets, defaults, curves that keep every value,
one sign convention, and a presentation that reads from the back row."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QComboBox, QLabel, QPushButton, QSlider
from test_app_window import (
    SIGNAL_TIMEOUT_MS,
    start_and_wait_for_snapshots,
    stop_and_wait,
    tiny_config,
)

from app.controllers.pacing import SpeedLimit
from app.curve_scale import symlog, symlog_floor, symlog_inverse
from app.evaluation_tables import figures_table
from app.run_actions import FULL_SPEED
from app.state import UNTIL_STOPPED_STEPS
from vae_core.defaults import defaults_for
from vae_core.metrics_columns import METRICS_COLUMNS


@pytest.fixture
def window(shown_window):
    return shown_window(tiny_config())


def metric_rows(steps: np.ndarray, **columns: np.ndarray) -> np.ndarray:
    rows = np.zeros((len(steps), len(METRICS_COLUMNS)))
    rows[:, 0] = steps
    rows[:, METRICS_COLUMNS.index("beta")] = 1.0
    for name, values in columns.items():
        rows[:, METRICS_COLUMNS.index(name)] = values
    return rows


# Pacing.
def test_the_speed_limit_spaces_steps_and_never_bursts_to_catch_up():
    limit = SpeedLimit()
    assert limit.wait_s(step=10, now=0.0) == 0.0  # no limit: never waits
    assert limit.set(4.0) and not limit.set(4.0)
    assert limit.log_every(target_interval_s=0.1) == 1
    assert limit.wait_s(step=10, now=100.0) == 0.0  # the schedule starts here
    assert limit.wait_s(step=11, now=100.05) == pytest.approx(0.20)  # a step is due every 0.25 s
    assert limit.wait_s(step=13, now=100.5) == pytest.approx(0.25)
    # Far behind (a pause): start afresh from now rather than run the missed steps at full speed.
    assert limit.wait_s(step=14, now=200.0) == 0.0
    assert limit.wait_s(step=15, now=200.0) == pytest.approx(0.25)
    limit.set(200.0)
    assert limit.log_every(target_interval_s=0.1) == 20


def test_the_speed_slider_slows_the_run_it_reaches(qtbot, window):
    slider = window.findChild(QSlider, "speedSlider")
    assert slider.value() == slider.maximum() == FULL_SPEED
    slider.setValue(5)
    assert window.findChild(QLabel, "speedLimitLabel").text() == "5 steps/s"
    start_and_wait_for_snapshots(qtbot, window, count=1)
    snapshots, arrivals = [], []
    window.runs.snapshotReady.connect(
        lambda snapshot: (snapshots.append(snapshot), arrivals.append(time.monotonic()))
    )
    qtbot.waitUntil(lambda: len(snapshots) >= 6, timeout=SIGNAL_TIMEOUT_MS)
    steps = [snapshot.step for snapshot in snapshots]
    # One step between snapshots, and never faster than the limit (a loaded machine is slower;
    # the margin is for the jitter of the snapshots' delivery).
    assert np.all(np.diff(steps) == 1)
    assert (steps[-1] - steps[0]) / (arrivals[-1] - arrivals[0]) <= 5 * 1.5
    slider.setValue(slider.maximum())
    assert window.findChild(QLabel, "speedLimitLabel").text() == "full speed"
    qtbot.waitUntil(lambda: snapshots[-1].step - snapshots[-2].step > 1, timeout=SIGNAL_TIMEOUT_MS)
    stop_and_wait(qtbot, window)


def test_a_run_until_stopped_has_no_budget_in_sight(qtbot, window):
    window.controls.until_stopped_check.setChecked(True)
    assert not window.controls.epochs_spin.isEnabled()
    assert window.controls.config().train.max_steps == UNTIL_STOPPED_STEPS
    start_and_wait_for_snapshots(qtbot, window, count=2)
    window.refresh_views()
    assert window.state.run.open_ended
    assert window.findChild(QLabel, "stepLabel").text().endswith("/ until stopped")
    stop_and_wait(qtbot, window)
    window.controls.until_stopped_check.setChecked(False)
    assert window.controls.config().train.max_steps == tiny_config().train.max_steps


def test_the_progress_bar_shows_the_run_not_the_epoch(qtbot, shown_window):
    window = shown_window(tiny_config(max_steps=40))
    progress = window.status.run_progress
    shown = []  # (step, the bar's value) at each snapshot, however fast they come

    def on_snapshot(snapshot) -> None:
        window.status.refresh()
        shown.append((snapshot.step, progress.value()))

    window.runs.snapshotReady.connect(on_snapshot)
    # Waited for from before the click: a run this short may end within one turn of the loop.
    with qtbot.waitSignal(
        window.runs.runEnded,
        timeout=SIGNAL_TIMEOUT_MS,
        check_params_cb=lambda reason: reason == "finished",
    ):
        window.findChild(QPushButton, "trainButton").click()
    assert shown and shown[-1] == (40, progress.maximum())  # 40 of 40 steps, 4 of 10 epochs
    assert all(value == round(progress.maximum() * step / 40) for step, value in shown)


def test_reset_to_defaults_undoes_what_persisted(window):
    controls = window.controls
    controls.set_beta(4.0)
    controls.latent_dim_spin.setValue(7)
    controls.until_stopped_check.setChecked(True)
    controls.reset_button.click()
    config = controls.config()
    defaults = defaults_for("glyphs")
    assert config.train.beta == defaults.train.beta == 1.0
    assert config.model == dataclasses.replace(defaults.model)
    assert config.train.max_steps is None and controls.epochs_spin.isEnabled()


def test_a_point_cloud_gets_the_same_defaults_in_the_window_as_on_the_command_line(window):
    window.controls.dataset_combo.setCurrentText("moons")
    chosen = window.controls.config().model
    assert (chosen.likelihood, chosen.arch) == (
        defaults_for("moons").model.likelihood,
        defaults_for("moons").model.arch,
    )
    window.controls.dataset_combo.setCurrentText("glyphs")
    assert window.controls.config().model.likelihood == defaults_for("glyphs").model.likelihood


# Curves.
def test_the_symmetric_log_keeps_the_sign_and_inverts():
    values = np.array([-120.0, -1.5, -0.01, 0.0, 0.005, 3.0, 158.0])
    floor = symlog_floor(values)
    drawn = symlog(values, floor)
    assert np.all(np.diff(drawn) > 0) and drawn[3] == 0.0  # order and sign kept
    assert symlog_inverse(drawn, floor) == pytest.approx(values)
    # Far from zero a decade is one unit, as on a log axis.
    assert symlog(np.array([1000.0]), floor) - symlog(np.array([100.0]), floor) == pytest.approx(
        1.0, abs=0.01
    )


@pytest.mark.parametrize("scale", ["log", "linear"])
def test_negative_losses_are_drawn_on_either_scale(window, scale):
    steps = np.arange(1, 101, dtype=float)
    loss = np.linspace(3.0, -2.0, 100)  # a Gaussian likelihood's loss goes below zero
    rows = metric_rows(steps, loss=loss, recon=loss - 0.5, kl=np.full(100, 0.005))
    window.findChild(QComboBox, "curveScaleCombo").setCurrentText(scale)
    window.state.run.show_history(rows)
    curve = window.curves.curves["loss"]
    x, drawn = curve.getData()
    assert len(x) == 100 and np.all(np.isfinite(drawn))
    assert np.array_equal(curve.getOriginalDataset()[1], loss)  # the curve stands for the values
    # What is drawn lies within the axis range: nothing is off the plot.
    low, high = window.curves.plot.getPlotItem().vb.viewRange()[1]
    assert low <= drawn.min() and drawn.max() <= high
    kl_drawn = window.curves.curves["kl"].getData()[1]
    if scale == "log":
        assert kl_drawn[0] > 0 and drawn[-1] < 0


def test_the_step_axis_follows_the_data_or_spans_the_whole_run(window):
    history = window.state.run.history
    window.state.run.show_history(metric_rows(np.arange(1, 301) * 10.0, loss=np.full(300, 5.0)))
    history.total_steps = 79_000
    window.curves.refresh()
    item = window.curves.plot.getPlotItem()
    assert 3000 <= item.vb.viewRange()[0][1] <= 3000 * 1.6
    window.findChild(QComboBox, "curveSpanCombo").setCurrentText("whole run")
    assert item.vb.viewRange()[0][1] >= 79_000


def test_held_out_losses_are_a_curve_of_their_own(window):
    steps = np.arange(1, 11) * 100.0
    heldout = np.full(10, np.nan)
    heldout[4::5] = [-160.0, -150.0]
    window.state.run.show_history(metric_rows(steps, loss=np.full(10, 150.0), heldout_elbo=heldout))
    x, values = window.curves.curves["heldout"].getOriginalDataset()
    assert list(x) == [500.0, 1000.0] and list(values) == [160.0, 150.0]


def test_the_evaluate_page_gives_losses_as_nats_to_minimise_and_bounds_as_log_p():
    table = figures_table(
        {"elbo": -163.0, "recon": 158.0, "kl": 5.0, "active_units": 2, "kl_per_dim": [2.5, 2.5]}
    )
    assert "−163.00" in table.replace("-", "−")
    assert (
        ">158.00<" in table and ">5.00<" in table and ">163.00<" in table
    )  # the loss and its terms
    assert "−158" not in table.replace("-", "−")


# Presentation.
def text_height_px(label: QLabel) -> int:
    """Rows of the label's picture that hold text: pixels far from its background colour."""
    image = label.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    pixels = np.frombuffer(image.constBits(), np.uint8).reshape(
        image.height(), image.bytesPerLine() // 4, 4
    )
    pixels = pixels[:, : image.width(), :3].astype(int)
    background = pixels[0, 0]
    inked = np.abs(pixels - background).sum(-1).max(axis=1) > 120
    rows = np.flatnonzero(inked)
    return int(rows[-1] - rows[0] + 1) if len(rows) else 0


def test_presentation_fills_the_screen_and_reads_from_the_back_row(qtbot, window):
    start_and_wait_for_snapshots(qtbot, window, count=2)
    stop_and_wait(qtbot, window)
    window.set_presentation_mode(True)
    # The window takes the screen itself: no window manager acts on the full-screen request here.
    assert window.geometry() == window.screen().geometry()
    window.setGeometry(0, 0, 1920, 1080)
    window.refresh_views()
    readout = window.findChild(QLabel, "presentationReadout")
    latest = window.state.run.latest
    assert (
        readout.isVisible() and f"step {latest.step:,}" in readout.text() and "β" in readout.text()
    )
    assert text_height_px(readout) >= 24  # "β" and "p" reach above and below: glyphs ≥ 24 px tall
    tick_font = window.curves.plot.getPlotItem().getAxis("bottom").style["tickFont"]
    assert tick_font.pixelSize() >= 24
    window.set_presentation_mode(False)
    assert not window.presentation_mode and window.menuBar().isVisible()


def test_a_run_draws_its_held_out_loss_beside_the_training_loss(qtbot, shown_window):
    config = tiny_config(max_steps=12)
    window = shown_window(
        dataclasses.replace(config, train=dataclasses.replace(config.train, heldout_every=4))
    )
    with qtbot.waitSignal(window.runs.runEnded, timeout=SIGNAL_TIMEOUT_MS):
        window.train()
    window.refresh_views()
    steps, losses = window.curves.curves["heldout"].getOriginalDataset()
    rows = window.state.run.history.table.rows
    heldout = rows[:, METRICS_COLUMNS.index("heldout_elbo")]
    measured = np.isfinite(heldout)
    assert list(steps) == list(rows[measured, 0]) and steps[-1] == 12 and len(steps) >= 2
    assert np.allclose(losses, -heldout[measured]) and np.all(
        losses > 0
    )  # −ELBO of binary images: positive nats


def test_a_preset_fills_in_every_setting_and_its_learning_rate_schedule(window):
    combo = window.findChild(QComboBox, "presetCombo")
    assert combo.findText("glyphs-demo") > 0 and combo.itemData(
        combo.findText("glyphs-demo"), Qt.ItemDataRole.ToolTipRole
    )
    preset = window.controls.presets["mnist-nll-30min"]
    window.controls._preset_chosen("mnist-nll-30min")
    config = window.controls.config()
    assert (
        config.model.family == "hvae"
        and config.train.lr_schedule == preset.config.train.lr_schedule == "cosine"
    )
    assert window.findChild(QComboBox, "lrScheduleCombo").name() == "cosine"
    window.controls.reset_button.click()
    assert window.controls.config().train.lr_schedule == "constant" and combo.currentIndex() == 0
