"""The main window: settings on the left, the latent map in the centre, the explorer's side
panel on the right and the views in tabs below; training runs on a worker thread (app.session).

Per snapshot the GUI thread only appends numbers and keeps a reference to the weights; a timer
redraws at most ten times a second, and reconstructions and samples at most twice.
"""

from __future__ import annotations

import copy
import math
import sys
import time
from concurrent.futures import CancelledError
from functools import partial
from pathlib import Path

import numpy as np
import torch
from PySide6.QtCore import QByteArray, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QFont, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QProgressDialog,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from app.controls import ControlPanel
from app.evaluation_page import EvaluationPage
from app.explorer import LatentExplorer
from app.explorer.data_space import DataSpaceView
from app.explorer.image_widgets import ImageGrid
from app.history import MetricsTable
from app.naming import named
from app.plots import CurvesView, KlBarsView
from app.previews import PreviewModel
from app.session import RunState, TrainingSession
from app.settings import last_config, open_settings, store_config
from vae_core.checkpoint import Checkpoint, load_checkpoint, load_model, save_checkpoint
from vae_core.config import RunConfig
from vae_core.data import ImageDataset
from vae_core.errors import VaeStudioError
from vae_core.models import LatentModel, build_model
from vae_core.training.trainer import Trainer, TrainingSnapshot

REDRAW_INTERVAL_MS = 100
PREVIEW_INTERVAL_S = 0.5
PRESENTATION_FONT_SCALE = 1.6
# Bumped when the docks change, so an old saved layout is not forced onto new docks.
WINDOW_STATE_VERSION = 1
CHECKPOINT_FILTER = "VAE Studio checkpoints (*.safetensors)"
PRESENTATION_HINT = "Space pause · N step · [ ] β · Ctrl+Return train · Ctrl+. stop · Esc leave"
_PAUSE_TEXT = {RunState.PAUSED: "Resume", RunState.PAUSING: "Pausing…"}


class MainWindow(QMainWindow):
    errorShown = Signal(str)  # every message shown to the user about a problem
    viewsRefreshed = Signal()  # after each throttled redraw
    _checkpointDataReady = Signal(int, object)  # request number, Future of a DataSplit
    _dataLoaded = Signal(str, str)  # a chosen data set finished loading: its name, "" or the error line

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        named(self, "MainWindow", "VAE Studio")
        self.setWindowTitle("VAE Studio")
        self.settings = open_settings()
        self.session = TrainingSession(self)
        self.metrics = MetricsTable()
        self.opened_checkpoint: Checkpoint | None = None
        self.preview: PreviewModel | None = None
        self.test_data: ImageDataset | None = None  # of the model on show, for the Evaluate page
        self._latest: TrainingSnapshot | None = None
        self._curves_dirty = False
        self._preview_weights = None
        self._last_preview_time = -math.inf
        self._checkpoint_data_request = 0
        self._presentation_restore: dict | None = None
        self._error_box: QMessageBox | None = None
        self.download_dialog: QProgressDialog | None = None

        self.controls = ControlPanel()
        self.curves = CurvesView()
        self.kl_bars = KlBarsView()
        self.reconstructions = named(ImageGrid(), "reconstructionView", "Reconstructions")
        self.reconstructions.set_placeholder("Inputs and their reconstructions appear here while a model trains")
        self.samples = named(ImageGrid(), "samplesView", "Samples from the prior")
        self.samples.set_placeholder("Samples from the prior appear here while a model trains")
        # 2-D point data are previewed as points in data space, not as 2x1 pictures.
        self.reconstruction_points = DataSpaceView(
            "reconstructionPointsPlot", "Inputs (coloured) joined to their reconstructions (grey)"
        )
        self.sample_points = DataSpaceView("samplePointsPlot", "Test data (coloured) and decoded prior draws (grey)")
        self.reconstruction_stack = self._stacked(self.reconstructions, self.reconstruction_points)
        self.samples_stack = self._stacked(self.samples, self.sample_points)
        self.explorer = LatentExplorer(self)
        self.evaluation = EvaluationPage()

        self._build_docks()
        self._build_actions()
        self._build_toolbar()
        self._build_menus()
        self._build_status_bar()

        self._redraw_timer = QTimer(self)
        self._redraw_timer.setInterval(REDRAW_INTERVAL_MS)
        self._redraw_timer.timeout.connect(self.refresh_views)

        self.session.stateChanged.connect(self._on_state_changed)
        self.session.runStarted.connect(self._on_run_started)
        self.session.snapshotReady.connect(self._on_snapshot)
        self.session.runEnded.connect(self._on_run_ended)
        self.session.errorOccurred.connect(self.show_error)
        self.session.checkpointSaved.connect(self._on_checkpoint_saved)
        self.session.dataProgress.connect(self._show_download_progress)
        self.controls.betaChanged.connect(self.session.set_beta)
        self.controls.learningRateChanged.connect(self.session.set_learning_rate)
        self.controls.dataChanged.connect(self._preload_data)
        self.explorer.deadCodeResetRequested.connect(self.session.reset_codes)
        self.evaluation.evaluateRequested.connect(self.evaluate_model_on_show)
        self.evaluation.analysisRequested.connect(self.analyze_selected_input)
        self._checkpointDataReady.connect(self._on_checkpoint_data)
        self._dataLoaded.connect(self._on_data_loaded)
        application = QApplication.instance()
        if application is not None:
            application.aboutToQuit.connect(self.session.shutdown)

        self.setAcceptDrops(True)
        self._restore_settings()
        self._on_state_changed(RunState.IDLE)
        # Once the event loop runs: whoever built the window may still change its settings.
        QTimer.singleShot(0, self, self._preload_data)

    # Building.
    def _build_docks(self) -> None:
        self.setCentralWidget(self.explorer.map_widget)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks)
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)

        scroller = QScrollArea()
        scroller.setWidgetResizable(True)
        scroller.setWidget(self.controls)
        scroller.setMinimumWidth(self.controls.sizeHint().width() + 24)
        self.controls_dock = self._dock("controlsDock", "Settings", scroller, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.explorer_dock = self._dock(
            "explorerDock", "Explorer", self.explorer.side_panel, Qt.DockWidgetArea.RightDockWidgetArea
        )

        self.view_tabs = named(QTabWidget(), "viewTabs", "Views")
        self.view_tabs.setDocumentMode(True)
        self.view_tabs.addTab(self.curves, "Curves")
        self.view_tabs.addTab(self.kl_bars, "KL per dim")
        self.view_tabs.addTab(self._captioned(self.reconstruction_stack, "Each input beside its reconstruction"), "Reconstructions")
        self.view_tabs.addTab(self._captioned(self.samples_stack, "Decoded draws z ~ p(z), the same draws at every refresh"), "Samples")
        for title, page in self.explorer.pages:
            self.view_tabs.addTab(page, title)
        self.view_tabs.addTab(self.evaluation, "Evaluate")
        self.views_dock = self._dock("viewsDock", "Views", self.view_tabs, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.resize(1400, 900)
        self.resizeDocks([self.views_dock], [320], Qt.Orientation.Vertical)
        self.resizeDocks([self.explorer_dock], [300], Qt.Orientation.Horizontal)

    def _dock(self, name: str, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = named(QDockWidget(title, self), name, title)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    @staticmethod
    def _stacked(*widgets: QWidget) -> QStackedWidget:
        stack = QStackedWidget()
        for widget in widgets:
            stack.addWidget(widget)
        return stack

    @staticmethod
    def _captioned(widget: QWidget, caption: str) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(4, 4, 4, 4)
        label = QLabel(caption)
        label.setStyleSheet("color: gray")
        layout.addWidget(label)
        layout.addWidget(widget, 1)
        return page

    def _action(self, name: str, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        action.setObjectName(name)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        # Added to the window itself too, so shortcuts work with the menu bar hidden.
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        key = QKeySequence.StandardKey
        self.open_action = self._action("openAction", "&Open Checkpoint…", self._ask_open, key.Open)
        self.save_action = self._action("saveAction", "&Save Checkpoint…", self._ask_save, key.Save)
        self.resume_action = self._action(
            "resumeAction", "&Resume Training", self._ask_resume, "Ctrl+R",
            "Continue training the opened checkpoint, or one you pick",
        )  # fmt: skip
        self.export_csv_action = self._action("exportCsvAction", "Export &Metrics CSV…", self._ask_export_csv, "Ctrl+E")
        self.quit_action = self._action("quitAction", "&Quit", self.close, key.Quit)
        self.train_action = self._action("trainAction", "&Train", self.train, "Ctrl+Return", "Train a new model")
        self.pause_action = self._action("pauseAction", "&Pause / Resume", self.session.toggle_pause, "Space")
        self.step_action = self._action("stepAction", "&Step", self.session.step, "N", "Train one logging interval")
        self.stop_action = self._action("stopAction", "St&op", self.session.stop, "Ctrl+.")
        self.beta_up_action = self._action("betaUpAction", "β Up", self._beta_up, "]", "β × 1.26 (a tenth of a decade)")
        self.beta_down_action = self._action("betaDownAction", "β Down", self._beta_down, "[", "β ÷ 1.26")
        self.presentation_action = self._action(
            "presentationAction", "&Presentation Mode", self.set_presentation_mode, "F11",
            "Full screen, large fonts, the curves and the latent map only",
        )  # fmt: skip
        self.presentation_action.setCheckable(True)
        self.leave_presentation_action = self._action(
            "leavePresentationAction", "Leave Presentation Mode", self._leave_presentation, "Esc"
        )
        self.leave_presentation_action.setEnabled(False)
        self.reset_layout_action = self._action("resetLayoutAction", "Reset &Layout", self._reset_layout)

    def _build_toolbar(self) -> None:
        self.run_toolbar = named(QToolBar("Run"), "runToolBar", "Run")
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.run_toolbar)
        self.train_button = self._button("trainButton", "Train", self.train, "Train a new model (Ctrl+Return)")
        self.pause_button = self._button("pauseButton", "Pause", self.session.toggle_pause, "Pause or resume (Space)")
        self.step_button = self._button("stepButton", "Step", self.session.step, "Train one logging interval (N)")
        self.stop_button = self._button("stopButton", "Stop", self.session.stop, "Stop the run (Ctrl+.)")
        for button in (self.train_button, self.pause_button, self.step_button, self.stop_button):
            self.run_toolbar.addWidget(button)
        self.train_button.setDefault(True)

    def _button(self, name: str, text: str, slot, tip: str) -> QPushButton:
        button = named(QPushButton(text), name, text)
        button.setToolTip(tip)
        # Space belongs to pause/resume, not to whichever button has the focus.
        button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        button.clicked.connect(slot)
        return button

    def _build_menus(self) -> None:
        menus = self.menuBar()
        file_menu = menus.addMenu("&File")
        file_menu.addActions([self.open_action, self.save_action, self.resume_action])
        file_menu.addSeparator()
        file_menu.addAction(self.export_csv_action)
        plots_menu = file_menu.addMenu("Export &Plot PNG")
        for title in self._exportable_views():
            plots_menu.addAction(f"{title}…").setData(title)
        plots_menu.triggered.connect(self._ask_export_plot)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        run_menu = menus.addMenu("&Run")
        run_menu.addActions([self.train_action, self.pause_action, self.step_action, self.stop_action])
        run_menu.addSeparator()
        run_menu.addActions([self.beta_up_action, self.beta_down_action])
        view_menu = menus.addMenu("&View")
        view_menu.addAction(self.presentation_action)
        view_menu.addSeparator()
        for dock in (self.controls_dock, self.explorer_dock, self.views_dock):
            view_menu.addAction(dock.toggleViewAction())
        view_menu.addAction(self.reset_layout_action)
        help_menu = menus.addMenu("&Help")
        help_menu.addAction("&About VAE Studio", self._show_about)

    def _build_status_bar(self) -> None:
        self.presentation_hint = named(QLabel(PRESENTATION_HINT), "presentationHint", "Keyboard shortcuts")
        self.statusBar().addWidget(self.presentation_hint, 1)
        self.presentation_hint.hide()
        self.state_label = self._status_label("stateLabel", "Run state", "stopping")
        self.step_label = self._status_label("stepLabel", "Step", "step 10,000,000 / 10,000,000")
        self.epoch_label = self._status_label("epochLabel", "Epoch", "epoch 10,000")
        self.epoch_progress = named(QProgressBar(), "epochProgress", "Progress through the epoch")
        self.epoch_progress.setRange(0, 100)
        self.epoch_progress.setFixedWidth(140)
        self.statusBar().addPermanentWidget(self.epoch_progress)
        self.speed_label = self._status_label("speedLabel", "Images per second", "1,000,000 img/s")
        self.device_label = self._status_label("deviceLabel", "Device", "cuda:0")
        self.model_label = self._status_label("modelLabel", "Model", "vqvae, normal prior, 256-D")
        self._show_run_figures(None)

    def _status_label(self, name: str, accessible_name: str, longest_text: str) -> QLabel:
        label = named(QLabel(), name, accessible_name)
        # Fixed to the longest text it will show: a label that changes size makes the whole
        # status bar lay out and repaint again, ten times a second.
        label.setProperty("longestText", longest_text)
        self._fit_status_label(label)
        self.statusBar().addPermanentWidget(label)
        return label

    @staticmethod
    def _fit_status_label(label: QLabel) -> None:
        label.setFixedWidth(label.fontMetrics().horizontalAdvance(label.property("longestText")) + 12)

    def _exportable_views(self) -> dict[str, QWidget]:
        views = {
            "Loss curves": self.curves.plot,
            "KL per dimension": self.kl_bars.plot,
            "Reconstructions": self.reconstruction_stack,
            "Samples": self.samples_stack,
            "Latent map": self.explorer.map_widget,
        }
        views.update(self.explorer.pages)
        return views

    # Running.
    @Slot()
    def train(self) -> None:
        """Train a new model with the settings shown."""
        try:
            config = self.controls.config()
        except VaeStudioError as error:
            self.show_error(str(error))
            return
        self._start(config, None)

    def resume_from(self, path: str | Path | None = None) -> bool:
        """Continue training a checkpoint: the file at `path`, else the one opened."""
        if self.session.active:
            self.show_error("a run is going: stop it before resuming another")
            return False
        if path is not None:
            try:
                checkpoint = load_checkpoint(path)
            except VaeStudioError as error:
                self.show_error(str(error))
                return False
            self._show_checkpoint_settings(checkpoint)
        elif self.opened_checkpoint is not None:
            checkpoint = self.opened_checkpoint
        else:
            self.show_error("open a checkpoint first, or pick one to resume")
            return False
        try:
            config = self.controls.config()
        except VaeStudioError as error:
            self.show_error(str(error))
            return False
        self._start(config, checkpoint)
        return True

    def _start(self, config: RunConfig, checkpoint: Checkpoint | None) -> None:
        store_config(self.settings, config)
        self.opened_checkpoint = None
        self._checkpoint_data_request += 1  # an opened checkpoint's data, still loading, is no longer wanted
        self.metrics.clear()
        self.curves.clear()
        self.kl_bars.show_kl(None)
        self._latest = None
        self._preview_weights = None
        # Until the new run starts, nothing is on show to evaluate: not the last run's model.
        self.preview = self.test_data = None
        self.evaluation.clear()
        self.session.start(config, checkpoint)
        self.statusBar().showMessage("Resuming the checkpoint…" if checkpoint else "Loading data and building the model…")

    @Slot(object)
    def _on_state_changed(self, state: RunState) -> None:
        idle = state is RunState.IDLE
        self.train_button.setEnabled(idle)
        self.train_action.setEnabled(idle)
        can_pause = state in (RunState.RUNNING, RunState.PAUSED)
        self.pause_button.setEnabled(can_pause)
        self.pause_action.setEnabled(can_pause)
        self.pause_button.setText(_PAUSE_TEXT.get(state, "Pause"))
        self.step_button.setEnabled(can_pause)
        self.step_action.setEnabled(can_pause)
        can_stop = not idle and state is not RunState.STOPPING
        self.stop_button.setEnabled(can_stop)
        self.stop_action.setEnabled(can_stop)
        for action in (self.open_action, self.resume_action):
            action.setEnabled(idle)
        self.controls.set_run_active(not idle)
        self.state_label.setText(state.value)
        if idle:
            self._redraw_timer.stop()
            self.refresh_views(force_previews=True)
        elif not self._redraw_timer.isActive():
            self._redraw_timer.start()

    @Slot(object, object)
    def _on_run_started(self, trainer: Trainer, split) -> None:
        self._on_data_loaded(split.train.name, "")
        model_config = trainer.config.model
        self.preview = PreviewModel(build_model(model_config), split.test)
        self.test_data = split.test
        self.explorer.set_model(build_model(model_config))
        self.explorer.set_data(split.test)
        self.device_label.setText(str(trainer.device))
        self._show_model(trainer.config)
        self.statusBar().showMessage(f"Training on {split.train.describe()}", 5000)

    @Slot(int, int)
    def _show_download_progress(self, done: int, total: int) -> None:
        expected = f" of {total / 1e6:.1f} MB" if total else ""
        text = f"Downloading data: {done / 1e6:.1f} MB{expected}"
        self.statusBar().showMessage(text, 5000)
        if self.download_dialog is None:
            # Non-modal: the window stays usable while the files arrive. No cancel button: the
            # download runs on the data thread, which cannot be interrupted mid-file.
            self.download_dialog = named(QProgressDialog(self), "downloadDialog", "Download progress")
            self.download_dialog.setWindowTitle("Downloading data")
            self.download_dialog.setCancelButton(None)
            self.download_dialog.setAutoClose(False)
            self.download_dialog.setAutoReset(False)
            self.download_dialog.setWindowModality(Qt.WindowModality.NonModal)
        dialog = self.download_dialog
        dialog.setLabelText(f"{self.controls.data_config().dataset}: {done / 1e6:.1f} MB{expected}")
        dialog.setRange(0, 100 if total else 0)
        dialog.setValue(100 * done // total if total else 0)
        dialog.show()

    def _data_load_done(self, dataset: str, future) -> None:
        """On the loading thread: carry the outcome to the GUI thread."""
        try:
            future.result()
        except CancelledError:
            return  # the window is closing
        except VaeStudioError as error:
            self._dataLoaded.emit(dataset, str(error))
            return
        except Exception as error:  # an unforeseen failure still reaches the window as a message
            self._dataLoaded.emit(dataset, f"{type(error).__name__}: {error}")
            return
        self._dataLoaded.emit(dataset, "")

    @Slot(str, str)
    def _on_data_loaded(self, dataset: str, error: str) -> None:
        if self.download_dialog is not None:
            self.download_dialog.hide()
        # A run that was waiting for this data reports the failure itself.
        if error and self.session.state is not RunState.STARTING:
            self.show_error(f"the data did not load: {error}")

    @Slot(object)
    def _on_snapshot(self, snapshot: TrainingSnapshot) -> None:
        self._latest = snapshot
        self.metrics.append(snapshot)
        self.curves.add(snapshot)
        self._curves_dirty = True
        if snapshot.model_state is not None:
            self._preview_weights = snapshot.model_state
            self.explorer.load_weights(snapshot.model_state, snapshot.step)

    def _beta_up(self) -> None:
        self.controls.scale_beta(0.1)

    def _beta_down(self) -> None:
        self.controls.scale_beta(-0.1)

    @Slot(str)
    def _on_run_ended(self, reason: str) -> None:
        if self.download_dialog is not None:
            self.download_dialog.hide()  # the run failed while its data was downloading
        trainer = self.session.trainer
        if trainer is None or reason == "failed":
            return
        verb = "Finished" if reason == "finished" else "Stopped"
        self.statusBar().showMessage(f"{verb} at step {trainer.step:,}", 10000)

    @Slot()
    def refresh_views(self, force_previews: bool = False) -> None:
        """Redraw what changed since the last redraw (the timer calls this ten times a second)."""
        if self._curves_dirty:
            self._curves_dirty = False
            self.curves.refresh()
            self.kl_bars.show_kl(self._latest.kl_per_dim)
            self.explorer.set_kl_per_dim(self._latest.kl_per_dim)
            self._show_run_figures(self._latest)
        now = time.perf_counter()
        if self._preview_weights is not None and (force_previews or now - self._last_preview_time >= PREVIEW_INTERVAL_S):
            self._last_preview_time = now
            weights, self._preview_weights = self._preview_weights, None
            self._render_previews(weights)
        self.viewsRefreshed.emit()

    def _render_previews(self, weights) -> None:
        if self.preview is None:
            return
        try:
            self.preview.load_weights(weights)
            if self.preview.planar:
                self._render_point_previews()
                return
            self.reconstruction_stack.setCurrentWidget(self.reconstructions)
            self.samples_stack.setCurrentWidget(self.samples)
            self.reconstructions.set_images(self.preview.reconstruction_pairs(), columns=4)
            self.samples.set_images(self.preview.samples(), columns=8)
        except VaeStudioError as error:
            self.samples.set_images(None, columns=1)
            self.samples.set_placeholder(str(error))

    def _render_point_previews(self) -> None:
        preview = self.preview
        inputs, outputs = preview.reconstruction_points()
        labels = preview.labels.numpy()
        self.reconstruction_stack.setCurrentWidget(self.reconstruction_points)
        self.reconstruction_points.set_data(inputs, labels, preview.class_names)
        self.reconstruction_points.set_samples(outputs)
        self.reconstruction_points.set_mesh(np.stack([inputs, outputs], axis=1))
        self.samples_stack.setCurrentWidget(self.sample_points)
        self.sample_points.set_data(inputs, labels, preview.class_names)
        self.sample_points.set_samples(preview.sample_points())

    def _show_run_figures(self, snapshot: TrainingSnapshot | None) -> None:
        if snapshot is None:
            for label in (self.step_label, self.epoch_label, self.speed_label):
                label.setText("")
            self.epoch_progress.setValue(0)
            return
        self.step_label.setText(f"step {snapshot.step:,} / {snapshot.total_steps:,}")
        self.epoch_label.setText(f"epoch {snapshot.epoch + 1}")
        self.epoch_progress.setValue(round(100 * snapshot.epoch_progress))
        self.speed_label.setText(f"{snapshot.images_per_s:,.0f} img/s")

    def _show_model(self, config: RunConfig) -> None:
        model = config.model
        self.model_label.setText(f"{model.family}, {model.prior} prior, {model.latent_dim}-D")

    # Checkpoints and files.
    def open_checkpoint(self, path: str | Path) -> bool:
        """Show a checkpoint's model in every view (training stays stopped)."""
        if self.session.active:
            self.show_error("a run is going: stop it before opening a checkpoint")
            return False
        try:
            model, checkpoint = load_model(path)
        except VaeStudioError as error:
            self.show_error(str(error))
            return False
        self.session.forget()
        self.opened_checkpoint = checkpoint
        self._show_checkpoint_settings(checkpoint)
        self.metrics.clear()
        self.curves.clear()
        self.kl_bars.show_kl(None)
        self._latest = None
        self._show_run_figures(None)
        self._show_model(checkpoint.config)
        self.device_label.setText("cpu")
        preview_model = copy.deepcopy(model)
        self.explorer.set_model(model)
        self.preview = None
        self.test_data = None
        self.evaluation.clear()
        self._checkpoint_data_request += 1
        request = self._checkpoint_data_request
        future = self.session.data.request(checkpoint.config.data)
        # The callback runs on the loading thread: the signal carries the result to this one.
        future.add_done_callback(lambda done: self._checkpointDataReady.emit(request, (preview_model, done)))
        step = int(checkpoint.counters["step"]) if "step" in checkpoint.counters else 0
        self.statusBar().showMessage(f"Opened {path} (step {step:,}); Ctrl+R resumes training", 10000)
        return True

    @Slot(int, object)
    def _on_checkpoint_data(self, request: int, payload) -> None:
        if request != self._checkpoint_data_request:
            return
        preview_model, future = payload
        try:
            split = future.result()
        except CancelledError:
            return  # the window is closing
        except Exception as error:  # VaeStudioError, or anything unforeseen: a message either way
            self.show_error(f"the checkpoint opened, but its data did not load: {error}")
            return
        self.explorer.set_data(split.test)
        self.preview = PreviewModel(preview_model, split.test)
        self.test_data = split.test
        self._render_previews(preview_model.state_dict())

    def _show_checkpoint_settings(self, checkpoint: Checkpoint) -> None:
        self.controls.apply_config(checkpoint.config)
        if "beta_base" in checkpoint.counters:
            self.controls.set_beta(float(checkpoint.counters["beta_base"]))

    def _model_on_show(self) -> tuple[LatentModel, str]:
        """A copy of the model on show, for work off the GUI thread, and words for it; training
        may go on meanwhile (the preview's model takes new weights as it does)."""
        model = copy.deepcopy(self.preview.model)
        if self._latest is None:
            return model, "the opened checkpoint"
        model.load_state_dict(self._latest.model_state)  # the newest weights, not the last previewed
        return model, f"the model at step {self._latest.step:,}"

    def evaluate_model_on_show(self) -> None:
        """Score the model on show on its test split (the Evaluate page)."""
        if self.preview is None or self.test_data is None:
            self.show_error("there is no model to evaluate yet: train one, or open a checkpoint and let its data load")
            return
        model, described = self._model_on_show()
        self.evaluation.evaluate(model, self.test_data, described)

    def analyze_selected_input(self) -> None:
        """The amortization and approximation gaps of the input selected on the map (the Evaluate page)."""
        if self.preview is None:
            self.show_error("there is no model to analyze yet: train one or open a checkpoint")
            return
        explorer = self.explorer
        if explorer.selected is None or explorer.data is None:
            self.show_error("select an input first: click a point on the latent map")
            return
        images, labels = explorer.data.batch(torch.tensor([explorer.selected]))
        model, described = self._model_on_show()
        label = int(labels[0]) if model.conditional else None
        self.evaluation.analyze(model, images[0], label, f"the selected input under {described}")

    def save_checkpoint_to(self, path: str | Path) -> bool:
        """Save the model on show: the run's (at its next snapshot while it trains) or the opened one."""
        try:
            if self.session.trainer is not None:
                self.session.save(path)
            elif self.opened_checkpoint is not None:
                checkpoint = self.opened_checkpoint
                save_checkpoint(path, checkpoint.config, checkpoint.model_state, checkpoint.optimizer_state, checkpoint.counters)
                self._on_checkpoint_saved(str(path))
            else:
                raise VaeStudioError("there is no model to save yet: train one or open a checkpoint")
        except VaeStudioError as error:
            self.show_error(str(error))
            return False
        except OSError as error:
            self.show_error(f"cannot save {path}: {error.strerror}")
            return False
        return True

    @Slot(str)
    def _on_checkpoint_saved(self, path: str) -> None:
        self.statusBar().showMessage(f"Saved {path}", 10000)

    def export_metrics(self, path: str | Path) -> bool:
        if not len(self.metrics):
            self.show_error("there are no metrics to export yet: train a model first")
            return False
        try:
            self.metrics.write_csv(path)
        except VaeStudioError as error:
            self.show_error(str(error))
            return False
        self.statusBar().showMessage(f"Exported {len(self.metrics):,} rows to {path}", 10000)
        return True

    def export_plot(self, title: str, path: str | Path) -> bool:
        """Save one view (a title of File > Export Plot PNG) as a PNG of what is on screen."""
        if not self._exportable_views()[title].grab().save(str(path), "PNG"):
            self.show_error(f"cannot write {path}")
            return False
        self.statusBar().showMessage(f"Exported {title.lower()} to {path}", 10000)
        return True

    def _last_directory(self) -> str:
        return str(self.settings.value("files/lastDirectory", str(Path.home())))

    def _remember_directory(self, path: str) -> None:
        self.settings.setValue("files/lastDirectory", str(Path(path).parent))

    def _ask_path(self, save: bool, title: str, file_filter: str, default_name: str = "") -> str | None:
        ask = QFileDialog.getSaveFileName if save else QFileDialog.getOpenFileName
        path, _ = ask(self, title, str(Path(self._last_directory()) / default_name), file_filter)
        if not path:
            return None
        self._remember_directory(path)
        return path

    def _ask_open(self) -> None:
        path = self._ask_path(False, "Open checkpoint", CHECKPOINT_FILTER)
        if path:
            self.open_checkpoint(path)

    def _ask_save(self) -> None:
        path = self._ask_path(True, "Save checkpoint", CHECKPOINT_FILTER, "checkpoint.safetensors")
        if path:
            self.save_checkpoint_to(path)

    def _ask_resume(self) -> None:
        if self.opened_checkpoint is not None:
            self.resume_from()
            return
        path = self._ask_path(False, "Resume training from checkpoint", CHECKPOINT_FILTER)
        if path:
            self.resume_from(path)

    def _ask_export_csv(self) -> None:
        path = self._ask_path(True, "Export metrics", "CSV files (*.csv)", "metrics.csv")
        if path:
            self.export_metrics(path)

    @Slot(QAction)
    def _ask_export_plot(self, action: QAction) -> None:
        title = action.data()
        default_name = title.lower().replace(" ", "_") + ".png"
        path = self._ask_path(True, f"Export {title.lower()}", "PNG images (*.png)", default_name)
        if path:
            self.export_plot(title, path)

    @staticmethod
    def _dropped_checkpoint(event) -> str | None:
        for url in event.mimeData().urls():
            if url.isLocalFile() and url.toLocalFile().endswith(".safetensors"):
                return url.toLocalFile()
        return None

    def dragEnterEvent(self, event) -> None:
        if self._dropped_checkpoint(event):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        path = self._dropped_checkpoint(event)
        if path:
            event.acceptProposedAction()
            self.open_checkpoint(path)

    # Messages.
    @Slot(str)
    def show_error(self, message: str) -> None:
        """Tell the user without blocking: a status line and a non-modal message box."""
        self.statusBar().showMessage(message, 15000)
        if self._error_box is None:
            self._error_box = QMessageBox(QMessageBox.Icon.Warning, "VAE Studio", "", QMessageBox.StandardButton.Ok, self)
            named(self._error_box, "errorMessage", "Error message")
            self._error_box.setWindowModality(Qt.WindowModality.NonModal)
        self._error_box.setText(message)
        self._error_box.show()
        self.errorShown.emit(message)

    def _show_about(self) -> None:
        QMessageBox.about(
            self,
            "About VAE Studio",
            "VAE Studio trains and explores variational autoencoders.\n"
            "Press Train, watch the curves and the latent map; F11 presents.",
        )

    # Layout, presentation, settings.
    def set_presentation_mode(self, on: bool) -> None:
        """Full screen, larger fonts, the curves and the latent map only; keys drive the run."""
        on = bool(on)
        if on == (self._presentation_restore is not None):
            return
        if on:
            self._presentation_restore = {
                "state": self.saveState(WINDOW_STATE_VERSION),
                "geometry": self.saveGeometry(),
                "tab": self.view_tabs.currentIndex(),
                "font": QFont(self.font()),
            }
            for widget in (
                self.controls_dock, self.explorer_dock, self.run_toolbar, self.menuBar(),
                self.state_label, self.device_label, self.model_label,
            ):  # fmt: skip
                widget.hide()
            self.views_dock.show()
            self.views_dock.setTitleBarWidget(QWidget())
            self.view_tabs.setCurrentWidget(self.curves)
            self.view_tabs.tabBar().hide()
            font = QFont(self.font())
            font.setPointSizeF(font.pointSizeF() * PRESENTATION_FONT_SCALE)
            self.setFont(font)
            self.curves.set_font_size(round(font.pointSizeF()))
            self._fit_status_labels()
            self.statusBar().clearMessage()
            self.presentation_hint.show()
            self.showFullScreen()
        else:
            restore, self._presentation_restore = self._presentation_restore, None
            self.showNormal()
            self.setFont(restore["font"])
            self.curves.set_font_size(round(restore["font"].pointSizeF()))
            self._fit_status_labels()
            self.views_dock.setTitleBarWidget(None)
            for widget in (self.menuBar(), self.state_label, self.device_label, self.model_label):
                widget.show()
            self.view_tabs.tabBar().show()
            self.view_tabs.setCurrentIndex(restore["tab"])
            self.restoreGeometry(restore["geometry"])
            self.restoreState(restore["state"], WINDOW_STATE_VERSION)
            self.presentation_hint.hide()
        self.presentation_action.setChecked(on)
        self.leave_presentation_action.setEnabled(on)

    def _fit_status_labels(self) -> None:
        for label in (self.state_label, self.step_label, self.epoch_label, self.speed_label, self.device_label, self.model_label):
            self._fit_status_label(label)

    def _leave_presentation(self) -> None:
        self.set_presentation_mode(False)

    @property
    def presentation_mode(self) -> bool:
        return self._presentation_restore is not None

    def _reset_layout(self) -> None:
        self.set_presentation_mode(False)
        for dock, area in (
            (self.controls_dock, Qt.DockWidgetArea.LeftDockWidgetArea),
            (self.explorer_dock, Qt.DockWidgetArea.RightDockWidgetArea),
            (self.views_dock, Qt.DockWidgetArea.BottomDockWidgetArea),
        ):
            dock.setFloating(False)
            self.addDockWidget(area, dock)
            dock.show()
        self.run_toolbar.show()

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

    def _preload_data(self) -> None:
        """Start loading the chosen data set now, so that Train finds it ready."""
        if not self.isVisible():
            return  # closed already, or never shown: Train loads what it needs
        config = self.controls.data_config()
        self.session.data.request(config).add_done_callback(partial(self._data_load_done, config.dataset))

    def closeEvent(self, event) -> None:
        self.set_presentation_mode(False)
        self._store_settings()
        self._redraw_timer.stop()
        if not self.evaluation.shutdown(timeout_s=1.0):
            print("vae-studio: the evaluation thread did not stop within a second", file=sys.stderr)
        if not self.session.shutdown(timeout_s=1.0):
            print("vae-studio: the training thread did not stop within a second", file=sys.stderr)
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
