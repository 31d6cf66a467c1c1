"""The lessons' controller: it reads lesson files (on a worker, through the window's
`ModelJobs`), sets the window up for a lesson and its steps, and saves the window's set-up as a
lesson a teacher can edit (on a worker too). The dock it fills is `lesson_dock.LessonPanel`.

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
    QFormLayout,
    QMenu,
    QWidget,
)

from app.controllers.job_kinds import FILE_READ, FILE_WRITE, Call
from app.controllers.model_jobs import Answer
from app.lessons.lesson_dock import LessonPanel
from app.lessons.lesson_host import LessonWindow
from app.lessons.lesson_runs import LessonRuns, run_name
from app.lessons.lesson_setup import (
    UserSetup,
    control_values,
    restore_setup,
    set_controls,
    take_setup,
)
from app.lessons.lesson_share import LessonCodes
from app.lessons.lesson_window import ControlLocks, control_value, set_control
from app.lessons.lessons import (
    Lesson,
    LessonStep,
    lesson_from_setup,
    read_lesson,
    readable_lessons,
    write_lesson,
)
from vae_core.errors import VaeStudioError

if TYPE_CHECKING:
    from app.controllers.model_jobs import ModelJobs
    from app.state.runs import RunsState
    from app.theory.host import TheoryViews

LESSON_FILTER = "VAE Studio lessons (*.toml)"


class LessonController(QObject):
    """Opens lessons into the window (through `LessonWindow`, all a lesson does to it), applies
    their steps, leaves them, saves the set-up as one."""

    lessonOpened = Signal(str)  # the lesson's title, once its set-up and first step are applied
    stepApplied = Signal(int)
    lessonsListed = Signal()  # the shipped lessons are in the Help > Lessons menu
    lessonSaved = Signal(str)

    def __init__(
        self,
        window: LessonWindow,
        jobs: ModelJobs,
        host: TheoryViews,
        runs: RunsState | None = None,
    ):
        super().__init__(host)
        self.window = window
        # Every lesson starts from the map's controls as a fresh window has them (built last, the
        # controller sees them all), and Leave puts back the user's set-up as it was.
        self._fresh_controls = control_values(window)
        self._user: UserSetup | None = None
        self.runs = LessonRuns(runs)
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
        self._list_read = jobs.line(FILE_READ, self, self._list_shipped, self._failed)
        self._lesson_read = jobs.line(FILE_READ, self, self._read, self._failed)
        self._lesson_write = jobs.line(FILE_WRITE, self, self._saved, self._failed)
        self.codes = LessonCodes(self, jobs)

    def list_shipped(self) -> None:
        """Read the shipped lessons into the menu, once (on a worker)."""
        if not self._shipped and self._list_read.idle:
            self._list_read.ask(Call(readable_lessons))

    def _list_shipped(self, answer: Answer) -> None:
        lessons, problems = answer.value
        if problems:
            self.window.show_error("lessons left out: " + "; ".join(problems))
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
        self._lesson_read.ask(Call(read_lesson, (Path(path),)))

    def _read(self, answer: Answer) -> None:
        self.start(answer.value)

    def _failed(self, error: Exception) -> None:
        self.window.show_error(
            str(error) if isinstance(error, VaeStudioError) else f"{type(error).__name__}: {error}"
        )

    def start(self, lesson: Lesson, step: int = 1, train: bool = True) -> None:
        """Set the window up for `lesson` (settings, locks, hidden controls, the map's controls
        afresh) and its step `step` (from 1); `train` False: a step's run is left to its button."""
        self.leave()
        self._user = take_setup(self.window)
        self.runs.begin()
        self.lesson = lesson
        set_controls(self._fresh_controls)
        self.window.apply_config(lesson.config)
        missing = []
        for name in lesson.lock:
            if (widget := self._widget(name, missing)) is not None:
                self.locks.lock(widget)
        for name in lesson.hide:
            if (widget := self._widget(name, missing)) is not None:
                self._hide(widget)
        # Opened at a later step: the map's controls as the steps before it leave them.
        for earlier in lesson.steps[: step - 1]:
            self._set_controls(earlier, missing)
        self._report(missing, "")
        self.panel.show_lesson(lesson)
        self.dock.show()
        self.dock.raise_()
        self.apply_step(step, train)
        self.lessonOpened.emit(lesson.title)

    def leave(self) -> None:
        """Stop the lesson's run, unlock and show every control the lesson locked or hid, and put
        the user's set-up back (settings, map and theory controls, view, map region, the Runs
        list's ticks): the user's β must not reach the lesson's run."""
        if self.lesson is not None and self.window.training() and self.runs.newest_is_own():
            self.window.stop_run()
        self.locks.release()
        for widget in self.hidden:
            widget.show()
        self.hidden.clear()
        self._pending = None
        self._train_after_stop = False
        if self.lesson is not None:
            self.lesson = None
            if self._user is not None:
                restore_setup(self.window, self._user)
                self._user = None
            self.runs.end()
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
    def apply_step(self, number: int, train: bool = True) -> None:
        """Set the window up for step `number` (from 1) of the lesson; `train` False leaves the
        step's run to its button."""
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
        self.runs.expect(None)
        if step.train is not None and train:
            self._pending = step
            self._train(step.train, run_name(self.lesson, step))
        else:
            self._pending = None
            self._set_map(step, missing)
        self._report(missing, f", step {number}")
        self.stepApplied.emit(number)

    def _set_controls(self, step: LessonStep, missing: list[str]) -> None:
        for name, value in step.controls.items():
            widget = self._widget(name, missing)
            if widget is not None and not set_control(widget, value):
                missing.append(f"{name} cannot take {value!r}")

    def _set_map(self, step: LessonStep, missing: list[str]) -> None:
        self._set_controls(step, missing)
        if step.select is not None:
            examples = self.window.examples_on_map()
            if examples is None:  # selected once a model is on show
                self._pending = dataclasses.replace(step, controls={})
            elif step.select >= examples:
                missing.append(f"no example {step.select} (the map has {examples})")
            else:
                self.window.select(step.select)
                self.window.zoom_to_selected()

    def _train(self, steps: int, name: str) -> None:
        try:
            config = self.window.config()
        except VaeStudioError as error:
            self.window.show_error(str(error))
            return
        self.runs.expect(name)
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
        self._lesson_write.ask(Call(write_lesson, (Path(path), lesson)))

    def _saved(self, answer: Answer) -> None:
        path = answer.value
        self.window.say(f"Saved the set-up as a lesson: {path}")
        self.lessonSaved.emit(str(path))
