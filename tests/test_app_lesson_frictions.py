"""What a teacher hit in the lessons (issue 23, item 6): a theory step zooms the map to its input;
a lesson starts from a fresh theory row and Leave puts the user's set-up back exactly; Next and
Previous stay put whatever the text; the lesson's views show its own runs, named after it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import tomli_w
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QWidget
from test_app_lessons import lesson_file, small_lesson, tiny_config

from app.lessons.lesson_dock import LessonPanel
from app.lessons.lesson_host import region_around
from app.lessons.lesson_runs import run_name
from app.lessons.lessons import parse_lesson, shipped_lessons
from app.settings import last_config
from app.state import ModelOnShow
from vae_core.metrics_columns import METRICS_COLUMNS
from vae_core.models import build_model

TIMEOUT_MS = 10_000


@pytest.fixture
def window(shown_window, trained_2d, small_glyphs):
    """A window with the shared trained 2-D model on show (no run needed to select an input)."""
    config, snapshot = trained_2d
    window = shown_window(dataclasses.replace(config, train=tiny_config().train))
    viewer = build_model(config.model)
    window.state.shown.show(
        ModelOnShow(config, viewer.capabilities, "checkpoint", small_glyphs.test, viewer=viewer),
        snapshot.model_state,
    )
    return window


def open_lesson(qtbot, window, path) -> None:
    with qtbot.waitSignal(window.seed.lessons.lessonOpened, timeout=TIMEOUT_MS):
        window.seed.lessons.open(path)


def test_a_theory_step_zooms_the_map_to_its_selected_input(qtbot, window, tmp_path):
    window.explorer.map.show_region((-30.0, 30.0), (-30.0, 30.0))  # the whole map, far out
    before = window.explorer.map.visible_range()
    open_lesson(qtbot, window, lesson_file(tmp_path, select=3))
    state = window.explorer.state
    assert state.selected == 3
    centre = state.plane.project(np.asarray(state.posterior.mean)[None])[0]
    (x0, x1), (y0, y1) = window.explorer.map.visible_range()
    assert (x0 + x1) / 2 == pytest.approx(centre[0], abs=0.05 * (x1 - x0))
    assert (y0 + y1) / 2 == pytest.approx(centre[1], abs=0.05 * (y1 - y0))
    assert x1 - x0 < 0.8 * (before[0][1] - before[0][0])  # zoomed in on it


def test_the_zoom_holds_eight_sigmas_of_q_within_the_map_shown():
    centre, covariance = np.array([1.0, -2.0]), np.diag([0.01, 0.04])  # σ 0.1 and 0.2
    np.testing.assert_allclose(region_around(centre, covariance, 3.5), ((-0.6, 2.6), (-3.6, -0.4)))
    np.testing.assert_allclose(
        region_around(centre, covariance / 100, 3.5), ((0.5, 1.5), (-2.5, -1.5))
    )
    np.testing.assert_allclose(
        region_around(centre, covariance * 100, 3.5), ((-2.5, 4.5), (-5.5, 1.5))
    )


def _theory_row(window) -> tuple[QWidget, QWidget]:
    return (
        window.findChild(QWidget, "truePosteriorCheckBox"),
        window.findChild(QWidget, "importanceCountSpinBox"),
    )


def test_a_lesson_starts_from_a_fresh_theory_row_and_leave_restores_the_users_set_up(
    qtbot, window, tmp_path
):
    posterior, count = _theory_row(window)
    fresh = (posterior.isChecked(), count.value())
    controls, map_view = window.controls, window.explorer.map
    # The user's own set-up: another β and prior, the theory row ticked, a view, a zoom.
    controls.set_beta(0.37)
    posterior.setChecked(True)
    count.setValue(fresh[1] * 10)
    map_view.tiles_check.setChecked(True)
    window.view_tabs.setCurrentIndex(4)
    map_view.show_region((-1.0, 1.5), (-0.5, 2.0))
    qtbot.wait(1)  # the range change settles in the view box
    user = (
        controls.config(),
        posterior.isChecked(),
        count.value(),
        map_view.tiles_check.isChecked(),
        window.view_tabs.currentIndex(),
        map_view.visible_range(),
    )
    open_lesson(qtbot, window, lesson_file(tmp_path))
    assert (posterior.isChecked(), count.value()) == fresh  # the theory row as a fresh window's
    assert controls.config() != user[0]
    window.seed.lessons.panel.leave_button.click()
    after = (
        controls.config(),
        posterior.isChecked(),
        count.value(),
        map_view.tiles_check.isChecked(),
        window.view_tabs.currentIndex(),
        map_view.visible_range(),
    )
    assert after[:5] == user[:5]
    np.testing.assert_allclose(after[5], user[5], atol=1e-9)


def test_closing_the_window_in_a_lesson_keeps_the_users_settings(qtbot, window, tmp_path):
    window.controls.set_beta(0.37)
    user = window.controls.config()
    open_lesson(qtbot, window, lesson_file(tmp_path))
    window.close()
    assert last_config(window.settings) == user


def test_next_and_previous_stay_put_whatever_the_texts_length(qtbot):
    """In a narrow dock, across steps whose text, look-for line and lesson title run from a few
    words to many lines, the step moves and Leave keep their place in the window."""
    long_words = " ".join(["a line of what to look for, long enough to wrap"] * 8)
    values = small_lesson()
    values["steps"] = [
        {"title": "Short", "look_for": "Short."},
        {"title": "Long", "text": long_words * 3, "look_for": long_words},
        {"title": "Short again", "look_for": "Short."},
    ]
    short = parse_lesson(tomli_w.dumps(values))
    long_title = parse_lesson(tomli_w.dumps({**values, "title": long_words[:150]}))
    window = QMainWindow()
    qtbot.addWidget(window)
    window.setCentralWidget(QLabel("the map"))
    panel = LessonPanel()
    dock = QDockWidget("Lesson")
    dock.setWidget(panel)
    window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
    window.resize(700, 420)
    window.show()
    window.resizeDocks([dock], [260], Qt.Orientation.Horizontal)
    places = set()
    for lesson in (short, long_title):
        panel.show_lesson(lesson)
        for number in (1, 2, 3, 2, 1):
            panel.show_step(number)
            qtbot.wait(1)
            places.add(
                tuple(
                    button.mapTo(window, button.rect().topLeft()).toTuple()
                    for button in (panel.previous_button, panel.next_button, panel.leave_button)
                )
            )
    assert len(places) == 1, places


def test_a_lessons_runs_are_named_after_it_and_alone_ticked_until_leave(qtbot, window, tmp_path):
    runs = window.seed.runs.state
    before = runs.add("the user's run", tiny_config())
    assert before.checked
    path = lesson_file(tmp_path, train=10)
    with qtbot.waitSignal(
        window.runs.runEnded, timeout=30_000, check_params_cb=lambda reason: reason == "finished"
    ):
        window.seed.lessons.open(path)
    lesson = window.seed.lessons.lesson
    (own,) = window.seed.lessons.runs.own()
    assert own.name == run_name(lesson, lesson.steps[0]) == "A small lesson · First"
    assert [entry for entry in runs.entries if entry.checked] == [own]
    assert window.seed.runs.others_compared() == ()  # no other run on the lesson's views
    window.seed.lessons.leave()
    assert before.checked and not own.checked and own in runs.entries


def test_leave_stops_the_lessons_run_before_the_users_beta_comes_back(qtbot, window, tmp_path):
    window.controls.set_beta(0.37)
    with qtbot.waitSignal(window.runs.runStarted, timeout=TIMEOUT_MS):
        window.seed.lessons.open(lesson_file(tmp_path, train=100_000))
    with qtbot.waitSignal(
        window.runs.runEnded,
        timeout=TIMEOUT_MS,
        check_params_cb=lambda reason: reason != "finished",
    ):
        window.seed.lessons.leave()
    rows = window.state.run.history.table.rows
    assert len(rows) and set(rows[:, METRICS_COLUMNS.index("beta")]) == {4.0}  # the lesson's β
    assert window.controls.beta == pytest.approx(0.37)


def test_shipped_lesson_runs_are_named_by_number_and_step():
    beta_vae = shipped_lessons()[4]
    assert [run_name(beta_vae, step) for step in beta_vae.steps[:3]] == [
        "Lesson 5 · β = 1",
        "Lesson 5 · β = 4",
        "Lesson 5 · β = 0.25",
    ]
