"""The window's actions, run toolbar and menus; which of them the run's status enables."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QPushButton, QSlider, QToolBar

from app.help_pages import ViewHelp
from app.naming import named
from app.shortcuts import ShortcutsOverEditors
from app.state import RunStatus

# The speed slider's top: its maximum means no limit ("as fast as it goes"), below it steps a second.
FULL_SPEED = 100


class RunActions:
    def __init__(self, window):
        self.window = window
        runs = window.runs
        key = QKeySequence.StandardKey
        self.train_action = self.action(
            "trainAction", "&Train", window.train, "Ctrl+Return", "Train a new model"
        )
        self.pause_action = self.action(
            "pauseAction", "&Pause / Resume", runs.toggle_pause, "Space"
        )
        self.step_action = self.action(
            "stepAction", "&Step", runs.step, "N", "Train exactly one step"
        )
        self.stop_action = self.action("stopAction", "St&op", runs.stop, "Ctrl+.")
        self.continue_action = self.action(
            "continueAction",
            "&Continue",
            runs.continue_run,
            "Ctrl+Shift+Return",
            "Go on with the stopped run",
        )
        self.beta_up_action = self.action(
            "betaUpAction",
            "β Up",
            lambda: window.controls.scale_beta(0.1),
            "]",
            "β × 1.26 (a tenth of a decade)",
        )
        self.beta_down_action = self.action(
            "betaDownAction", "β Down", lambda: window.controls.scale_beta(-0.1), "[", "β ÷ 1.26"
        )
        self.presentation_action = self.action(
            "presentationAction",
            "&Presentation Mode",
            window.set_presentation_mode,
            "F11",
            "Full screen, large fonts, the curves and the latent map only",
        )
        self.presentation_action.setCheckable(True)
        self.leave_presentation_action = self.action(
            "leavePresentationAction",
            "Leave Presentation Mode",
            lambda: window.set_presentation_mode(False),
            "Esc",
        )
        self.leave_presentation_action.setEnabled(False)
        self.reset_layout_action = self.action(
            "resetLayoutAction", "Reset &Layout", window.reset_layout
        )
        self.quit_action = self.action("quitAction", "&Quit", window.close, key.Quit)

        self.toolbar = named(QToolBar("Run"), "runToolBar", "Run")
        window.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.toolbar)
        self.train_button = self._button(
            "trainButton", "Train", window.train, "Train a new model (Ctrl+Return)"
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
        self.editor_keys = ShortcutsOverEditors(window)
        self.toolbar.addSeparator()
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
        self.window.runs.set_speed(steps_per_second)

    def action(self, name: str, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self.window)
        action.setObjectName(name)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        # Added to the window itself too, so shortcuts work with the menu bar hidden.
        self.window.addAction(action)
        return action

    @staticmethod
    def _button(name: str, text: str, slot, tip: str) -> QPushButton:
        button = named(QPushButton(text), name, text)
        button.setToolTip(tip)
        # Space belongs to pause/resume, not to whichever button has the focus.
        button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        button.clicked.connect(slot)
        return button

    def build_menus(self) -> None:
        window, files = self.window, self.window.files
        menus = window.menuBar()
        file_menu = menus.addMenu("&File")
        file_menu.addActions(
            [
                files.open_action,
                window.data_sources.open_action,
                files.save_action,
                files.resume_action,
            ]
        )
        file_menu.addActions(
            [files.follow_action, files.stop_following_action, files.open_run_folder_action]
        )
        lessons = window.seed.lessons
        file_menu.addActions([lessons.open_action, lessons.save_action])
        file_menu.addSeparator()
        file_menu.addAction(files.export_csv_action)
        plots_menu = file_menu.addMenu("Export &Plot PNG")
        for title in window.exportable_views():
            plots_menu.addAction(f"{title}…").setData(title)
        plots_menu.triggered.connect(files.ask_export_plot)
        file_menu.addMenu(files.figures.menu)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        run_menu = menus.addMenu("&Run")
        run_menu.addActions(
            [
                self.train_action,
                self.pause_action,
                self.step_action,
                self.stop_action,
                self.continue_action,
            ]
        )
        run_menu.addSeparator()
        run_menu.addActions([self.beta_up_action, self.beta_down_action])
        view_menu = menus.addMenu("&View")
        view_menu.addAction(self.presentation_action)
        view_menu.addSeparator()
        for dock in (
            window.controls_dock,
            window.explorer_dock,
            window.views_dock,
            *window.seed.docks.values(),
        ):
            view_menu.addAction(dock.toggleViewAction())
        view_menu.addAction(self.reset_layout_action)
        help_menu = menus.addMenu("&Help")
        self.view_help = ViewHelp(window)
        help_menu.addAction(self.view_help.action)
        help_menu.addMenu(lessons.menu)
        help_menu.addAction("&About VAE Studio", window.messages.show_about)

    def show_status(self, status: RunStatus, can_continue: bool) -> None:
        training = status.training
        can_pause = status in (RunStatus.RUNNING, RunStatus.PAUSED)
        can_stop = status in (RunStatus.STARTING, RunStatus.RUNNING, RunStatus.PAUSED)
        for widgets, enabled in (
            ((self.train_button, self.train_action), not training),
            ((self.pause_button, self.pause_action, self.step_button, self.step_action), can_pause),
            ((self.stop_button, self.stop_action), can_stop),
            ((self.continue_button, self.continue_action), can_continue),
            ((self.window.files.open_action, self.window.files.resume_action), not training),
        ):
            for widget in widgets:
                widget.setEnabled(enabled)
        self.pause_button.setText("Resume" if status is RunStatus.PAUSED else "Pause")
