"""A lesson as a code in the window: File > Share Lesson shows the code and its QR image, and the
code opened in a second window restores the same lesson, step, view, settings, locked and hidden
controls, offline; a mangled code or a missing file is one line and the window keeps going; data
the student lacks is named in one line and the rest restores."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget
from test_app_lessons import tiny_config

from app.lessons.lesson_code import SHARED_SETUP_TITLE, lesson_code
from app.lessons.lesson_code_dialogs import QR_LEAST_PIXELS
from app.lessons.lesson_share import NO_LESSON_ABOUT
from app.lessons.lesson_window import LOCKED_TIP, control_value
from app.lessons.lesson_window import map_controls as window_map_controls
from app.lessons.lessons import shipped_lessons
from vae_core.config import DataConfig

TIMEOUT_MS = 10_000


@pytest.fixture
def windows(shown_window):
    """A teacher's window and a student's; neither trains (a restored step's run waits for its
    button, and a shared step is opened without its run here)."""
    return shown_window(tiny_config()), shown_window(tiny_config())


def share(qtbot, window) -> str:
    codes = window.seed.lessons.codes
    with qtbot.waitSignal(codes.codeShown, timeout=TIMEOUT_MS) as shown:
        window.named_actions["shareLessonAction"].trigger()
    return shown.args[0]


def open_code(qtbot, window, code: str) -> None:
    with qtbot.waitSignal(window.seed.lessons.codes.codeRestored, timeout=TIMEOUT_MS):
        window.seed.lessons.codes.open_code(code)


def set_up(window) -> dict:
    """What a code must carry across: the lesson, its step, the view, the settings, the locks and
    the hidden controls."""
    lessons = window.seed.lessons
    lesson = lessons.lesson
    names = lesson.lock + lesson.hide
    widgets = {name: window.findChild(QWidget, name) for name in names}
    return {
        "lesson": lesson.title,
        "step": lessons.panel.current,
        "view": window.view_tabs.tabText(window.view_tabs.currentIndex()),
        "config": window.controls.config(),
        "locked": {name for name in lesson.lock if not widgets[name].isEnabled()},
        "tips": {name for name in lesson.lock if widgets[name].toolTip() == LOCKED_TIP},
        "hidden": {name for name in lesson.hide if widgets[name].isHidden()},
        "map": {widget.objectName(): control_value(widget) for widget in map_controls(window)},
    }


def map_controls(window) -> list[QWidget]:
    return window_map_controls(window.explorer.map, window.findChild(QWidget, "seedMapControls"))


def test_every_shipped_lesson_shared_opens_the_same_set_up_in_a_second_window(qtbot, windows):
    teacher, student = windows
    for lesson in shipped_lessons():
        # The teacher walks to the last step (its runs left out); the student opens it at once.
        teacher.seed.lessons.start(lesson, 1, train=False)
        for step in range(2, len(lesson.steps) + 1):
            teacher.seed.lessons.apply_step(step, train=False)
        teacher.controls.set_beta(3.0)  # the teacher's own change travels too
        code = share(qtbot, teacher)
        open_code(qtbot, student, code)
        assert set_up(student) == set_up(teacher)
        assert set_up(student)["locked"] == set(lesson.lock)
    dialog = teacher.seed.lessons.codes.dialog
    assert dialog.findChild(QWidget, "lessonCodeEdit").toPlainText() == code
    assert dialog.findChild(QWidget, "lessonCodeEdit").isReadOnly()
    assert dialog.findChild(QWidget, "lessonQrView").pixmap().width() >= QR_LEAST_PIXELS


def test_without_a_lesson_the_set_up_is_shared_and_says_so(qtbot, windows):
    teacher, student = windows
    teacher.controls.set_beta(2.0)
    teacher.explorer.map.tiles_check.setChecked(True)
    teacher.view_tabs.setCurrentIndex(2)
    code = share(qtbot, teacher)
    dialog = teacher.seed.lessons.codes.dialog
    assert dialog.findChild(QWidget, "lessonCodeAbout").text() == NO_LESSON_ABOUT
    assert len(code) < 700
    open_code(qtbot, student, code)
    assert student.seed.lessons.lesson.title == SHARED_SETUP_TITLE
    assert student.controls.config() == teacher.controls.config()
    assert student.view_tabs.currentIndex() == 2 and student.explorer.map.tiles_check.isChecked()


def test_a_code_copies_and_saves_to_a_text_file_that_opens(qtbot, windows, tmp_path):
    teacher, student = windows
    teacher.seed.lessons.start(shipped_lessons()[1], 3, train=False)
    code = share(qtbot, teacher)
    codes = teacher.seed.lessons.codes
    codes.dialog.copy_button.click()
    assert QGuiApplication.clipboard().text() == code
    assert codes.dialog.copy_button.text() == "Copied"
    path = tmp_path / "lesson-code.txt"
    with qtbot.waitSignal(codes.codeSaved, timeout=TIMEOUT_MS):
        codes.save(path, code)
    with qtbot.waitSignal(student.seed.lessons.codes.codeRestored, timeout=TIMEOUT_MS):
        student.seed.lessons.codes.open_file(path)
    assert set_up(student) == set_up(teacher)


def test_open_lesson_code_takes_a_pasted_code(qtbot, windows):
    teacher, student = windows
    teacher.seed.lessons.start(shipped_lessons()[6], 2, train=False)
    code = share(qtbot, teacher)
    student.named_actions["openLessonCodeAction"].trigger()
    dialog = student.seed.lessons.codes.dialog
    assert dialog.objectName() == "openLessonCodeDialog" and not dialog.open_button.isEnabled()
    dialog.code_input.setPlainText(code[:40] + "\n" + code[40:])  # pasted over two lines
    with qtbot.waitSignal(student.seed.lessons.codes.codeRestored, timeout=TIMEOUT_MS):
        dialog.open_button.click()
    assert set_up(student) == set_up(teacher) and not dialog.isVisible()


@pytest.mark.parametrize(
    "mangle",
    [lambda code: code[:-12], lambda code: code.replace("VAE1.", "VAE2."), lambda code: "hello"],
    ids=["cut short", "another prefix", "no code"],
)
def test_a_mangled_code_is_one_line_and_the_window_keeps_going(qtbot, windows, mangle):
    teacher, student = windows
    lesson = shipped_lessons()[4]
    code = lesson_code(lesson, 1, "Curves", lesson.config)
    with qtbot.waitSignal(student.errorShown, timeout=TIMEOUT_MS) as shown:
        student.seed.lessons.codes.open_code(mangle(code))
    assert "code" in shown.args[0] and "\n" not in shown.args[0]
    assert student.seed.lessons.lesson is None
    open_code(qtbot, student, code)  # the next good one opens
    assert student.seed.lessons.panel.current == 2


def test_a_missing_code_file_is_one_line(qtbot, windows, tmp_path):
    _, student = windows
    with qtbot.waitSignal(student.errorShown, timeout=TIMEOUT_MS) as shown:
        student.seed.lessons.codes.open_file(tmp_path / "gone.txt")
    assert "gone.txt" in shown.args[0] and "\n" not in shown.args[0]


def test_data_the_student_lacks_is_named_in_one_line_and_the_rest_restores(
    qtbot, windows, tmp_path
):
    teacher, student = windows
    lesson = shipped_lessons()[0]
    gone = tmp_path / "class-images"
    config = dataclasses.replace(lesson.config, data=DataConfig(dataset=f"folder:{gone}"))
    code = lesson_code(lesson, 2, "Samples", config)
    errors = []
    student.errorShown.connect(errors.append)
    open_code(qtbot, student, code)
    named = [line for line in errors if str(gone) in line and "does not have" in line]
    assert len(named) == 1 and "\n" not in named[0]
    lessons = student.seed.lessons
    assert lessons.lesson.title == lesson.title and lessons.panel.current == 3
    assert student.view_tabs.tabText(student.view_tabs.currentIndex()) == "Samples"
