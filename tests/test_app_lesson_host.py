"""The lesson controller against a fake window, as ndv tests its controller with mock views: all a
lesson does to the window goes through `LessonWindow` (apply a config, train, show a view,
select, set the map's controls), so recording those calls shows what a lesson did."""

from __future__ import annotations

from unittest.mock import MagicMock

import pytest
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QCheckBox, QDockWidget
from test_app_lessons import small_lesson_text

from app.controllers.model_jobs import ModelJobs
from app.lessons.lesson_host import LessonWindow
from app.lessons.lesson_panel import LessonController
from app.lessons.lessons import parse_lesson
from vae_core.config import RunConfig


class FakeHost(QObject):
    """Where the lesson's dock goes (the theory views' host)."""

    def add_dock(self, name, title, widget, area) -> QDockWidget:
        dock = QDockWidget(title)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self.dock = dock
        return dock


def _fake_window(examples: int | None = 100, training: bool = False) -> MagicMock:
    window = MagicMock(spec=LessonWindow)
    window.examples_on_map.return_value = examples
    window.training.return_value = training
    window.show_view.side_effect = lambda title: title in ("Samples", "Curves")
    tiles, points = QCheckBox(), QCheckBox()
    window.control.side_effect = {"tilesCheckBox": tiles, "pointsCheckBox": points}.get
    window.tiles, window.points = tiles, points
    return window


@pytest.fixture
def host():
    """Alive for the test: the controller is its child."""
    return FakeHost()


def _controller(qtbot, host: FakeHost, window) -> LessonController:
    controller = LessonController(window, MagicMock(spec=ModelJobs), host)
    qtbot.addWidget(host.dock)
    return controller


def test_a_lesson_drives_the_window_through_its_protocol(qtbot, host):
    window = _fake_window()
    lessons = _controller(qtbot, host, window)
    lesson = parse_lesson(small_lesson_text(select=7))
    lessons.start(lesson)
    window.apply_config.assert_called_with(lesson.config)
    window.dock_beside_settings.assert_called_once()
    window.select.assert_called_once_with(7)
    # Its locks and hides name controls the window finds; one it lacks is one line, not a crash.
    assert window.control.call_args_list[0].args == ("modelCombo",)
    assert "no control 'modelCombo'" in window.show_error.call_args.args[0]
    window.tiles.setChecked(True)
    lessons.apply_step(2)
    window.show_view.assert_called_with("Samples")
    assert not window.tiles.isChecked() and window.points.isChecked()


def test_a_missing_view_and_a_missing_example_are_reported_not_fatal(qtbot, host):
    window = _fake_window(examples=5)
    lessons = _controller(qtbot, host, window)
    lessons.start(parse_lesson(small_lesson_text(tab="Nowhere", select=9)))
    message = window.show_error.call_args.args[0]
    assert "no view tab 'Nowhere'" in message and "no example 9 (the map has 5)" in message
    window.select.assert_not_called()


def test_a_training_step_stops_the_run_going_then_trains_and_selects_once_shown(qtbot, host):
    window = _fake_window(examples=None, training=True)
    # The settings shown: the last applied (the user's, before the lesson applies any).
    window.config.side_effect = lambda: (
        window.apply_config.call_args.args[0] if window.apply_config.called else RunConfig()
    )
    lessons = _controller(qtbot, host, window)
    lessons.start(parse_lesson(small_lesson_text(train=30, select=3)))
    window.stop_run.assert_called_once()
    window.train.assert_not_called()
    assert window.apply_config.call_args.args[0].train.max_steps == 30
    run_ended = window.when_run_ends.call_args.args[0]
    model_shown = window.when_model_shown.call_args.args[0]
    run_ended("stopped")
    window.train.assert_called_once()
    window.examples_on_map.return_value = 100
    model_shown()
    window.select.assert_called_once_with(3)
