"""File > Share Lesson… and File > Open Lesson Code…: the controller of a lesson as a code. The
code and its QR image are made on a worker (a shipped lesson's file is read for its digest), a
code is read on a worker (and the data it needs looked for), then restored here: the lesson at its
step, the settings, the locks and hidden controls, the view. A step's run is not started: its
button trains it, as in the lesson."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from app.controllers.job_kinds import FILE_READ, FILE_WRITE, Call
from app.controllers.model_jobs import Answer
from app.lessons.lesson_code import (
    CodeToRestore,
    code_in_file,
    code_to_restore,
    code_to_show,
    shared_setup,
)
from app.lessons.lesson_code_dialogs import OpenLessonCodeDialog, ShareLessonDialog
from app.lessons.lesson_window import control_value
from vae_core.errors import VaeStudioError
from vae_core.files import write_failure, write_text_atomically

if TYPE_CHECKING:
    from app.controllers.model_jobs import ModelJobs
    from app.lessons.lesson_panel import LessonController

CODE_FILTER = "Lesson codes (*.txt);;All files (*)"
NO_LESSON_ABOUT = (
    "No lesson is open: this code shares the current set-up (the settings, the view on show, the "
    "map's layers and the selected input) as a lesson of one step."
)


def write_code(path: Path, code: str) -> Path:
    try:
        write_text_atomically(path, code + "\n")
    except OSError as error:
        raise write_failure(path, error) from None
    return path


class LessonCodes(QObject):
    """Shares the lesson on show (or the set-up) as a code, and restores one."""

    codeShown = Signal(str)  # the Share Lesson dialog shows this code
    codeRestored = Signal(str)  # a code's lesson is open, at its step: its title
    codeSaved = Signal(str)  # the path a code was written to

    def __init__(self, lessons: LessonController, jobs: ModelJobs):
        super().__init__(lessons)
        self.lessons = lessons
        self.window = lessons.window
        self.dialog: ShareLessonDialog | OpenLessonCodeDialog | None = None
        self._about = ""
        self._make = jobs.line(FILE_READ, self, self._made, self._failed)
        self._read = jobs.line(FILE_READ, self, self._restore, self._failed)
        self._write = jobs.line(FILE_WRITE, self, self._saved, self._failed)

    def _parent(self) -> QWidget:
        return self.lessons.dock.window()

    def _failed(self, error: Exception) -> None:
        self.window.show_error(
            str(error) if isinstance(error, VaeStudioError) else f"{type(error).__name__}: {error}"
        )

    # Sharing.
    def ask_share(self) -> None:
        """Make the code of the lesson on show at its step (or of the set-up), then show it."""
        window = self.window
        try:
            config = window.config()
        except VaeStudioError as error:
            window.show_error(f"cannot share the lesson: {error}")
            return
        view = window.current_view()
        lesson = self.lessons.lesson
        if lesson is None:
            controls = {
                widget.objectName(): control_value(widget) for widget in window.map_controls()
            }
            lesson, step = shared_setup(config, view, controls, window.selected()), 0
            self._about = NO_LESSON_ABOUT
        else:
            step = self.lessons.panel.current - 1
            self._about = (
                f"“{lesson.title}” at step {step + 1} of {len(lesson.steps)}, the view "
                f"“{view}”, with this window's settings, locks and hidden controls."
            )
        self._make.ask(Call(code_to_show, (lesson, step, view, config)))

    def _made(self, answer: Answer) -> None:
        shown = answer.value
        self._close_dialog()
        self.dialog = ShareLessonDialog(shown.code, shown.qr_pixels, self._about, self._parent())
        self.dialog.saveRequested.connect(self.ask_save)
        self.dialog.show()
        self.codeShown.emit(shown.code)

    def ask_save(self, code: str) -> None:
        if chosen := self.window.ask_file(True, "Save lesson code", CODE_FILTER, "lesson-code.txt"):
            self.save(chosen[0], code)

    def save(self, path: str | Path, code: str) -> None:
        self._write.ask(Call(write_code, (Path(path), code)))

    def _saved(self, answer: Answer) -> None:
        self.window.say(f"Saved the lesson code: {answer.value}")
        self.codeSaved.emit(str(answer.value))

    # Opening.
    def ask_open(self) -> None:
        """The Open Lesson Code dialog: a code pasted, or a text file chosen, is restored."""
        self._close_dialog()
        self.dialog = OpenLessonCodeDialog(self._parent())
        self.dialog.codeEntered.connect(self.open_code)
        self.dialog.fileRequested.connect(self.ask_open_file)
        self.dialog.show()

    def ask_open_file(self) -> None:
        if chosen := self.window.ask_file(False, "Open lesson code", CODE_FILTER):
            self.open_file(chosen[0])

    def open_code(self, code: str) -> None:
        """Read `code` on a worker, then restore its set-up (a bad code gives one line)."""
        self._read.ask(Call(code_to_restore, (code,)))

    def open_file(self, path: str | Path) -> None:
        self._read.ask(Call(code_in_file, (Path(path),)))

    def _restore(self, answer: Answer) -> None:
        restoring: CodeToRestore = answer.value
        shared = restoring.shared
        lessons, window = self.lessons, self.window
        lessons.start(shared.lesson, shared.step + 1, train=False)
        window.apply_config(shared.config)
        if shared.view and not window.show_view(shared.view):
            window.show_error(f"the code's view '{shared.view}' is not in this window")
        problems = [line for line in (shared.note, restoring.missing) if line]
        if problems:
            window.show_error("; ".join(problems))
        step = shared.lesson.steps[shared.step]
        then = " (its step's button trains its run)" if step.train is not None else ""
        window.say(f"Opened “{shared.lesson.title}” at step {shared.step + 1}{then}")
        self.codeRestored.emit(shared.lesson.title)

    def _close_dialog(self) -> None:
        if self.dialog is not None:
            self.dialog.close()
            self.dialog.deleteLater()
            self.dialog = None
