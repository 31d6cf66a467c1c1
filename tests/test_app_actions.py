"""The window's actions as a table (app/actions.py): each row is an action of the window, by its
id, with its key, in its menu; triggering one calls its callback with the window."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence

from app.actions import WINDOW_ACTIONS, menu_actions
from app.main_window import MainWindow


def test_every_row_of_the_table_is_an_action_of_the_window_with_its_key_and_menu(qtbot):
    window = MainWindow()
    qtbot.addWidget(window)
    ids = [spec.id for spec in WINDOW_ACTIONS]
    assert len(ids) == len(set(ids))
    menus = {menu.title(): menu for menu in (a.menu() for a in window.menuBar().actions()) if menu}
    for spec in WINDOW_ACTIONS:
        action = window.findChild(QAction, spec.id)
        assert action is not None and action.text() == spec.title, spec.id
        expected = QKeySequence(spec.key) if spec.key is not None else QKeySequence()
        assert action.shortcut() == expected, spec.id
        assert action in window.actions(), spec.id  # its key works with the menu bar hidden
        if spec.menu is not None:
            assert action in menus[spec.menu].actions(), spec.id
    assert menu_actions("&Run") == [
        "trainAction",
        "pauseAction",
        "stepAction",
        "stopAction",
        "continueAction",
        "betaUpAction",
        "betaDownAction",
    ]


def test_an_action_calls_its_callback_with_the_window(qtbot):
    window = MainWindow()
    qtbot.addWidget(window)
    beta = window.controls.beta
    window.findChild(QAction, "betaUpAction").trigger()
    assert window.controls.beta > beta
    presentation = window.findChild(QAction, "presentationAction")
    presentation.trigger()  # checkable: its callback is told the new state
    assert window.presentation_mode and presentation.isChecked()
    window.findChild(QAction, "leavePresentationAction").trigger()
    assert not window.presentation_mode and not presentation.isChecked()
