"""Undo and redo for the settings (Edit > Undo, Ctrl+Z; Redo, Ctrl+Shift+Z): one entry per user
change (a preset's many fields one entry, a drag of the β slider one entry), undone through the
panel as the user would set it, so that β reaches a running run at once."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication
from test_app_preset_data import choose_preset
from test_app_window import SIGNAL_TIMEOUT_MS, start_and_wait_for_snapshots, tiny_config


@pytest.fixture
def window(shown_window):
    window = shown_window(tiny_config())
    window.settings_undo.start_afresh()  # the fixture's settings are where undo stops
    return window


def user_change(change) -> None:
    """One change, then the event loop's turn ends (as between two things a user does)."""
    change()
    QApplication.processEvents()


def press(qtbot, window, key: QKeySequence.StandardKey) -> None:
    sequence = QKeySequence(key)[0]
    qtbot.keyClick(window, sequence.key(), sequence.keyboardModifiers())


def test_ctrl_z_undoes_one_change_at_a_time_and_ctrl_shift_z_redoes(qtbot, window):
    controls = window.controls
    assert window.findChild(QAction, "undoAction").shortcut() == QKeySequence(
        QKeySequence.StandardKey.Undo
    )
    assert not window.findChild(QAction, "undoAction").isEnabled()  # nothing to undo yet
    user_change(lambda: controls.latent_dim_spin.setValue(5))
    user_change(lambda: controls.hidden_edit.setText("48,24"))
    user_change(lambda: controls.prior_combo.select("mog"))
    assert window.settings_undo.stack.count() == 3

    press(qtbot, window, QKeySequence.StandardKey.Undo)
    assert controls.prior_combo.name() == "normal" and controls.hidden_edit.text() == "48,24"
    press(qtbot, window, QKeySequence.StandardKey.Undo)
    assert controls.hidden_edit.text() == "32" and controls.latent_dim_spin.value() == 5
    press(qtbot, window, QKeySequence.StandardKey.Redo)
    assert controls.hidden_edit.text() == "48,24" and controls.prior_combo.name() == "normal"
    assert controls.config().model.hidden == (48, 24)


def test_a_drag_of_the_beta_slider_is_one_entry(qtbot, window):
    controls, slider = window.controls, window.controls.beta_slider
    start = controls.beta
    user_change(lambda: slider.setSliderDown(True))
    for position in (10, 20, 30, 40):  # hundredths of a decade: β 1.26 … 2.51
        user_change(lambda p=position: slider.setValue(p))
    user_change(lambda: slider.setSliderDown(False))
    assert window.settings_undo.stack.count() == 1
    assert controls.beta == pytest.approx(10**0.4)
    window.settings_undo.undo()
    assert controls.beta == pytest.approx(start)


def test_a_preset_is_one_entry_and_its_undo_puts_every_setting_back(qtbot, window):
    controls = window.controls
    before = controls.config()
    user_change(lambda: choose_preset(controls, "glyphs-demo"))
    assert controls.config() != before
    assert window.settings_undo.stack.count() == 1
    window.settings_undo.undo()
    assert controls.config() == before


def test_undo_during_a_run_sets_beta_live_and_the_rest_for_the_next_run(qtbot, window):
    controls = window.controls
    user_change(lambda: controls.latent_dim_spin.setValue(3))
    start_and_wait_for_snapshots(qtbot, window, count=1)
    user_change(lambda: controls.set_beta(4.0))
    qtbot.waitUntil(lambda: window.state.run.latest.beta == 4.0, timeout=SIGNAL_TIMEOUT_MS)

    window.settings_undo.undo()  # β back to 1: the run takes it at its next step
    qtbot.waitUntil(lambda: window.state.run.latest.beta == 1.0, timeout=SIGNAL_TIMEOUT_MS)
    window.settings_undo.undo()  # the latent dimension: the next run's
    assert controls.latent_dim_spin.value() == 2 and not controls.latent_dim_spin.isEnabled()
    assert window.state.run.config.model.latent_dim == 3 and window.state.run.status.training
    assert controls.config().model.latent_dim == 2
    window.findChild(QAction, "stopAction").trigger()


def test_undo_and_redo_are_in_the_edit_menu(qtbot, window):
    menus = {a.text(): a.menu() for a in window.menuBar().actions() if a.menu()}
    entries = [action.objectName() for action in menus["&Edit"].actions()]
    assert entries == ["undoAction", "redoAction"]
    user_change(lambda: window.controls.seed_spin.setValue(7))
    undo = window.findChild(QAction, "undoAction")
    assert undo.isEnabled() and undo.statusTip() == "Undo Seed"
