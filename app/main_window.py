"""The main window: settings on the left, the latent map in the centre, the explorer's side panel on
the right and the views in tabs below.

What it shows lives in one Qt-free state model (`app.state`); controllers change it (the run's,
the checkpoints', the explorer's), the views subscribe to it and draw. The window builds them,
lays them out and turns menus, buttons and keys into the controllers' commands. Per snapshot the
GUI thread only appends numbers; a timer redraws the curves and figures at most ten times a second.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QMainWindow,
    QScrollArea,
    QTabWidget,
    QWidget,
)

from app.actions import install_actions
from app.controllers.checkpoints import CheckpointController
from app.controllers.evaluation import EvaluationController
from app.controllers.explorer import LatentExplorer
from app.controllers.model_jobs import ModelJobs
from app.controllers.run import RunController
from app.controllers.run_starts import RunStarts
from app.controls import ControlPanel
from app.curves import CurvesView
from app.evaluation_page import EvaluationPage
from app.messages import Messages
from app.naming import named
from app.plots import KlBarsView
from app.preview_views import PreviewViews
from app.run_actions import RunActions
from app.settings import last_config, open_settings, store_config
from app.shortcuts import ShortcutsOverEditors
from app.state import AppState, RunStatus
from app.status_bar import MessageBar, RunStatusBar
from app.step_apart_window import build_step_apart
from app.theory.posterior_layers import selected_input
from app.window_parts import WINDOW_STATE_VERSION, build_helpers
from app.workers import wait_for_jobs
from vae_core.checkpoint import Checkpoint
from vae_core.errors import VaeStudioError

REDRAW_INTERVAL_MS = 100


class MainWindow(QMainWindow):
    errorShown = Signal(str)  # every message shown to the user about a problem
    viewsRefreshed = Signal()  # after each throttled redraw
    checkpointSaved = Signal(str)  # a checkpoint was written, by the run or from the model on show
    dataLoaded = Signal(
        str, str
    )  # a chosen data set loaded ahead of Train: its name, "" or the error line

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        named(self, "MainWindow", "VAE Studio")
        self.setWindowTitle("VAE Studio")
        self.settings = open_settings()
        self.state = state = AppState()
        self.runs = RunController(state, self)
        self.checkpoints = CheckpointController(state, self.runs, self)
        self.controls = ControlPanel()
        self.curves = CurvesView(state.run, state.shown)
        self.kl_bars = KlBarsView()
        self.model_jobs = ModelJobs(state.shown, self)  # before the views that ask it
        self.explorer = LatentExplorer(state.shown, self, self.model_jobs)
        self.previews = PreviewViews(state.shown, self.explorer.decoder)
        self.evaluation = EvaluationPage(EvaluationController(state.shown, self.model_jobs, self))
        self.setStatusBar(MessageBar(self))  # long messages cut before the run's labels
        self.messages = Messages(self, self.runs.data.cancel_downloads)
        self.starts = RunStarts(
            self.controls,
            self.runs,
            self.checkpoints,
            self.settings,
            self.messages,
            self.statusBar().showMessage,
            self.show_error,
            self,
        )
        self.starts.dataLoaded.connect(self.dataLoaded)
        self._curves_dirty = False
        # The actions' callbacks are given the window when triggered: built first, they need
        # nothing else built yet.
        self.named_actions = actions = install_actions(self)
        self._build_docks()
        self.status = RunStatusBar(self.statusBar(), state)
        self.run_actions = RunActions(self, self.runs, actions, self.train)
        self.editor_keys = ShortcutsOverEditors(self)
        helpers = build_helpers(self, actions)
        self.data_sources, self.seed, self.files = helpers.data_sources, helpers.seed, helpers.files
        self.figures, self.view_help = helpers.figures, helpers.view_help
        self.presentation, self.recent = helpers.presentation, helpers.recent
        self.settings_undo, self.classroom = helpers.settings_undo, helpers.classroom
        self.step_apart = build_step_apart(self)
        self.dataLoaded.connect(self.data_sources.remember_loaded)
        self.viewsRefreshed.connect(self.presentation.show_figures)

        self._redraw_timer = QTimer(self)
        self._redraw_timer.setInterval(REDRAW_INTERVAL_MS)
        self._redraw_timer.timeout.connect(self.refresh_views)
        self._connect(state)
        self.setAcceptDrops(True)
        self._restore_settings()
        self.settings_undo.start_afresh()
        self._on_status_changed(state.run.status)
        # Once the event loop runs: whoever built the window may still change its settings.
        QTimer.singleShot(0, self, self.starts.preload_data)

    def _connect(self, state: AppState) -> None:
        state.run.status_changed.connect(self._on_status_changed)
        state.run.snapshot_added.connect(self._on_snapshot)
        state.run.history_replaced.connect(self.refresh_views)
        state.shown.model_changed.connect(self.evaluation.clear)
        state.shown.model_changed.connect(self._show_kl)
        state.shown.explorer.events.encoded.connect(self._show_kl)

        for source in (self.runs, self.checkpoints, self.explorer):
            source.errorOccurred.connect(self.show_error)
        if self.controls.preset_problems:
            self.show_error("presets left out: " + "; ".join(self.controls.preset_problems))
        self.runs.runStarted.connect(self._on_run_started)
        self.runs.runEnded.connect(self._on_run_ended)
        self.runs.dataProgress.connect(self.messages.show_download_progress)
        for source in (self.runs, self.checkpoints):
            source.checkpointSaved.connect(self.checkpointSaved)
        self.checkpointSaved.connect(lambda path: self.say(f"Saved {path}"))
        self.checkpoints.opened.connect(self._on_checkpoint_opened)
        self.controls.betaChanged.connect(self.runs.set_beta)
        self.controls.said.connect(self.say)
        self.controls.learningRateChanged.connect(self.runs.set_learning_rate)
        self.explorer.deadCodeResetRequested.connect(self.runs.reset_codes)
        self.evaluation.evaluateRequested.connect(self.evaluate_model_on_show)
        self.evaluation.analysisRequested.connect(self.analyze_selected_input)
        application = QApplication.instance()
        if application is not None:
            application.aboutToQuit.connect(self.runs.shutdown)

    # Building.
    def _build_docks(self) -> None:
        self.setCentralWidget(self.explorer.map)
        self.setDockOptions(
            QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks
        )
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        scroller = QScrollArea()
        scroller.setWidgetResizable(True)
        scroller.setWidget(self.controls)
        scroller.setMinimumWidth(self.controls.sizeHint().width() + 24)
        self.controls_dock = self.add_dock(
            "controlsDock", "Settings", scroller, Qt.DockWidgetArea.LeftDockWidgetArea
        )
        self.explorer_dock = self.add_dock(
            "explorerDock",
            "Explorer",
            self.explorer.side,
            Qt.DockWidgetArea.RightDockWidgetArea,
        )
        self.view_tabs = named(QTabWidget(), "viewTabs", "Views")
        self.view_tabs.setDocumentMode(True)
        self.view_tabs.addTab(self.curves, "Curves")
        self.view_tabs.addTab(self.kl_bars, "KL per dim")
        self.view_tabs.addTab(self.previews.reconstruction_page, "Reconstructions")
        self.view_tabs.addTab(self.previews.samples_page, "Samples")
        for title, page in self.explorer.pages:
            self.view_tabs.addTab(page, title)
        self.view_tabs.addTab(self.evaluation, "Evaluate")
        self.views_dock = self.add_dock(
            "viewsDock", "Views", self.view_tabs, Qt.DockWidgetArea.BottomDockWidgetArea
        )
        self.resize(1400, 900)
        self.resizeDocks([self.views_dock], [320], Qt.Orientation.Vertical)
        self.resizeDocks([self.explorer_dock], [300], Qt.Orientation.Horizontal)

    def add_dock(
        self, name: str, title: str, widget: QWidget, area: Qt.DockWidgetArea
    ) -> QDockWidget:
        dock = named(QDockWidget(title, self), name, title)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def exportable_views(self) -> dict[str, QWidget]:
        views = {
            "Loss curves": self.curves.plot,
            "KL per dimension": self.kl_bars.plot,
            "Reconstructions": self.previews.reconstruction_stack,
            "Samples": self.previews.samples_stack,
            "Latent map": self.explorer.map,
        }
        views.update(self.explorer.pages)
        return views

    # Running.
    @Slot()
    def train(self) -> None:
        """Train a new model with the settings shown."""
        self.starts.train()

    def resume_from(self, path: str | Path | None = None) -> bool:
        """Continue training a checkpoint: the file at `path` (read on a worker), else the one opened."""
        return self.starts.resume_from(path)

    def _on_status_changed(self, status: RunStatus) -> None:
        self.run_actions.show_status(status, self.runs.can_continue)
        self.controls.set_run_active(status.training)
        if status is RunStatus.RUNNING:
            self.statusBar().clearMessage()  # "Stopped" or "Paused" no longer holds
        if status.training:
            if not self._redraw_timer.isActive():
                self._redraw_timer.start()
        else:
            self._redraw_timer.stop()
            self.refresh_views()

    def _on_run_started(self, described: str) -> None:
        self.messages.hide_download_progress()
        self.statusBar().showMessage(f"Training on {described}", 5000)

    def _on_run_ended(self, reason: str) -> None:
        self.messages.hide_download_progress()  # the run failed while its data was downloading
        latest = self.state.run.latest
        if reason != "failed" and latest is not None:
            verb = "Finished" if reason == "finished" else "Stopped (Continue goes on)"
            self.statusBar().showMessage(f"{verb} at step {latest.step:,}", 10000)

    def _on_snapshot(self, _snapshot) -> None:
        self._curves_dirty = True

    @Slot()
    def refresh_views(self) -> None:
        """Redraw the curves and the run's figures if they changed (ten times a second at most)."""
        if self._curves_dirty or not self.state.run.status.training:
            self._curves_dirty = False
            latest = self.state.run.latest
            self.curves.refresh()
            self._show_kl()
            if latest is not None:
                self.state.shown.explorer.kl_per_dim = latest.kl_per_dim
            self.status.refresh()
        self.viewsRefreshed.emit()

    def _show_kl(self, *_) -> None:
        """KL per dimension: the run's latest snapshot's, else (an opened or followed model, no
        run behind it) the mean over the map's test examples, once they are encoded."""
        latest, encoded = self.state.run.latest, self.state.shown.explorer.encoded
        if latest is not None:
            self.kl_bars.show_kl(latest.kl_per_dim)
        else:
            self.kl_bars.show_kl(None if encoded is None else encoded.kl_per_dim)

    # The model on show: checkpoints and evaluation.
    def open_checkpoint(self, path: str | Path) -> bool:
        """Show a checkpoint's model in every view once it has loaded (training stays stopped)."""
        return self.checkpoints.open(path)

    def _on_checkpoint_opened(self, checkpoint: Checkpoint) -> None:
        self.starts.show_checkpoint_settings(checkpoint)
        model = self.state.shown.model
        self.statusBar().showMessage(
            f"Opened {model.path} (step {model.step:,}); Ctrl+R resumes training", 10000
        )

    def save_checkpoint_to(self, path: str | Path) -> bool:
        """Save the model on show (written on a worker; `checkpointSaved` or a message says how it went)."""
        return self.checkpoints.save(path)

    def _described_model(self) -> str:
        shown = self.state.shown
        return (
            "the opened checkpoint"
            if shown.model.source == "checkpoint"
            else f"the model at step {shown.step:,}"
        )

    def evaluate_model_on_show(self) -> None:
        """Score the model on show on its test split (the Evaluate page)."""
        shown = self.state.shown
        if shown.model is None or shown.model.test_data is None or shown.weights is None:
            self.show_error(
                "there is no model to evaluate yet: train one, or open a checkpoint and let its data load"
            )
            return
        self.evaluation.evaluate(shown.model, self._described_model())

    def analyze_selected_input(self) -> None:
        """The amortization and approximation gaps of the input selected on the map (the Evaluate page)."""
        shown = self.state.shown
        if shown.model is None or shown.weights is None:
            self.show_error("there is no model to analyze yet: train one or open a checkpoint")
            return
        selected = selected_input(shown)  # binarised as the map's true posterior scores it
        if selected is None:
            self.show_error("select an input first: click a point on the latent map")
            return
        described = f"the selected input under {self._described_model()}"
        self.evaluation.analyze(shown.model, selected.image, selected.label, described)

    # Messages.
    def say(self, line: str) -> None:
        """A line in the status bar, for ten seconds."""
        self.statusBar().showMessage(line, 10000)

    @Slot(str)
    def show_error(self, message: str) -> None:
        """Tell the user without blocking: a status line and a non-modal message box."""
        self.messages.show_error(message)
        self.errorShown.emit(message)

    # Layout and settings.
    def set_presentation_mode(self, on: bool) -> None:
        """Full screen, larger fonts, the curves and the latent map only; keys drive the run."""
        if on:
            self.presentation.enter()
        else:
            self.presentation.leave()
        self.named_actions["presentationAction"].setChecked(self.presentation.on)
        self.named_actions["leavePresentationAction"].setEnabled(self.presentation.on)

    @property
    def presentation_mode(self) -> bool:
        return self.presentation.on

    def reset_layout(self) -> None:
        self.set_presentation_mode(False)
        for dock, area in (
            (self.controls_dock, Qt.DockWidgetArea.LeftDockWidgetArea),
            (self.explorer_dock, Qt.DockWidgetArea.RightDockWidgetArea),
            (self.views_dock, Qt.DockWidgetArea.BottomDockWidgetArea),
        ):
            dock.setFloating(False)
            self.addDockWidget(area, dock)
            dock.show()
        self.run_actions.toolbar.show()

    def _restore_settings(self) -> None:
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        state = self.settings.value("window/state")
        if isinstance(state, QByteArray):
            self.restoreState(state, WINDOW_STATE_VERSION)
        config = last_config(self.settings)
        if config is not None:
            self.controls.apply_config(config)

    def _store_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState(WINDOW_STATE_VERSION))
        try:
            store_config(self.settings, self.controls.config())
        except VaeStudioError:
            pass  # half-typed settings are not worth keeping; the last run's stay
        self.settings.sync()

    def dragEnterEvent(self, event) -> None:
        self.files.drag_enter(event)

    def dropEvent(self, event) -> None:
        self.files.drop(event)

    def closeEvent(self, event) -> None:
        self.set_presentation_mode(False)
        self.seed.lessons.leave()  # the user's settings and ticks are kept, not the lesson's
        self._store_settings()
        self._redraw_timer.stop()
        self.explorer.encoding.stop()
        if not self.model_jobs.shutdown(timeout_s=1.0):
            print("vae-studio: the model's jobs did not stop within a second", file=sys.stderr)
        if not self.runs.shutdown(timeout_s=1.0):
            print("vae-studio: the training thread did not stop within a second", file=sys.stderr)
        wait_for_jobs(timeout_s=1.0)
        super().closeEvent(event)


def run_app(argv: list[str]) -> int:
    """Open the window (a .safetensors path among the arguments is opened in it) and run Qt."""
    application = QApplication.instance() or QApplication([sys.argv[0], *argv])
    application.setApplicationName("VAE Studio")
    application.setOrganizationName("VAE Studio")
    window = MainWindow()
    window.show()
    for argument in argv:
        if argument.endswith(".safetensors"):
            window.open_checkpoint(argument)
            break
    return application.exec()
