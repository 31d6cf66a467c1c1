"""Status messages of any length keep clear of the run's labels: cut with "…" to the room before
the first one, the whole message in the tooltip."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QStatusBar

from app.main_window import MainWindow

LONG = "Exported " + "/a/folder/with/a/long/name" * 12 + "/latent_map.svg"


@pytest.fixture
def window(qtbot):
    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    qtbot.waitExposed(window)
    return window


def _room(window) -> int:
    """Pixels from the message's start to the state label, the first of the run's labels."""
    bar = window.statusBar()
    return window.status.state_label.mapTo(bar, QPoint(0, 0)).x() - 6


def test_a_long_message_is_cut_before_the_state_label_and_whole_in_the_tooltip(qtbot, window):
    bar = window.statusBar()
    window.say(LONG)
    shown = bar.currentMessage()
    assert shown.endswith("…") and LONG.startswith(shown[:-1])
    assert 0 < bar.fontMetrics().horizontalAdvance(shown) <= _room(window)
    assert bar.toolTip() == LONG
    window.resize(900, 800)  # narrower: cut shorter, still whole in the tooltip
    qtbot.waitUntil(lambda: len(bar.currentMessage()) < len(shown))
    assert bar.fontMetrics().horizontalAdvance(bar.currentMessage()) <= _room(window)
    assert bar.toolTip() == LONG


def test_a_short_message_is_shown_whole_and_goes_after_its_time(qtbot, window):
    bar = window.statusBar()
    window.say(LONG)
    bar.showMessage("Training on glyphs", 50)
    assert bar.currentMessage() == "Training on glyphs" and bar.toolTip() == ""
    qtbot.waitUntil(lambda: bar.currentMessage() == "")


def test_messages_qt_shows_itself_are_cut_too(window):
    bar = window.statusBar()
    QStatusBar.showMessage(bar, LONG)  # as Qt shows a menu's status tip, past the override
    assert bar.currentMessage().endswith("…") and bar.toolTip() == LONG
