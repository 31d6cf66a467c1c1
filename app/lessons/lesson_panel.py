"""The lesson dock: a lesson's text, what to look for, a button per step; and the controller that
reads lesson files (on a worker), sets the window up for a lesson and its steps, and saves the
window's set-up as a lesson a teacher can edit.

A step is applied tolerantly: a name the window does not have (a view of another build, a typo)
gives one line naming it, and the rest of the step still applies.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QButtonGroup,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.lessons.lesson_host import LessonWindow
from app.lessons.lesson_window import ControlLocks, control_value, set_control
from app.lessons.lessons import (
    Lesson,
    LessonStep,
    lesson_from_setup,
    read_lesson,
    shipped_lessons,
    write_lesson,
)
from app.naming import named
from app.workers import start_job
from vae_core.errors import VaeStudioError

if TYPE_CHECKING:
    from app.theory.host import TheoryViews

LESSON_FILTER = "VAE Studio lessons (*.toml)"
NO_LESSON_TEXT = "No lesson open. Choose one in Help > Lessons, or File > Open Lesson…"


class LessonPanel(QWidget):
    """Shows a lesson; its buttons ask for a step (`stepRequested(number)`, from 1) or to leave."""

    stepRequested = Signal(int)
    leaveRequested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        named(self, "lessonPanel", "Lesson")
        self.title = named(QLabel(), "lessonTitle", "Lesson title")
        self.title.setWordWrap(True)
        font = self.title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.2)
        self.title.setFont(font)
        self.text = named(QTextBrowser(), "lessonText", "Lesson text")
        self.text.setOpenExternalLinks(True)
        self.look_for = named(QLabel(), "lessonLookFor", "What to look for")
        self.look_for.setWordWrap(True)
        self.look_for.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        look_box = QGroupBox("What to look for")
        QVBoxLayout(look_box).addWidget(self.look_for)
        self.step_row = QHBoxLayout()
        self.step_group = QButtonGroup(self)
        self.step_group.setExclusive(True)
        self.setStyleSheet("QPushButton:checked { font-weight: bold; }")
        self.step_group.idClicked.connect(self.stepRequested)
        self.previous_button = named(
            QPushButton("Previous"), "lessonPreviousButton", "Previous step"
        )
        self.next_button = named(QPushButton("Next"), "lessonNextButton", "Next step")
        self.leave_button = named(
            QPushButton("Leave lesson"), "leaveLessonButton", "Leave the lesson"
        )
        self.leave_button.setToolTip("Unlock and show every control again")
        self.previous_button.clicked.connect(self._previous)
        self.next_button.clicked.connect(self._next)
        self.leave_button.clicked.connect(self.leaveRequested)
        moves = QHBoxLayout()
        for button in (self.previous_button, self.next_button):
            moves.addWidget(button)
        moves.addStretch(1)
        moves.addWidget(self.leave_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.text, 1)
        layout.addWidget(look_box)
        layout.addLayout(self.step_row)
        layout.addLayout(moves)
        self.lesson: Lesson | None = None
        self.current = 0
        self.clear()

    def _previous(self) -> None:
        self.stepRequested.emit(self.current - 1)

    def _next(self) -> None:
        self.stepRequested.emit(self.current + 1)

    def clear(self) -> None:
        self.lesson, self.current = None, 0
        self.title.setText("Lessons")
        self.text.setMarkdown(NO_LESSON_TEXT)
        self.look_for.setText("")
        self._set_step_buttons(0)
        self._enable_moves()

    def show_lesson(self, lesson: Lesson) -> None:
        self.lesson = lesson
        self.title.setText(lesson.title)
        self._set_step_buttons(len(lesson.steps))

    def show_step(self, number: int) -> None:
        """Step `number` (from 1) as current: its text under the lesson's, its button highlighted."""
        self.current = number
        step = self.lesson.steps[number - 1]
        heading = f"Step {number} of {len(self.lesson.steps)}: {step.title}"
        self.text.setMarkdown(f"{self.lesson.text}\n\n### {heading}\n\n{step.text}")
        if number > 1:  # the lesson's text was read at step 1: now it stays above, a scroll away
            block = self.text.document().find(heading).block()
            top = self.text.document().documentLayout().blockBoundingRect(block).top()
            self.text.verticalScrollBar().setValue(int(top))
        self.look_for.setText(step.look_for or "—")
        self.step_group.button(number).setChecked(True)
        self._enable_moves()

    def step_buttons(self) -> list[QPushButton]:
        return [
            self.step_group.button(number)
            for number in range(1, len(self.step_group.buttons()) + 1)
        ]

    def _set_step_buttons(self, count: int) -> None:
        for button in self.step_group.buttons():
            self.step_group.removeButton(button)
            button.deleteLater()
        for number in range(1, count + 1):
            step = self.lesson.steps[number - 1]
            button = named(
                QPushButton(str(number)),
                f"lessonStepButton{number}",
                f"Step {number}: {step.title}",
            )
            button.setCheckable(True)
            button.setToolTip(step.title)
            self.step_group.addButton(button, number)
            self.step_row.insertWidget(number - 1, button)

    def _enable_moves(self) -> None:
        count = 0 if self.lesson is None else len(self.lesson.steps)
        self.previous_button.setEnabled(self.current > 1)
        self.next_button.setEnabled(0 < self.current < count)
        self.leave_button.setEnabled(self.lesson is not None)


class LessonController(QObject):
    """Opens lessons into the window (through `LessonWindow`, all a lesson does to it), applies
    their steps, leaves them, saves the set-up as one."""

    lessonOpened = Signal(str)  # the lesson's title, once its set-up and first step are applied
    stepApplied = Signal(int)
    lessonsListed = Signal()  # the shipped lessons are in the Help > Lessons menu
    lessonSaved = Signal(str)

    def __init__(self, window: LessonWindow, host: TheoryViews):
        super().__init__(host)
        self.window = window
        self.panel = LessonPanel()
        self.dock = host.add_dock(
            "lessonDock", "Lesson", self.panel, Qt.DockWidgetArea.LeftDockWidgetArea
        )
        window.dock_beside_settings(self.dock)
        self.dock.hide()
        self.panel.stepRequested.connect(self.apply_step)
        self.panel.leaveRequested.connect(self.leave)
        self.locks = ControlLocks(self)
        self.hidden: list[QWidget] = []
        self.lesson: Lesson | None = None
        # What a step sets on the map once the model it trains is on show.
        self._pending: LessonStep | None = None
        self._train_after_stop = False
        window.when_model_shown(self._model_shown)
        window.when_run_ends(self._run_ended)
        self.menu = QMenu("&Lessons", self.dock)
        self.menu.setObjectName("lessonsMenu")
        self.menu.triggered.connect(self._menu_chosen)
        # The shipped lessons are read when the menu first opens: a window that never shows it
        # (most, in tests and scripts) starts no job for them.
        self.menu.addAction("Reading the lessons…").setEnabled(False)
        self.menu.aboutToShow.connect(self.list_shipped)
        self._shipped: list[Lesson] = []
        self._listing = False

    def list_shipped(self) -> None:
        """Read the shipped lessons into the menu, once (on a worker)."""
        if self._shipped or self._listing:
            return
        self._listing = True
        start_job(
            shipped_lessons,
            on_result=self._list_shipped,
            on_error=self._failed,
            on_finished=self._listed,
        )

    def _listed(self) -> None:
        self._listing = False

    def _list_shipped(self, lessons: list[Lesson]) -> None:
        self._shipped = lessons
        self.menu.clear()
        for index, lesson in enumerate(lessons):
            self.menu.addAction(lesson.title).setData(index)
        self.lessonsListed.emit()

    def _menu_chosen(self, action: QAction) -> None:
        self.start(self._shipped[action.data()])

    # Opening and leaving.
    def ask_open(self) -> None:
        if chosen := self.window.ask_file(False, "Open lesson", LESSON_FILTER):
            self.open(chosen[0])

    def open(self, path: str | Path) -> None:
        """Read the lesson at `path` on a worker, then start it (a bad file gives one line)."""
        start_job(read_lesson, Path(path), on_result=self.start, on_error=self._failed)

    def _failed(self, error: Exception) -> None:
        self.window.show_error(
            str(error) if isinstance(error, VaeStudioError) else f"{type(error).__name__}: {error}"
        )

    def start(self, lesson: Lesson) -> None:
        """Set the window up for `lesson` (settings, locks, hidden controls) and its first step."""
        self.leave()
        self.lesson = lesson
        self.window.apply_config(lesson.config)
        missing = []
        for name in lesson.lock:
            if (widget := self._widget(name, missing)) is not None:
                self.locks.lock(widget)
        for name in lesson.hide:
            if (widget := self._widget(name, missing)) is not None:
                self._hide(widget)
        self._report(missing, "")
        self.panel.show_lesson(lesson)
        self.dock.show()
        self.dock.raise_()
        self.apply_step(1)
        self.lessonOpened.emit(lesson.title)

    def leave(self) -> None:
        """Unlock and show every control the lesson locked or hid; the settings stay as they are."""
        self.locks.release()
        for widget in self.hidden:
            widget.show()
        self.hidden.clear()
        self._pending = None
        self._train_after_stop = False
        if self.lesson is not None:
            self.lesson = None
            # The settings panel disables again what does not apply to the model as set up.
            self.window.settle_controls()
            self.panel.clear()
            self.dock.hide()

    def _hide(self, widget: QWidget) -> None:
        if widget.isHidden():
            return  # hidden by its own view: Leave lesson must not show it
        hidden = [widget]
        form = widget.parentWidget().layout() if widget.parentWidget() else None
        if isinstance(form, QFormLayout) and (label := form.labelForField(widget)) is not None:
            hidden.append(label)
        for each in hidden:
            each.hide()
        self.hidden.extend(hidden)

    # Steps.
    def apply_step(self, number: int) -> None:
        """Set the window up for step `number` (from 1) of the lesson."""
        if self.lesson is None or not 1 <= number <= len(self.lesson.steps):
            return
        step = self.lesson.steps[number - 1]
        self.panel.show_step(number)
        missing: list[str] = []
        if step.config is not None:
            self.window.apply_config(step.config)
        if step.beta is not None:
            self.window.set_beta(step.beta)
        if step.tab is not None and not self.window.show_view(step.tab):
            missing.append(f"no view tab '{step.tab}'")
        if step.train is not None:
            self._pending = step
            self._train(step.train)
        else:
            self._pending = None
            self._set_map(step, missing)
        self._report(missing, f", step {number}")
        self.stepApplied.emit(number)

    def _set_map(self, step: LessonStep, missing: list[str]) -> None:
        for name, value in step.controls.items():
            widget = self._widget(name, missing)
            if widget is not None and not set_control(widget, value):
                missing.append(f"{name} cannot take {value!r}")
        if step.select is not None:
            examples = self.window.examples_on_map()
            if examples is None:  # selected once a model is on show
                self._pending = dataclasses.replace(step, controls={})
            elif step.select >= examples:
                missing.append(f"no example {step.select} (the map has {examples})")
            else:
                self.window.select(step.select)

    def _train(self, steps: int) -> None:
        try:
            config = self.window.config()
        except VaeStudioError as error:
            self.window.show_error(str(error))
            return
        self.window.apply_config(
            dataclasses.replace(config, train=dataclasses.replace(config.train, max_steps=steps))
        )
        if self.window.training():
            self._train_after_stop = True  # the next run starts when this one has ended
            self.window.stop_run()
        else:
            self.window.train()

    def _run_ended(self, _reason: str) -> None:
        if self._train_after_stop:
            self._train_after_stop = False
            self.window.train()

    def _model_shown(self) -> None:
        step = self._pending
        if step is not None and self.window.examples_on_map() is not None:
            self._pending = None
            missing: list[str] = []
            self._set_map(step, missing)
            self._report(missing, f", step {self.panel.current}")

    def _widget(self, name: str, missing: list[str]) -> QWidget | None:
        widget = self.window.control(name)
        if widget is None:
            missing.append(f"no control '{name}'")
        return widget

    def _report(self, problems: list[str], where: str) -> None:
        if problems:
            self.window.show_error(f"lesson '{self.lesson.title}'{where}: {'; '.join(problems)}")

    # Saving.
    def ask_save(self) -> None:
        if chosen := self.window.ask_file(True, "Save as lesson", LESSON_FILTER, "my-lesson.toml"):
            path = chosen[0] if chosen[0].endswith(".toml") else chosen[0] + ".toml"
            self.save(path)

    def setup(self) -> Lesson:
        """The window's set-up as a lesson of one step: the settings, the view tab, the map's and
        the theory row's controls, the selected example."""
        window = self.window
        controls = {widget.objectName(): control_value(widget) for widget in window.map_controls()}
        return lesson_from_setup(
            window.config(), window.current_view(), controls, window.selected()
        )

    def save(self, path: str | Path) -> None:
        """Write the set-up to `path` on a worker; `lessonSaved` or one line tells how it went."""
        try:
            lesson = self.setup()
        except VaeStudioError as error:
            self.window.show_error(str(error))
            return
        start_job(write_lesson, Path(path), lesson, on_result=self._saved, on_error=self._failed)

    def _saved(self, path: Path) -> None:
        self.window.say(f"Saved the set-up as a lesson: {path}")
        self.lessonSaved.emit(str(path))
