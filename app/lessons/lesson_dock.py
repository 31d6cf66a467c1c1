"""The lesson dock's widget: a lesson's text, what to look for, a button per step."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.lessons.lessons import Lesson
from app.markdown_text import with_literal_tildes
from app.naming import named

# Wide enough for a two-digit step number in bold.
STEP_BUTTON_WIDTH = 44
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
        self.leave_button.setToolTip(
            "Stop the lesson's run, unlock and show every control, and put your set-up back"
        )
        self.previous_button.clicked.connect(self._previous)
        self.next_button.clicked.connect(self._next)
        self.leave_button.clicked.connect(self.leaveRequested)
        moves = QHBoxLayout()
        for button in (self.previous_button, self.next_button):
            moves.addWidget(button)
        moves.addStretch(1)
        moves.addWidget(self.leave_button)
        self.step_row.addStretch(1)
        # The buttons come first: nothing of a length that changes (the title, a step's text, what
        # to look for) sits above them to push them about, nor widens the dock under them.
        for label in (self.title, self.look_for):
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout = QVBoxLayout(self)
        layout.addLayout(moves)
        layout.addLayout(self.step_row)
        layout.addWidget(self.title)
        layout.addWidget(self.text, 1)
        layout.addWidget(look_box)
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
        self.text.setMarkdown(
            with_literal_tildes(f"{self.lesson.text}\n\n### {heading}\n\n{step.text}")
        )
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
            button.setFixedWidth(STEP_BUTTON_WIDTH)
            button.setToolTip(step.title)
            self.step_group.addButton(button, number)
            self.step_row.insertWidget(number - 1, button)

    def _enable_moves(self) -> None:
        count = 0 if self.lesson is None else len(self.lesson.steps)
        self.previous_button.setEnabled(self.current > 1)
        self.next_button.setEnabled(0 < self.current < count)
        self.leave_button.setEnabled(self.lesson is not None)
