"""The run toolbar (Train, Pause, Step, Stop, Continue and the speed slider), and which of the
window's actions the run's status enables."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel, QMainWindow, QPushButton, QSlider, QToolBar

from app.controllers.run import RunController
from app.naming import named
from app.state import RunStatus

# The speed slider's top: its maximum means no limit ("as fast as it goes"), below it steps a second.
FULL_SPEED = 100


class RunActions:
    def __init__(
        self,
        window: QMainWindow,
        runs: RunController,
        actions: dict[str, QAction],
        train: Callable[[], None],
    ):
        self.runs = runs
        self.actions = actions
        self.toolbar = named(QToolBar("Run"), "runToolBar", "Run")
        window.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.toolbar)
        self.train_button = self._button(
            "trainButton", "Train", train, "Train a new model (Ctrl+Return)"
        )
        self.pause_button = self._button(
            "pauseButton", "Pause", runs.toggle_pause, "Pause or resume (Space)"
        )
        self.step_button = self._button(
            "stepButton", "Step", runs.step, "Train exactly one step (N)"
        )
        self.stop_button = self._button("stopButton", "Stop", runs.stop, "Stop the run (Ctrl+.)")
        self.continue_button = self._button(
            "continueButton",
            "Continue",
            runs.continue_run,
            "Go on with the stopped run (Ctrl+Shift+Return)",
        )
        for button in (
            self.train_button,
            self.pause_button,
            self.step_button,
            self.stop_button,
            self.continue_button,
        ):
            self.toolbar.addWidget(button)
        self.train_button.setDefault(True)
        self.toolbar.addSeparator()
        self._build_speed_slider()

    def _build_speed_slider(self) -> None:
        self.speed_slider = named(
            QSlider(Qt.Orientation.Horizontal), "speedSlider", "Training speed"
        )
        self.speed_slider.setRange(1, FULL_SPEED)
        self.speed_slider.setValue(FULL_SPEED)
        self.speed_slider.setFixedWidth(160)
        self.speed_slider.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.speed_slider.setToolTip(
            "Steps per second, to slow a run down enough to talk over it; all the way right: as fast as it goes"
        )
        self.speed_label = named(QLabel(), "speedLimitLabel", "Training speed")
        self.speed_label.setMinimumWidth(
            self.speed_label.fontMetrics().horizontalAdvance("99 steps/s") + 8
        )
        self.toolbar.addWidget(QLabel(" Speed "))
        self.toolbar.addWidget(self.speed_slider)
        self.toolbar.addWidget(self.speed_label)
        self.speed_slider.valueChanged.connect(self._speed_chosen)
        self._speed_chosen(self.speed_slider.value())

    def _speed_chosen(self, position: int) -> None:
        steps_per_second = None if position >= FULL_SPEED else float(position)
        self.speed_label.setText(
            "full speed" if steps_per_second is None else f"{position} steps/s"
        )
        self.runs.set_speed(steps_per_second)

    @staticmethod
    def _button(name: str, text: str, slot, tip: str) -> QPushButton:
        button = named(QPushButton(text), name, text)
        button.setToolTip(tip)
        # Space belongs to pause/resume, not to whichever button has the focus.
        button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        button.clicked.connect(slot)
        return button

    def show_status(self, status: RunStatus, can_continue: bool) -> None:
        training = status.training
        can_pause = status in (RunStatus.RUNNING, RunStatus.PAUSED)
        can_stop = status in (RunStatus.STARTING, RunStatus.RUNNING, RunStatus.PAUSED)
        actions = self.actions
        for widgets, enabled in (
            ((self.train_button, actions["trainAction"]), not training),
            (
                (
                    self.pause_button,
                    actions["pauseAction"],
                    self.step_button,
                    actions["stepAction"],
                ),
                can_pause,
            ),
            ((self.stop_button, actions["stopAction"]), can_stop),
            ((self.continue_button, actions["continueAction"]), can_continue),
            ((actions["openAction"], actions["resumeAction"]), not training),
        ):
            for widget in widgets:
                widget.setEnabled(enabled)
        self.pause_button.setText("Resume" if status is RunStatus.PAUSED else "Pause")
